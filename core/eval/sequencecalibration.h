#pragma once

// Sequence-level calibration from sampled outputs, without Torch: the student's pairwise
// preference ECE, rerank@N, and paired bootstrap intervals of how they change between two
// students measured on the same prompts (the initial and the trained one).

#include "eval/statistics.h"

#include <cstdint>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** One prompt's samples for sequence-level calibration. */
struct SampledSequences
{
    std::vector<double> meanLogprob; ///< the student's length-normalised log-likelihood of each sample
    std::vector<double> quality;     ///< ROUGE-L F1 of each sample against the reference
};

/** Best-of-N by the student's own likelihood: does its top-scored sample beat the others by the reference? */
struct RerankResult
{
    int64_t wins = 0, losses = 0, ties = 0; ///< the top-likelihood sample against each other sample of its prompt (ROUGE-L)
    int64_t prompts = 0;                    ///< prompts with at least two samples
    double winRate = 0;                     ///< wins / (wins + losses); NaN when nothing is decided; 0.5 = the likelihood says nothing
    double meanQuality = 0;                 ///< mean ROUGE-L of the chosen samples
    double meanSampleQuality = 0;           ///< mean ROUGE-L of all samples (what a random pick gets)
};

/**
 * Sequence-level calibration of the student's pairwise preference: for every two samples of a
 * prompt whose ROUGE-L against the reference differs, the predicted probability that the first
 * is better is p = sigma(s(y1) - s(y2)) (s the length-normalised log-likelihood). Each pair is
 * oriented so that p >= 0.5 (the confidence of the side the student prefers), the outcome is
 * "that side is the better one", and the ECE is taken over `bins` equal-width bins of [0.5, 1].
 * Pairs with equal quality carry no outcome and are left out.
 */
CalibrationCurve preferenceCalibration(const std::vector<SampledSequences> &perPrompt, int bins = 10);

/** Rerank@N: per prompt, the sample with the highest likelihood against each of the others (by ROUGE-L; ties on the likelihood go to the first). */
RerankResult rerankWinRate(const std::vector<SampledSequences> &perPrompt);

/** How sequence-level calibration changed from `before` to `after` on the same prompts. */
struct CalibrationChange
{
    Interval sequenceEce; ///< after - before (negative: better calibrated), paired bootstrap over prompts
    Interval rerank;      ///< rerank@N win rate, after - before (positive: the likelihood picks better samples)
    int64_t prompts = 0;
};

/**
 * The change of the preference ECE (`bins` bins) and of rerank@N between two measurements of
 * the same prompts, in the same order: the estimate is the difference on all prompts, the
 * interval the percentiles of the difference recomputed on `resamples` resamples of the prompts
 * (the same prompt indices for both sides, seeded). Throws Error when the sizes differ. A
 * resample where a side has no decided pair is left out of that statistic's percentiles.
 */
CalibrationChange calibrationChange(const std::vector<SampledSequences> &before, const std::vector<SampledSequences> &after, int bins = 10,
                                    int resamples = 2000, uint64_t seed = 0, double level = 0.95);

nlohmann::json toJson(const CalibrationChange &change);

} // namespace plad
