#pragma once

#include "common/jobcontext.h"
#include "dist/rankgroup.h"
#include "plad/pairgenerationreport.h"
#include "plad/runconfig.h"
#include "store/workspace.h"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace plad {

struct DistillStep; // plad/distilltrainer.h

/** Creates a run from a validated config; the effective config (defaults filled, paths absolute) is stored with it. */
RunRecord createDistillationRun(Workspace &store, const RunConfig &config);

/** The directory of a run's checkpoint and exported model: WORKSPACE/runs/RUN_ID. */
std::filesystem::path runDirectory(const std::filesystem::path &workspace, const std::string &runId);

struct DistillRunResult
{
    std::string runId;
    RunStatus status = RunStatus::Created;
    int64_t steps = 0;
    int64_t pairs = 0;                      ///< pairs of the last round
    std::filesystem::path modelDirectory;   ///< the trained student (completed runs)
    std::string message;                    ///< what happened, for a stop other than completion
    std::vector<PairGenerationReport> generation; ///< this call's round-0 pair generation (training prompts, then held-out)
};

struct RunCallbacks
{
    std::function<void(const std::string &)> log;       ///< human-readable milestones (also stored as events)
    std::function<void(const DistillStep &)> onStep;
    bool generateOnly = false;                          ///< stop after pair generation (the run stays resumable; training runs next time)
    /** The run's processes (docs/distributed.md): executeRun() is rank 0; the others call
     *  followRun(). Null: this process alone. */
    std::shared_ptr<RankGroup> group;
};

/**
 * Executes (or continues) a run: prepare (prompts into the store), generate (pairs, resumable
 * per prompt), train (from the last checkpoint, with online refresh when configured), export
 * the student. Every stage records its status. A cancelled run saves a checkpoint and can be
 * resumed; an error marks the run failed with the message, keeps everything saved, and is
 * rethrown. Opens its own connection to the workspace database (call it on the worker thread).
 */
DistillRunResult executeRun(const std::filesystem::path &workspace, const std::string &runId, JobContext *context = nullptr,
                            const RunCallbacks &callbacks = {});

/**
 * A rank other than 0 of a run executed by several processes: receives the run and its config
 * from rank 0 (which called executeRun() with the same group), generates its share of the
 * prompts and trains its share of every batch. Never opens the workspace (it may be on another
 * machine); the result's status is rank 0's. `callbacks.log` gets this rank's own lines.
 */
DistillRunResult followRun(std::shared_ptr<RankGroup> group, JobContext *context = nullptr, const RunCallbacks &callbacks = {});

/**
 * Checks that word-level KD can run: the two tokenizers must map every id to the same token.
 * Throws Error saying where they differ and which methods still work.
 */
void checkSharedVocabulary(const std::filesystem::path &teacherModel, const std::filesystem::path &studentModel);

} // namespace plad
