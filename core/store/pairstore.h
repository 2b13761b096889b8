#pragma once

#include "store/records.h"
#include "store/sqlitedatabase.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace plad {

class RunStore;

/**
 * What pair generation and training record per prompt: a run's prompts, the teacher's and the
 * student's outputs, the pseudo-preference pairs with their annotations, and each trained
 * pair's progress. One of the three stores over a Workspace's connection; every write commits
 * before returning, and a prompt's outputs and pairs commit together.
 */
class PairStore
{
public:
    PairStore(SqliteDatabase &db, RunStore &runs);

    /** Adds prompts (a prompt already stored for the run is kept as it is). */
    void addPrompts(const std::string &runId, const std::vector<PromptRecord> &prompts);
    /** The run's prompts in index order; only `split` when it is not empty. */
    std::vector<PromptRecord> prompts(const std::string &runId, const std::string &split = {});
    /** Ids of the prompts whose outputs and pairs of `round` are saved. */
    std::vector<std::string> generatedPrompts(const std::string &runId, int64_t round);
    /**
     * Saves prompts' outputs, pairs and their "generated" marks in one transaction, so a killed
     * process keeps each prompt entirely or not at all. A prompt already generated for the
     * round is skipped (generation is idempotent per prompt).
     */
    void saveGenerated(const std::string &runId, int64_t round, const std::vector<GeneratedPrompt> &prompts);
    /** Outputs of the run, by id; only `round` when it is not negative. */
    std::vector<StoredOutput> outputs(const std::string &runId, int64_t round = -1);
    /** The run's prompts by prompt id (what pair listings, exports and the report's gallery look up). */
    std::map<std::string, PromptRecord> promptsById(const std::string &runId);
    /** The run's outputs (every round) by output id. */
    std::map<int64_t, StoredOutput> outputsById(const std::string &runId);
    /** Pairs of `round` (all rounds when negative), oldest first, with their annotations. */
    std::vector<StoredPair> list(const std::string &runId, int64_t round = -1);
    /** Pairs of `round` (all when negative) whose prompt is in `split` (any when empty). */
    int64_t pairCount(const std::string &runId, int64_t round = -1, const std::string &split = {});
    /** The pair with this id in this run; throws StoreError naming both when there is none. */
    StoredPair requirePair(const std::string &runId, int64_t pairId);
    /**
     * Ids of the run's pairs (every round) that pass `query`, in its order (ties by id): what a
     * listing pages through without reading the pairs themselves.
     */
    std::vector<int64_t> pairIds(const std::string &runId, const PairQuery &query);
    /** Listing rows of these pairs, in the order of `ids` (ids of other runs are left out). */
    std::vector<PairSummary> pairSummaries(const std::string &runId, const std::vector<int64_t> &ids);
    /** The output with this id in this run, tokens and log-probs included; throws StoreError when there is none. */
    StoredOutput requireOutput(const std::string &runId, int64_t outputId);
    /** The run's prompt with this id; throws StoreError when there is none. */
    PromptRecord requirePrompt(const std::string &runId, const std::string &promptId);

    /** Sets (replaces) a pair's annotation; validates the weight. */
    void annotate(const std::string &runId, const PairAnnotation &annotation);
    void clearAnnotation(const std::string &runId, int64_t pairId);

    /**
     * Records one optimiser step in one transaction: its metric points and the margin and loss
     * of each pair it trained on.
     */
    void recordStep(const std::string &runId, int64_t step, const std::vector<MetricPoint> &points,
                    const std::vector<PairProgress> &pairs);

private:
    SqliteDatabase &mDb;
    RunStore &mRuns;
};

} // namespace plad
