#pragma once

#include "common/jobcontext.h"
#include "data/dataset.h"
#include "tokenizer/prompttemplate.h"
#include "train/sftdata.h"
#include "train/trainingprogress.h"
#include "train/synthetictask.h"
#include "train/trainingoptions.h"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace plad {

/**
 * Everything `plad sft --config FILE.json` reads. Every field except output, tokenizer, the
 * data file and the model source has a default; docs/sft-config.md documents them. Relative
 * paths are resolved against the config file's directory.
 */
struct SftJobConfig
{
    std::filesystem::path output;
    std::filesystem::path tokenizer;
    std::filesystem::path modelFrom;            ///< fine-tune this Hugging Face directory...
    std::optional<ScratchModelSpec> scratch;    ///< ...or train this shape from scratch
    std::filesystem::path dataFile;
    ImportOptions import;
    PromptTemplate promptTemplate;
    SplitOptions split;
    EncodingLimits limits;                      ///< contextLength 0 = the model's context
    TrainingOptions train;
    /** "response": cross-entropy on the response tokens (SFT); "all_tokens": on every token after
     *  the first (language-model pre-training on the task's text: prompt, template and response). */
    std::string objective = "response";
    /** train.stop_after: stop after this many steps of the train.max_steps schedule (0: at max_steps). */
    int64_t stopAfter = 0;
    std::string device = "cpu";
    nlohmann::json raw;                         ///< the document as given, stored with the run

    /** Parses and validates; errors name the field ("data.split.validation: ..."). */
    static SftJobConfig fromJson(const nlohmann::json &doc, const std::filesystem::path &baseDirectory);
    static SftJobConfig load(const std::filesystem::path &file);
};

struct SftJobResult
{
    TrainingResult training;
    std::filesystem::path modelDirectory; ///< final model + tokenizer, Hugging Face layout
    int64_t trainExamples = 0, validationExamples = 0, testExamples = 0;
    int64_t truncatedPrompts = 0, truncatedResponses = 0;
};

/**
 * Imports the data, splits it, builds or loads the model, trains, and writes the final model
 * with its tokenizer to output/model. With `resume`, continues from output/checkpoint.
 * `log` receives human-readable progress lines.
 */
SftJobResult runSftJob(const SftJobConfig &config, bool resume, JobContext *context = nullptr,
                       const std::function<void(const TrainingPoint &)> &onPoint = {},
                       const std::function<void(const std::string &)> &log = {});

} // namespace plad
