#pragma once

// Calibration of a saved model on a labelled prompt set, for studies and reports: token-level
// ECE on the references, and from N sampled outputs per prompt the sequence-level preference
// ECE, rerank@N and Spearman's rho (eval/calibration.h). Torch-free interface.

#include "common/jobcontext.h"
#include "data/dataset.h"
#include "eval/sequencecalibration.h"
#include "model/modeltypes.h"
#include "tokenizer/prompttemplate.h"
#include "train/sftdata.h"

#include <cstdint>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

namespace plad {

struct ModelCalibrationOptions
{
    PromptTemplate promptTemplate;
    EncodingLimits limits;          ///< prompt truncation; contextLength 0 = the model's
    int64_t samples = 4;            ///< N: samples per prompt (>= 2)
    SamplingOptions sampling;       ///< how they are drawn (temperature 1, seeded, by default)
    int64_t maxNewTokens = 32;
    int bins = 10;                  ///< preference ECE bins over [0.5, 1]; token ECE uses 15
};

struct ModelCalibration
{
    double tokenEce = 0;
    double sequenceEce = 0;         ///< preference ECE of sigma(s(y1) - s(y2))
    int64_t sequencePairs = 0;      ///< sample pairs with an outcome
    double spearman = 0;
    double rerankWinRate = 0;       ///< the likeliest of N samples against the others (0.5 = likelihood carries no signal)
    double rerankRougeL = 0;        ///< mean ROUGE-L of the likeliest samples
    double sampleRougeL = 0;        ///< mean ROUGE-L of all samples
    int64_t prompts = 0;
    std::vector<SampledSequences> perPrompt; ///< the samples' scores and qualities, in the order of the records
    nlohmann::json toJson() const;
};

/** Loads the model in `directory` (its own tokenizer) and measures it on `records` (their references). */
ModelCalibration calibrateModel(const std::filesystem::path &directory, const std::vector<DatasetRecord> &records,
                                const ModelCalibrationOptions &options, JobContext *context = nullptr);

} // namespace plad
