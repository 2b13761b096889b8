#pragma once

#include "store/sqlitedatabase.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace plad {

/** Lifecycle of a run: created -> running -> (completed | failed | cancelled); stopped runs can resume. */
enum class RunStatus { Created, Running, Completed, Failed, Cancelled };
std::string toString(RunStatus status);
/** Throws StoreError for an unknown name. */
RunStatus parseRunStatus(const std::string &name);

/** A run as listed by `plad runs list` and the GUI's run table. */
struct RunRecord
{
    std::string id;            ///< short, unique in the workspace, e.g. "r0007-plad"
    std::string name;          ///< user-editable
    std::string method;        ///< "plad", "plad-logistic", "seqkd", "dpo", ...
    RunStatus status = RunStatus::Created;
    std::string configJson;    ///< the run configuration as given (never holds secrets)
    std::vector<std::string> tags;
    std::string createdAt;     ///< UTC, ISO 8601
    std::string updatedAt;
    std::string error;         ///< the last failure's message, empty otherwise
};

/** One value of a metric time series at an optimiser step (loss, margin, ECE, ...). */
struct MetricPoint
{
    int64_t step = 0;
    std::string name;
    double value = 0;
};

/** An entry of a run's event log. */
struct RunEvent
{
    int64_t id = 0;
    std::string time;  ///< UTC, ISO 8601 with milliseconds
    std::string level; ///< "info", "warning", "error"
    std::string message;
};

/** A task prompt of a run, with its reference and the split it belongs to. */
struct PromptRecord
{
    std::string id;
    int64_t index = 0;         ///< position in the run's prompt list (generation order)
    std::string split;         ///< "train" or "validation"
    std::string prompt;
    std::string reference;
};

/** One generated output: a teacher's (y+ candidate) or the student's (y- candidate). */
struct StoredOutput
{
    int64_t id = 0;
    std::string promptId;
    int64_t round = 0;         ///< 0 = initial generation; r = online refresh r
    std::string source;        ///< "teacher" or "student"
    int64_t sample = 0;        ///< 0..k-1 among this source's outputs for the prompt
    std::string text;
    std::vector<int64_t> tokenIds;        ///< in the student's tokenizer (what the student is trained on)
    std::vector<float> studentLogprobs;   ///< the initial student's log-prob of each token
    std::optional<std::vector<float>> teacherLogprobs; ///< the teacher's, over its own tokenization, when it is local
    double seconds = 0;        ///< generation wall time attributed to this output
    std::string finishReason;
};

/** A user's decision about one pair; honoured from the next epoch on. */
struct PairAnnotation
{
    int64_t pairId = 0;
    std::string action;        ///< "flip", "discard", "weight" or "note" (a note only)
    double weight = 1.0;       ///< relative weight of the pair's loss (action "weight")
    std::string note;
    std::string updatedAt;
};

/** A pseudo-preference pair: which output is preferred, who said so, and how the student ranks it. */
struct StoredPair
{
    int64_t id = 0;
    std::string promptId;
    int64_t round = 0;
    int64_t chosenOutput = 0, rejectedOutput = 0;
    std::string labeller;                        ///< "teacher-preferred", "judge:rouge-l", "judge:llm:MODEL"
    std::optional<double> chosenJudge, rejectedJudge; ///< judge scores when a judge labelled the pair
    double initialMargin = 0;                    ///< s(y+) - s(y-) under the initial student
    std::optional<double> currentMargin, currentLoss; ///< at the last step that trained on the pair
    std::optional<int64_t> updatedStep;
    std::optional<PairAnnotation> annotation;
};

/** What pair generation produced for one prompt, saved in one transaction. */
struct GeneratedPrompt
{
    std::string promptId;
    std::vector<StoredOutput> outputs;           ///< ids are assigned on saving
    struct Pair
    {
        size_t chosen = 0, rejected = 0;         ///< indexes into outputs, or existing output ids with `existing`
        bool chosenExisting = false, rejectedExisting = false;
        std::string labeller;
        std::optional<double> chosenJudge, rejectedJudge;
        double initialMargin = 0;
    };
    std::vector<Pair> pairs;
    int64_t dropped = 0;                         ///< candidate pairs not kept (identical, tie, below the gap)
};

/** How the training step that just finished moved one pair. */
struct PairProgress
{
    int64_t pairId = 0;
    double margin = 0;
    double loss = 0;
};

/** A stage of a run ("prepare", "generate", "train", "export") and how far it got. */
struct StageRecord
{
    std::string stage;
    std::string status;        ///< "running", "completed", "failed", "cancelled"
    std::string startedAt, updatedAt;
    std::string detail;
};

struct ArtifactRecord
{
    std::string kind;          ///< "checkpoint", "model", ...
    std::string path;
    int64_t step = 0;
    std::string createdAt;
};

/**
 * The workspace database (`WORKSPACE/plad.sqlite`): runs, their configs and status, metric
 * time series, events, and (through the engine's tables) pairs, annotations, evaluations and
 * artifacts. The schema is versioned; opening an older workspace migrates it in one
 * transaction, and a newer one is refused with a message.
 *
 * Threading: one RunStore per thread (each holds its own connection). A worker writes while
 * other connections read (WAL). Every write method commits before returning, so a killed
 * process loses nothing it returned from.
 */
class RunStore
{
public:
    static constexpr int schemaVersion = 2;
    static constexpr const char *fileName = "plad.sqlite";

    /** Opens WORKSPACE/plad.sqlite, creating the directory and database when `create` is set. */
    static RunStore open(const std::filesystem::path &workspace, bool create = true);
    /** Opens an existing workspace database for reading only (no migration, no writes). */
    static RunStore openReadOnly(const std::filesystem::path &workspace);

    const std::filesystem::path &workspace() const { return mWorkspace; }
    SqliteDatabase &database() { return *mDb; }

    /** Creates a run with a fresh id ("r0001-METHOD"), status Created. */
    RunRecord createRun(const std::string &method, const std::string &configJson, const std::string &name = {});
    std::optional<RunRecord> run(const std::string &id);
    /** Like run(), but throws StoreError naming the id and the workspace when there is none. */
    RunRecord requireRun(const std::string &id);
    /** Newest first. */
    std::vector<RunRecord> runs();
    void setStatus(const std::string &id, RunStatus status, const std::string &error = {});
    void rename(const std::string &id, const std::string &name);
    void setTags(const std::string &id, const std::vector<std::string> &tags);
    /** Deletes the run and everything recorded for it. */
    void deleteRun(const std::string &id);

    /** Appends points in one transaction; a point already stored for (step, name) is replaced. */
    void addMetrics(const std::string &runId, const std::vector<MetricPoint> &points);
    /** The series `name` in step order, optionally only after `afterStep`. */
    std::vector<MetricPoint> metrics(const std::string &runId, const std::string &name, int64_t afterStep = -1);
    /** Every metric name recorded for the run. */
    std::vector<std::string> metricNames(const std::string &runId);
    /** The highest step with any metric, or -1. */
    int64_t lastMetricStep(const std::string &runId);
    /** Removes metric points and evaluations after `step` (a resumed run trains those steps again). */
    void truncateMetrics(const std::string &runId, int64_t step);

    void addEvent(const std::string &runId, const std::string &level, const std::string &message);
    /** Events with id greater than `afterId`, oldest first. */
    std::vector<RunEvent> events(const std::string &runId, int64_t afterId = 0);

    // --- the engine's records -------------------------------------------------------------

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
    /** Pairs of `round` (all rounds when negative), oldest first, with their annotations. */
    std::vector<StoredPair> pairs(const std::string &runId, int64_t round = -1);
    /** Pairs of `round` (all when negative) whose prompt is in `split` (any when empty). */
    int64_t pairCount(const std::string &runId, int64_t round = -1, const std::string &split = {});
    /** The pair with this id in this run; throws StoreError naming both when there is none. */
    StoredPair requirePair(const std::string &runId, int64_t pairId);

    /** Sets (replaces) a pair's annotation; validates the action and weight. */
    void annotate(const std::string &runId, const PairAnnotation &annotation);
    void clearAnnotation(const std::string &runId, int64_t pairId);

    /**
     * Records one optimiser step in one transaction: its metric points and the margin and loss
     * of each pair it trained on.
     */
    void recordStep(const std::string &runId, int64_t step, const std::vector<MetricPoint> &points,
                    const std::vector<PairProgress> &pairs);

    void setStage(const std::string &runId, const std::string &stage, const std::string &status, const std::string &detail = {});
    std::vector<StageRecord> stages(const std::string &runId);
    void addArtifact(const std::string &runId, const std::string &kind, const std::string &path, int64_t step);
    std::vector<ArtifactRecord> artifacts(const std::string &runId, const std::string &kind = {});
    /** Stores an evaluation result (JSON) taken at `step`. */
    void addEvaluation(const std::string &runId, int64_t step, const std::string &name, const std::string &resultJson);
    struct EvaluationRecord
    {
        int64_t step = 0;
        std::string name, resultJson, createdAt;
    };
    /** The run's evaluations named `name` (all when empty), in step order. */
    std::vector<EvaluationRecord> evaluations(const std::string &runId, const std::string &name = {});

    /** "ok" or what PRAGMA integrity_check found. */
    std::string integrityCheck() { return mDb->integrityCheck(); }

private:
    RunStore(std::filesystem::path workspace, std::unique_ptr<SqliteDatabase> db);
    void migrate();

    std::filesystem::path mWorkspace;
    std::unique_ptr<SqliteDatabase> mDb;
};

/** Current UTC time as ISO 8601 with milliseconds ("2026-11-28T05:12:00.123Z"). */
std::string utcNow();

} // namespace plad
