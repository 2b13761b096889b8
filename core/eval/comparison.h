#pragma once

#include "common/jobcontext.h"
#include "data/dataset.h"
#include "eval/generationeval.h"
#include "eval/judge.h"
#include "tokenizer/prompttemplate.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plad {


/** A model to evaluate, under the name reports use ("r0003-plad", "initial", "teacher"). */
struct NamedModel
{
    std::string name;
    std::filesystem::path directory;   ///< empty: no model, the records' references themselves
    PromptTemplate promptTemplate;
    std::filesystem::path tokenizer;   ///< empty: the model directory's own
};

struct ModelComparison
{
    nlohmann::json summary;                    ///< {"prompts", "decoding", "models": [...], "head_to_head": [...]}
    std::vector<GenerationEvalResult> results; ///< per model, outputs in record order
    /** Per head-to-head (model 0 against model i, i >= 1), per record: +1 model 0 wins, -1 it loses, 0 tie. */
    std::vector<std::vector<int>> outcomes;
    /** The judge's verdicts behind `outcomes`, with its scores (ROUGE-L F1 of each, or the LLM judge's preference shares). */
    std::vector<std::vector<JudgeVerdict>> verdicts;
};

/**
 * Generates with every model on the same records and scores ROUGE against the references.
 * The first model is compared with each other one prompt by prompt: by ROUGE-L F1 against the
 * reference, or by `judge` (an LLM judge asked in both orders) when given. The summary has
 * wins, losses, ties, the win rate over decided prompts and its 95% bootstrap interval (2,000
 * resamples over prompts, seed 0). A model without a directory stands for the references
 * themselves; it can only be judged by an LLM (ROUGE-L would always prefer it).
 * `progress` receives (model name, progress).
 */
ModelComparison compareModels(const std::vector<NamedModel> &models, const std::vector<DatasetRecord> &records,
                              const GenerationEvalOptions &options, JobContext *context = nullptr,
                              const std::function<void(const std::string &, const JobProgress &)> &progress = {},
                              Judge *judge = nullptr);

} // namespace plad
