#include "dist/gradientallreduce.h"

#include "common/error.h"

#include <mutex>

#include <torch/torch.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

namespace plad {

struct GradientAllreduce::Impl
{
    struct Bucket
    {
        std::vector<size_t> parameters; // indices into Impl::parameters
        size_t pending = 0;             // gradients backward has not accumulated yet this exchange
        torch::Tensor flat;             // the bucket's gradients, concatenated, being summed
        c10::intrusive_ptr<c10d::Work> work;
    };

    std::shared_ptr<RankGroup> group;
    std::vector<torch::Tensor> parameters;
    std::vector<size_t> bucketOf;   // parameter -> bucket
    std::vector<Bucket> buckets;
    std::vector<std::shared_ptr<torch::autograd::Node>> accumulators; // kept alive: the hooks live on them
    std::vector<uintptr_t> hookKeys;
    std::mutex mutex;               // backward may run hooks on more than one thread
    bool armed = false;             // this backward exchanges
    size_t nextLaunch = 0;          // buckets start in index order on every rank, as c10d matches collectives by order
    int64_t bytes = 0;

    void launch(Bucket &b)
    {
        std::vector<torch::Tensor> pieces;
        for (const size_t i : b.parameters) {
            const auto &p = parameters[i];
            const auto &g = p.grad();
            pieces.push_back(g.defined() ? g.detach().reshape({-1}) : torch::zeros({p.numel()}, p.options()));
        }
        b.flat = torch::cat(pieces); // [sum of numel]
        std::vector<at::Tensor> one{b.flat};
        c10d::AllreduceOptions options;
        options.reduceOp = c10d::ReduceOp::SUM;
        try {
            b.work = group->processGroup()->allreduce(one, options);
        } catch (const std::exception &e) {
            throw Error(group->describeFailure("the gradient allreduce") + ": " + e.what());
        }
    }

    void ready(size_t parameter)
    {
        std::lock_guard lock(mutex);
        if (!armed)
            return;
        Bucket &b = buckets[bucketOf[parameter]];
        if (b.pending > 0)
            --b.pending;
        while (nextLaunch < buckets.size() && buckets[nextLaunch].pending == 0)
            launch(buckets[nextLaunch++]);
    }
};

GradientAllreduce::GradientAllreduce(std::shared_ptr<RankGroup> group, std::vector<torch::Tensor> parameters, int64_t bucketBytes)
    : mImpl(std::make_unique<Impl>())
{
    mImpl->group = std::move(group);
    mImpl->parameters = std::move(parameters);
    if (!mImpl->group->isDistributed())
        return;
    const size_t n = mImpl->parameters.size();
    mImpl->bucketOf.resize(n);
    int64_t filled = 0;
    for (size_t k = 0; k < n; ++k) {
        const size_t i = n - 1 - k; // backward reaches the last layers first
        const auto &p = mImpl->parameters[i];
        const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
        const bool fresh = mImpl->buckets.empty() || filled + size > bucketBytes
                           || mImpl->parameters[mImpl->buckets.back().parameters.front()].scalar_type() != p.scalar_type();
        if (fresh) {
            mImpl->buckets.emplace_back();
            filled = 0;
        }
        mImpl->buckets.back().parameters.push_back(i);
        mImpl->bucketOf[i] = mImpl->buckets.size() - 1;
        filled += size;
        mImpl->bytes += size;
    }
    // A post-hook on each parameter's gradient accumulator runs once per backward, after the
    // gradient is accumulated, even for a parameter used twice (tied embeddings).
    Impl *impl = mImpl.get();
    for (size_t i = 0; i < n; ++i) {
        auto accumulator = torch::autograd::impl::grad_accumulator(mImpl->parameters[i]);
        if (!accumulator)
            throw Error("data-parallel training: parameter " + std::to_string(i) + " of the student does not require gradients");
        mImpl->hookKeys.push_back(accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
            [impl, i](const torch::autograd::variable_list &outputs, const torch::autograd::variable_list &) {
                impl->ready(i);
                return outputs;
            })));
        mImpl->accumulators.push_back(std::move(accumulator));
    }
}

GradientAllreduce::~GradientAllreduce()
{
    for (size_t i = 0; i < mImpl->accumulators.size(); ++i)
        mImpl->accumulators[i]->del_post_hook(mImpl->hookKeys[i]);
    // An exchange still in flight (an error cut the step short) must end before its tensors go.
    for (auto &b : mImpl->buckets)
        if (b.work)
            try {
                b.work->wait();
            } catch (const std::exception &) {
            }
}

void GradientAllreduce::prepare()
{
    if (!mImpl->group->isDistributed())
        return;
    std::lock_guard lock(mImpl->mutex);
    mImpl->armed = true;
    mImpl->nextLaunch = 0;
    for (auto &b : mImpl->buckets) {
        b.pending = b.parameters.size();
        b.work.reset();
        b.flat = torch::Tensor();
    }
}

void GradientAllreduce::finish()
{
    if (!mImpl->group->isDistributed())
        return;
    std::lock_guard lock(mImpl->mutex);
    if (!mImpl->armed)
        throw Error("data-parallel training: finish() without prepare()");
    mImpl->armed = false;
    torch::NoGradGuard noGrad;
    while (mImpl->nextLaunch < mImpl->buckets.size())
        mImpl->launch(mImpl->buckets[mImpl->nextLaunch++]); // parameters backward did not reach count as zero
    for (auto &b : mImpl->buckets) {
        try {
            b.work->wait();
        } catch (const std::exception &e) {
            b.work.reset();
            throw Error(mImpl->group->describeFailure("the gradient allreduce") + ": " + e.what());
        }
        b.work.reset();
        int64_t offset = 0;
        for (const size_t i : b.parameters) {
            auto &p = mImpl->parameters[i];
            const int64_t count = p.numel();
            auto sum = b.flat.narrow(0, offset, count).view(p.sizes());
            if (p.grad().defined())
                p.mutable_grad().copy_(sum);
            else
                p.mutable_grad() = sum.clone();
            offset += count;
        }
        b.flat = torch::Tensor();
    }
}

int64_t GradientAllreduce::buckets() const
{
    return static_cast<int64_t>(mImpl->buckets.size());
}

int64_t GradientAllreduce::bytesPerExchange() const
{
    return mImpl->bytes;
}

} // namespace plad
