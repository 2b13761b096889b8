#pragma once

// Calibration diagnostics of a student: does its likelihood rank better outputs higher?

#include "common/jobcontext.h"
#include "eval/sequencecalibration.h"
#include "eval/statistics.h"
#include "model/causallm.h"
#include "model/modeltypes.h"

#include <cstdint>
#include <string>
#include <vector>

namespace plad {

class Tokenizer;

/** A preference pair as the student's token ids. */
struct RankedPair
{
    std::vector<int64_t> prompt, chosen, rejected;
};

struct PairRanking
{
    double accuracy = 0;             ///< share of pairs with s(y+) > s(y-)
    double meanMargin = 0;
    std::vector<double> margins;     ///< s(y+) - s(y-) per pair, in pair order
};

/** Scores both sides of every pair (no gradients); s is the mean log-prob (`mean`) or the sum. */
PairRanking pairRanking(CausalLMImpl &model, const std::vector<RankedPair> &pairs, bool mean = true, int64_t batchSize = 16);
/** The accuracy and mean margin of margins measured elsewhere (parts of a pair set, joined in order). */
PairRanking pairRankingOf(std::vector<double> margins);

/** At each reference token: the model's top-1 probability, and whether the top-1 token is the reference token. */
struct TokenConfidences
{
    std::vector<double> confidence;
    std::vector<bool> correct;
};
TokenConfidences tokenConfidences(CausalLMImpl &model, const std::vector<ScoreRequest> &references, int64_t batchSize = 16);

/**
 * Token-level calibration on reference continuations: at each reference token the model's
 * top-1 probability is the confidence and "the top-1 token is the reference token" the outcome.
 */
CalibrationCurve tokenCalibration(CausalLMImpl &model, const std::vector<ScoreRequest> &references, int bins = 15,
                                  int64_t batchSize = 16);

struct SequenceCalibration
{
    double meanSpearman = 0;         ///< mean over prompts with a defined correlation
    int64_t prompts = 0;             ///< prompts that contributed
    CalibrationCurve preference;     ///< sequence-level ECE of sigma(s(y1) - s(y2)) (see preferenceCalibration)
    RerankResult rerank;             ///< rerank@N (see rerankWinRate)
    std::vector<SampledSequences> perPrompt;
};

/**
 * Samples `samples` outputs per prompt, scores them with the model and with ROUGE-L against
 * the reference, and correlates the two per prompt (Spearman). Prompts whose samples all score
 * the same on either side do not contribute. The same samples give the preference ECE (over
 * `preferenceBins` bins) and rerank@N.
 */
SequenceCalibration sequenceCalibration(CausalLMImpl &model, const Tokenizer &tokenizer, const std::vector<std::vector<int64_t>> &prompts,
                                        const std::vector<std::string> &references, int64_t samples, const SamplingOptions &sampling,
                                        int64_t maxNewTokens, JobContext *context = nullptr, int preferenceBins = 10);

/**
 * sequenceCalibration() in two halves, so that parts of the prompts can be sampled in different
 * processes: the scored samples of each prompt (prompt i's seed is promptSeeds[i], by default
 * deriveSeed(sampling.seed, i): a part passes its prompts' seeds in the whole list), and the
 * summary of them all. Empty when cancelled.
 */
std::vector<SampledSequences> scoredSamples(CausalLMImpl &model, const Tokenizer &tokenizer, const std::vector<std::vector<int64_t>> &prompts,
                                            const std::vector<std::string> &references, int64_t samples, const SamplingOptions &sampling,
                                            int64_t maxNewTokens, JobContext *context = nullptr, std::vector<uint64_t> promptSeeds = {});
SequenceCalibration summariseSamples(std::vector<SampledSequences> perPrompt, int preferenceBins = 10);

} // namespace plad
