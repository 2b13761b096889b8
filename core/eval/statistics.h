#pragma once

// The statistics behind PLaD's evaluation: bootstrap intervals for win rates, expected
// calibration error with its reliability diagram, and Spearman rank correlation. Torch-free.

#include <cstdint>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** An estimate with a confidence interval. */
struct Interval
{
    double estimate = 0;
    double low = 0, high = 0;
    double level = 0.95;
};

/** Outcomes of comparing system A with system B prompt by prompt. */
struct WinRate
{
    int64_t wins = 0, losses = 0, ties = 0;
    Interval rate;      ///< wins / (wins + losses), with a percentile bootstrap interval over prompts
};

/**
 * Win rate of A from per-prompt outcomes (+1 A better, -1 B better, 0 tie): wins / (wins +
 * losses), ties reported separately. The interval resamples the prompts with replacement
 * `resamples` times (seeded) and takes the percentiles of the recomputed rate; a resample with
 * no decided prompt counts as 0.5.
 */
WinRate winRate(const std::vector<int> &outcomes, int resamples = 2000, uint64_t seed = 0, double level = 0.95);

/**
 * The percentile interval of bootstrap statistics `stats` around `estimate` (linear
 * interpolation between order statistics, numpy's default); with no statistics the interval
 * is the estimate itself.
 */
Interval percentileInterval(double estimate, std::vector<double> stats, double level = 0.95);

/** Percentile bootstrap interval of the mean of `values`. */
Interval bootstrapMean(const std::vector<double> &values, int resamples = 2000, uint64_t seed = 0, double level = 0.95);

/** One bin of a reliability diagram. */
struct ReliabilityBin
{
    double lower = 0, upper = 0;   ///< confidence range [lower, upper) (the last bin includes 1)
    int64_t count = 0;
    double meanConfidence = 0;     ///< 0 for an empty bin
    double accuracy = 0;           ///< share correct; 0 for an empty bin
};

struct CalibrationCurve
{
    std::vector<ReliabilityBin> bins;
    double ece = 0;                ///< sum over bins of count/N * |accuracy - confidence|
    int64_t samples = 0;
};

/** ECE with `bins` equal-width confidence bins over [0, 1]. Throws Error on mismatched sizes. */
CalibrationCurve calibrationCurve(const std::vector<double> &confidence, const std::vector<bool> &correct, int bins = 15);

/** Spearman's rho with average ranks for ties; NaN when either side is constant or n < 2. */
double spearman(const std::vector<double> &x, const std::vector<double> &y);

/** `value` as a JSON number, or null when it is NaN or infinite (JSON has no such numbers). */
nlohmann::json finiteOrNull(double value);

nlohmann::json toJson(const Interval &interval);
nlohmann::json toJson(const WinRate &winRate);
nlohmann::json toJson(const CalibrationCurve &curve);

} // namespace plad
