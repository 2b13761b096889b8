#pragma once

// Data-parallel training's gradient exchange: the student's gradients summed over the ranks
// in buckets of about `bucketBytes`, each bucket's allreduce started (asynchronously, on
// Gloo's threads) as soon as backward has accumulated every gradient in it, so communication
// overlaps the rest of backward, as PyTorch's DistributedDataParallel does.

#include "dist/rankgroup.h"

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/types.h>

namespace plad {

class GradientAllreduce
{
public:
    /** Hooks every parameter's gradient accumulator; parameters are bucketed in reverse order (the order backward reaches them). */
    GradientAllreduce(std::shared_ptr<RankGroup> group, std::vector<torch::Tensor> parameters, int64_t bucketBytes = 25ll << 20);
    ~GradientAllreduce();
    GradientAllreduce(const GradientAllreduce &) = delete;
    GradientAllreduce &operator=(const GradientAllreduce &) = delete;

    /** The next backward exchanges the gradients (call before the last micro-batch's backward; earlier ones accumulate locally). */
    void prepare();
    /** Waits for every bucket (starting those backward did not reach: unused parameters count as zero) and writes the sums into the gradients. */
    void finish();

    int64_t buckets() const;
    /** Bytes each rank sends and receives per exchange, about 2 (N-1)/N of this for a ring allreduce. */
    int64_t bytesPerExchange() const;

private:
    struct Impl;
    std::unique_ptr<Impl> mImpl;
};

} // namespace plad
