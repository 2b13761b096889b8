#pragma once

// `plad eval` as one call the command line and the workbench share: models named as a user
// names them (directories, run ids, "initial", "teacher", "reference"), compared on the same
// prompts, every prompt's outputs and verdict kept, the result stored with the evaluated run.

#include "common/jobcontext.h"
#include "data/dataset.h"
#include "eval/comparison.h"
#include "eval/generationeval.h"
#include "eval/llmjudge.h"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plad {

struct ModelEvaluationRequest
{
    /**
     * The model evaluated first, then the ones it is compared with, head to head. A name is a
     * model directory, a run id of `workspace` (its trained student), or, when the first is a
     * run: "initial" (its student before training) and "teacher" (its local teacher); and
     * "reference" (the records' references, for an LLM judge only).
     */
    std::vector<std::string> models;
    std::filesystem::path workspace;        ///< where run ids are looked up; empty: directories only
    std::vector<DatasetRecord> records;
    std::string dataLabel;                  ///< stored as the summary's "data" (the file)
    GenerationEvalOptions options;          ///< decoding; its template is replaced per model
    std::string promptTemplate;             ///< as `plad eval --template` takes it (PromptTemplate::fromOption); empty: each model's own
    std::string promptTemplateSource = "template"; ///< what errors about it call it ("--template" on the command line)
    std::filesystem::path tokenizer;        ///< for models without their own tokenizer.json
    std::optional<LlmJudgeConfig> llmJudge; ///< absent: ROUGE-L F1 against the reference decides
    bool storeWithRun = true;               ///< when the first model is a run, add the result to its evaluations
};

struct ModelEvaluation
{
    ModelComparison comparison;
    std::vector<std::string> directories; ///< each model's directory (empty for "reference")
    /**
     * One object per prompt: {"id", "prompt", "reference", "outputs": [{"name", "prediction",
     * "rougeL_f", "tokens", "finish"}], "verdicts": [{"against", "outcome" (+1 the first model
     * won, -1 it lost, 0 a tie), "scores": [first, other]}]}. Also the summary's "per_prompt".
     */
    nlohmann::json perPrompt = nlohmann::json::array();
    std::string storedRunId;              ///< the run the result was stored with; empty when none
    bool cancelled = false;               ///< stopped part way: nothing was stored
};

/**
 * Resolves the names, generates with every model on the records, judges each head-to-head
 * prompt and, unless cancelled, stores the summary (with the per-prompt rows) as the first
 * run's "generation" evaluation. Progress reports name the model ("stage" is its name, unit
 * "prompts"); cancellation is polled between batches. Errors name the model or run at fault.
 */
ModelEvaluation evaluateModels(const ModelEvaluationRequest &request, JobContext *context = nullptr);

/** The per-prompt rows of a comparison (see ModelEvaluation::perPrompt). */
nlohmann::json perPromptRows(const ModelComparison &comparison, const std::vector<std::string> &names, const std::vector<DatasetRecord> &records);

} // namespace plad
