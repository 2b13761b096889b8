#pragma once

#include "common/jobcontext.h"
#include "dist/rankgroup.h"
#include "model/causallm.h"
#include "plad/runconfig.h"
#include "plad/distillstep.h"
#include "store/records.h"
#include "train/sfttrainer.h"
#include "train/trainingoptions.h"

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plad {

/** One training example of any method, as the student's token ids. */
struct DistillItem
{
    int64_t pairId = -1;              ///< the stored pair (pair methods), -1 otherwise
    std::vector<int64_t> prompt;
    std::vector<int64_t> chosen;      ///< y+ for pairs; the target sequence otherwise (reference or teacher output)
    std::vector<int64_t> rejected;    ///< y- (pair methods only)
    std::vector<int64_t> reference;   ///< the reference response (CE regulariser with ce_target "reference")
    double referenceChosen = 0;       ///< the initial student's summed log-prob of y+ (DPO's frozen reference)
    double referenceRejected = 0;
    double weight = 1;                ///< relative weight (a user's annotation)
};

/** Why DistillTrainer::train() returned; the message says what happened (non-finite losses). */
struct TrainOutcome
{
    TrainStop stop = TrainStop::Completed;
    std::string message;
};

/** What a DistillTrainer trains, on what, and where it keeps its checkpoint. */
struct DistillTrainerOptions
{
    CausalLM student;                 ///< trained in place
    CausalLM teacher;                 ///< word-kd only: the frozen local teacher (shared vocabulary)
    DistillMethod method = DistillMethod::Plad;
    LossConfig loss;
    TrainingOptions training;
    std::filesystem::path checkpointDirectory;
    /** Called at every epoch start, so annotations made during a run apply from the next epoch. */
    std::function<std::vector<DistillItem>()> loadItems;
    std::vector<DistillItem> validation; ///< targets of the validation loss
    /** Data-parallel training over the group's ranks (null: this process alone). Every rank
     *  builds the same trainer, with the same items (loadItems must give every rank the same
     *  list, e.g. rank 0's, broadcast); each takes its share of every global batch, gradients
     *  are summed over the ranks, and the optimiser steps in lockstep. Only rank 0 writes
     *  checkpoints and computes the validation loss; restore() gives every rank rank 0's. */
    std::shared_ptr<RankGroup> group;
};

/**
 * Trains the student with one of the methods (PLaD hinge or logistic with an optional CE
 * regulariser, continued SFT, SeqKD, word-level KD, DPO) with AdamW and the shared schedule.
 *
 * Items come from `loadItems`, called at the start of every epoch, so annotations made during
 * a run are honoured from the next epoch on. The order is a seeded shuffle of (seed, epoch).
 * Checkpoints (model, optimiser, step, epoch, position) go to `checkpointDirectory`; restore()
 * continues exactly from one. Runs on the calling thread.
 */
class GradientAllreduce; // dist/gradientallreduce.h

class DistillTrainer
{
public:
    explicit DistillTrainer(DistillTrainerOptions options);
    ~DistillTrainer();

    /** Restores the checkpoint when there is one; returns the step it continues from (0 without one). */
    int64_t restore();
    /**
     * Trains until step `untilStep` (at most training.maxSteps), cancellation, or a non-finite
     * loss. Checkpoints every training.checkpointEvery steps; call checkpoint() to save at any
     * other point.
     */
    TrainOutcome train(int64_t untilStep, JobContext *context, const std::function<void(const DistillStep &)> &onStep);
    void checkpoint();
    /** Ends the epoch now: the items are loaded again (a refresh round just replaced the pairs). */
    void newEpoch();
    /** Mean cross-entropy per token of the validation items' targets. */
    double validationLoss();

    /** Called after every checkpoint with its step (the run records it as an artifact). */
    void setCheckpointCallback(std::function<void(int64_t)> callback) { mOnCheckpoint = std::move(callback); }

    int64_t step() const { return mStep; }
    CausalLM model() const { return mStudent; }

private:
    struct Loss;
    Loss computeLoss(const std::vector<DistillItem> &batch);
    /** Forms the loss from its ratios (each over the whole batch's denominator on several ranks). */
    void combine(Loss &loss);
    /** This rank's rows of a global batch. */
    std::vector<DistillItem> shareOf(const std::vector<DistillItem> &batch) const;
    /** Several ranks: rank 0's checkpoint, sent to and loaded on every rank (nothing when there is none). */
    std::optional<nlohmann::json> loadSharedCheckpoint();
    void startEpoch();
    std::vector<DistillItem> nextBatch();

    CausalLM mStudent, mTeacher;
    DistillMethod mMethod;
    LossConfig mLoss;
    TrainingOptions mOptions;
    std::filesystem::path mDirectory;
    std::function<std::vector<DistillItem>()> mLoadItems;
    std::vector<DistillItem> mItems, mValidation;
    std::shared_ptr<void> mOptimizer;
    int64_t mStep = 0, mEpoch = 0, mPosition = 0;
    std::vector<size_t> mOrder;
    std::function<void(int64_t)> mOnCheckpoint;
    std::shared_ptr<RankGroup> mGroup;
    std::unique_ptr<GradientAllreduce> mSync;
    bool mStopRequested = false; // several ranks: a rank was cancelled; every rank stops at the same step
};

} // namespace plad
