#pragma once

// The workspace store's records: plain values, free of SQLite, Torch and Qt, shared by the
// engine, the reports, the CLI and the workbench.

#include "common/enumnames.h"
#include "common/promptinput.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace plad {

/** Lifecycle of a run: created -> running -> (completed | failed | cancelled); stopped runs can resume. */
enum class RunStatus { Created, Running, Completed, Failed, Cancelled };
inline constexpr EnumName<RunStatus> runStatusNames[] = {{RunStatus::Created, "created"},     {RunStatus::Running, "running"},
                                                         {RunStatus::Completed, "completed"}, {RunStatus::Failed, "failed"},
                                                         {RunStatus::Cancelled, "cancelled"}};
std::string toString(RunStatus status);
/** Throws StoreError for an unknown name. */
RunStatus parseRunStatus(const std::string &name);

/** Who produced an output: the teacher (a y+ candidate) or the student (a y- candidate). */
enum class OutputSource { Teacher, Student };
inline constexpr EnumName<OutputSource> outputSourceNames[] = {{OutputSource::Teacher, "teacher"}, {OutputSource::Student, "student"}};
std::string toString(OutputSource source);

/** What a user decided about a pair. */
enum class AnnotationAction {
    Flip,    ///< "flip": train it the other way round
    Discard, ///< "discard": do not train on it
    Weight,  ///< "weight": scale its loss
    Note,    ///< "note": a note only
};
inline constexpr EnumName<AnnotationAction> annotationActionNames[] = {{AnnotationAction::Flip, "flip"},
                                                                       {AnnotationAction::Discard, "discard"},
                                                                       {AnnotationAction::Weight, "weight"},
                                                                       {AnnotationAction::Note, "note"}};
std::string toString(AnnotationAction action);

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
    /** When training last read the run's annotations (UTC, ISO 8601; empty: never). An annotation changed later is not used yet. */
    std::string annotationsReadAt;
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
    std::string prompt;        ///< the text (a readable transcript for a conversation)
    std::string reference;
    std::string messages;      ///< conversational prompts: the JSON list of messages; empty otherwise
    PromptInput input() const { return {prompt, messages}; }
};

/** One generated output: a teacher's (y+ candidate) or the student's (y- candidate). */
struct StoredOutput
{
    int64_t id = 0;
    std::string promptId;
    int64_t round = 0;         ///< 0 = initial generation; r = online refresh r
    OutputSource source = OutputSource::Teacher;
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
    AnnotationAction action = AnnotationAction::Note;
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

/** Which of a run's pairs a listing shows, in which order (the pair inspector's filters and sorting). */
struct PairQuery
{
    enum class Filter { All, Inverted, Hardest, JudgeDisagreements, Annotated, HeldOut };
    enum class Order { Id, Split, Prompt, InitialMargin, CurrentMargin, Loss, Labeller, Annotation };
    Filter filter = Filter::All;     ///< Inverted: margin now < 0; Hardest: the tenth with the highest loss; JudgeDisagreements: the student's output preferred
    std::string search;              ///< case-insensitive (ASCII) substring of the prompt, the reference or either output; empty: any
    Order order = Order::Id;
    bool descending = false;
};

/** A pair as a listing row: the pair, its prompt's split and first characters, who wrote the preferred side. */
struct PairSummary
{
    StoredPair pair;
    std::string split;
    std::string promptStart;         ///< the first 200 bytes of the prompt text
    OutputSource chosenSource = OutputSource::Teacher;
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

/** An evaluation result (JSON) stored with a run: calibration diagnostics, comparisons, the environment. */
struct EvaluationRecord
{
    int64_t step = 0;
    std::string name, resultJson, createdAt;
};

/** Current UTC time as ISO 8601 with milliseconds ("2026-11-28T05:12:00.123Z"). */
std::string utcNow();

} // namespace plad
