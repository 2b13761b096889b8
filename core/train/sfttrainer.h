#pragma once

// Supervised fine-tuning: next-token cross-entropy on response tokens only.

#include "common/jobcontext.h"
#include "model/causallm.h"
#include "train/sftdata.h"
#include "train/trainingoptions.h"
#include "train/trainingprogress.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace plad {

/**
 * Trains `model` with AdamW on the response tokens of `train`, evaluating on `validation`.
 *
 * `directory` receives `checkpoint/` (model in Hugging Face layout, optimiser, scheduler and
 * data position, replaced atomically) every `checkpointEvery` steps and at the end, and
 * `metrics.jsonl` (one line per step). A run resumed from its checkpoint continues exactly
 * where it stopped: the same batches and the same losses as an uninterrupted run. A NaN or
 * infinite loss stops the run before the update, keeping the last good checkpoint.
 *
 * Runs on the calling thread; `onPoint` and the context's progress callback are invoked there.
 */
class SftTrainer
{
public:
    SftTrainer(CausalLM model, std::vector<SequencePair> train, std::vector<SequencePair> validation, TrainingOptions options,
               std::filesystem::path directory);

    /**
     * Trains to options.maxSteps, or to `stopAfter` (> 0) steps of that schedule: a budgeted
     * stretch of a longer run, checkpointed so that a later call with a higher `stopAfter` (or
     * none) continues it exactly. With `resume`, first restores directory/checkpoint.
     */
    TrainingResult run(JobContext *context = nullptr, const std::function<void(const TrainingPoint &)> &onPoint = {},
                       bool resume = false, int64_t stopAfter = 0);

    /** Mean cross-entropy per response token on the validation examples (all, or evalBatches). */
    double evaluate();

    CausalLM model() const { return mModel; }
    std::filesystem::path checkpointDirectory() const { return mDirectory / "checkpoint"; }

private:
    struct Batch
    {
        std::vector<SequencePair> examples;
        int64_t responseTokens = 0;
        int64_t tokens = 0;
    };
    Batch nextBatch();
    void saveCheckpoint(int64_t step);
    int64_t loadCheckpoint();

    CausalLM mModel;
    std::vector<SequencePair> mTrain, mValidation;
    TrainingOptions mOptions;
    std::filesystem::path mDirectory;
    std::shared_ptr<void> mOptimizer; // torch::optim::AdamW, kept out of this header

    // Data position: an epoch-seeded permutation and the next index in it.
    int64_t mEpoch = 0;
    int64_t mPosition = 0;
    std::vector<int64_t> mOrder;
    void shuffle();
};

} // namespace plad
