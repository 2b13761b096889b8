#include "eval/sequencecalibration.h"

#include "common/error.h"

#include <cmath>
#include <random>

#include <nlohmann/json.hpp>

namespace plad {

CalibrationCurve preferenceCalibration(const std::vector<SampledSequences> &perPrompt, int bins)
{
    if (bins < 1)
        throw Error("preference calibration: at least one bin is needed");
    std::vector<double> confidence;
    std::vector<bool> correct;
    for (const auto &p : perPrompt) {
        if (p.meanLogprob.size() != p.quality.size())
            throw Error("preference calibration: one quality per sample is needed");
        for (size_t i = 0; i < p.quality.size(); ++i)
            for (size_t j = i + 1; j < p.quality.size(); ++j) {
                if (p.quality[i] == p.quality[j])
                    continue;
                const double probability = 1.0 / (1.0 + std::exp(-(p.meanLogprob[i] - p.meanLogprob[j]))); // P(i better)
                const bool iBetter = p.quality[i] > p.quality[j];
                if (probability >= 0.5) {
                    confidence.push_back(probability);
                    correct.push_back(iBetter);
                } else {
                    confidence.push_back(1.0 - probability);
                    correct.push_back(!iBetter);
                }
            }
    }
    // Confidences live in [0.5, 1]: map them to [0, 1] for equal-width bins there, then back.
    std::vector<double> stretched;
    stretched.reserve(confidence.size());
    for (const double c : confidence)
        stretched.push_back(2 * c - 1);
    CalibrationCurve curve = calibrationCurve(stretched, correct, bins);
    curve.ece = 0;
    for (auto &bin : curve.bins) {
        bin.lower = 0.5 + bin.lower / 2;
        bin.upper = 0.5 + bin.upper / 2;
        if (bin.count > 0)
            bin.meanConfidence = 0.5 + bin.meanConfidence / 2;
        if (curve.samples > 0)
            curve.ece += static_cast<double>(bin.count) / static_cast<double>(curve.samples) * std::abs(bin.accuracy - bin.meanConfidence);
    }
    return curve;
}

RerankResult rerankWinRate(const std::vector<SampledSequences> &perPrompt)
{
    RerankResult r;
    double chosenSum = 0, sampleSum = 0;
    int64_t samples = 0;
    for (const auto &p : perPrompt) {
        if (p.meanLogprob.size() != p.quality.size())
            throw Error("rerank: one quality per sample is needed");
        if (p.quality.size() < 2)
            continue;
        size_t best = 0;
        for (size_t i = 1; i < p.meanLogprob.size(); ++i)
            if (p.meanLogprob[i] > p.meanLogprob[best])
                best = i;
        for (size_t i = 0; i < p.quality.size(); ++i) {
            sampleSum += p.quality[i];
            ++samples;
            if (i == best)
                continue;
            if (p.quality[best] > p.quality[i])
                ++r.wins;
            else if (p.quality[best] < p.quality[i])
                ++r.losses;
            else
                ++r.ties;
        }
        chosenSum += p.quality[best];
        ++r.prompts;
    }
    r.winRate = r.wins + r.losses > 0 ? static_cast<double>(r.wins) / static_cast<double>(r.wins + r.losses) : std::nan("");
    r.meanQuality = r.prompts > 0 ? chosenSum / static_cast<double>(r.prompts) : std::nan("");
    r.meanSampleQuality = samples > 0 ? sampleSum / static_cast<double>(samples) : std::nan("");
    return r;
}

namespace {

double eceOf(const std::vector<SampledSequences> &perPrompt, int bins)
{
    const CalibrationCurve curve = preferenceCalibration(perPrompt, bins);
    return curve.samples > 0 ? curve.ece : std::nan("");
}

} // namespace

CalibrationChange calibrationChange(const std::vector<SampledSequences> &before, const std::vector<SampledSequences> &after, int bins,
                                    int resamples, uint64_t seed, double level)
{
    if (before.size() != after.size())
        throw Error("calibration change: both measurements must cover the same prompts (" + std::to_string(before.size()) + " and "
                    + std::to_string(after.size()) + ")");
    CalibrationChange out;
    out.prompts = static_cast<int64_t>(before.size());
    const double eceChange = eceOf(after, bins) - eceOf(before, bins);
    const double rerankChange = rerankWinRate(after).winRate - rerankWinRate(before).winRate;
    std::vector<double> eceStats, rerankStats;
    if (!before.empty()) {
        std::mt19937_64 rng(seed);
        std::uniform_int_distribution<size_t> pick(0, before.size() - 1);
        std::vector<SampledSequences> a(before.size()), b(before.size());
        for (int r = 0; r < resamples; ++r) {
            for (size_t i = 0; i < before.size(); ++i) {
                const size_t j = pick(rng);
                a[i] = before[j];
                b[i] = after[j];
            }
            if (const double d = eceOf(b, bins) - eceOf(a, bins); std::isfinite(d))
                eceStats.push_back(d);
            if (const double d = rerankWinRate(b).winRate - rerankWinRate(a).winRate; std::isfinite(d))
                rerankStats.push_back(d);
        }
    }
    // An undefined change (a side with no decided pair on all prompts) has no interval.
    if (!std::isfinite(eceChange))
        eceStats.clear();
    if (!std::isfinite(rerankChange))
        rerankStats.clear();
    out.sequenceEce = percentileInterval(eceChange, std::move(eceStats), level);
    out.rerank = percentileInterval(rerankChange, std::move(rerankStats), level);
    return out;
}

nlohmann::json toJson(const CalibrationChange &change)
{
    return {{"sequence_ece", toJson(change.sequenceEce)}, {"rerank_win_rate", toJson(change.rerank)}, {"prompts", change.prompts}};
}

} // namespace plad
