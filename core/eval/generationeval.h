#pragma once

#include "common/jobcontext.h"
#include "data/dataset.h"
#include "eval/rouge.h"
#include "model/modeltypes.h"
#include "tokenizer/prompttemplate.h"
#include "train/sftdata.h"

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

class LanguageModel;
class Tokenizer;

/** How test prompts are turned into model outputs and scored. */
struct GenerationEvalOptions
{
    PromptTemplate promptTemplate;
    EncodingLimits limits;            ///< prompt truncation policy; contextLength 0 = the model's
    int64_t maxNewTokens = 32;
    SamplingOptions sampling;         ///< greedy by default
    int64_t batchSize = 32;           ///< prompts decoded together (longest first; finished rows' slots go to waiting prompts)
    bool stem = false;                ///< ROUGE with the Porter stemmer
};

/** One prompt's output and its scores against the reference. */
struct EvaluatedOutput
{
    std::string id;
    std::string prediction;      ///< decoded new tokens without the EOS, surrounding spaces trimmed
    int64_t tokens = 0;          ///< new tokens generated, including the EOS
    FinishReason finishReason = FinishReason::Length;
    bool promptTruncated = false;
    RougeScores rouge;           ///< against the record's reference
};

struct GenerationEvalResult
{
    std::vector<EvaluatedOutput> outputs; ///< in the order of the records
    RougeScores mean;                     ///< macro average over outputs
    double meanTokens = 0;
    double meanWords = 0;
    int64_t truncatedPrompts = 0;
    int64_t endedWithoutEos = 0;           ///< rows that hit maxNewTokens
    double seconds = 0;
    bool cancelled = false;                ///< the context was cancelled; outputs holds the finished rows only
};

/**
 * Generates an output for every record's prompt with `model` and scores it with ROUGE against
 * the record's reference. Progress (unit "prompts") and cancellation go through `context`;
 * a cancelled run returns the prompts finished so far.
 */
GenerationEvalResult evaluateGeneration(LanguageModel &model, const Tokenizer &tokenizer, const std::vector<DatasetRecord> &records,
                                        const GenerationEvalOptions &options, JobContext *context = nullptr);

/**
 * The records' references as a system's outputs (ROUGE against themselves; lengths in
 * `tokenizer`'s tokens plus one for an EOS), so a model can be judged against them.
 */
GenerationEvalResult referenceOutputs(const std::vector<DatasetRecord> &records, const Tokenizer &tokenizer, bool stem = false);

/** Outcome counts of comparing two systems prompt by prompt. */
struct HeadToHead
{
    int64_t wins = 0, losses = 0, ties = 0;
    /** wins / (wins + losses): the share of decided prompts won; 0.5 (even) when none is decided. */
    double winRate() const;
};

/**
 * Compares `a` and `b` (outputs for the same records, matched by id) by ROUGE-L F1 against the
 * reference: `a` wins a prompt when its score is higher by more than `tieTolerance`.
 * Throws Error when the two do not cover the same ids.
 */
HeadToHead compareByRougeL(const GenerationEvalResult &a, const GenerationEvalResult &b, double tieTolerance = 1e-12);

nlohmann::json toJson(const RougeScores &scores);
/** Summary without the per-prompt outputs. */
nlohmann::json summaryJson(const GenerationEvalResult &result);
nlohmann::json toJson(const HeadToHead &result);

} // namespace plad
