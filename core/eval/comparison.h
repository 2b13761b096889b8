#pragma once

#include "common/jobcontext.h"
#include "data/dataset.h"
#include "eval/generationeval.h"
#include "tokenizer/prompttemplate.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** A model to evaluate, under the name reports use ("r0003-plad", "initial", "teacher"). */
struct NamedModel
{
    std::string name;
    std::filesystem::path directory;
    PromptTemplate promptTemplate;
    std::filesystem::path tokenizer;   ///< empty: the model directory's own
};

struct ModelComparison
{
    nlohmann::json summary;                    ///< {"prompts", "decoding", "models": [...], "head_to_head": [...]}
    std::vector<GenerationEvalResult> results; ///< per model, outputs in record order
};

/**
 * Generates with every model on the same records and scores ROUGE against the references;
 * the first model is compared with each other one prompt by prompt on ROUGE-L F1: wins,
 * losses, ties, the win rate over decided prompts and its 95% bootstrap interval (2,000
 * resamples over prompts, seed 0). `progress` receives (model name, progress).
 */
ModelComparison compareModels(const std::vector<NamedModel> &models, const std::vector<DatasetRecord> &records,
                              const GenerationEvalOptions &options, JobContext *context = nullptr,
                              const std::function<void(const std::string &, const JobProgress &)> &progress = {});

} // namespace plad
