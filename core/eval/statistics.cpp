#include "eval/statistics.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

namespace plad {

namespace {

double percentile(std::vector<double> values, double q)
{
    // Linear interpolation between order statistics (numpy's default).
    std::sort(values.begin(), values.end());
    const double position = q * static_cast<double>(values.size() - 1);
    const auto below = static_cast<size_t>(std::floor(position));
    const auto above = std::min(values.size() - 1, below + 1);
    const double fraction = position - static_cast<double>(below);
    return values[below] * (1 - fraction) + values[above] * fraction;
}

template<typename Statistic>
Interval bootstrap(size_t n, int resamples, uint64_t seed, double level, double estimate, Statistic statistic)
{
    if (n == 0 || resamples <= 0)
        return percentileInterval(estimate, {}, level);
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<size_t> pick(0, n - 1);
    std::vector<double> stats(static_cast<size_t>(resamples));
    std::vector<size_t> sample(n);
    for (auto &s : stats) {
        for (auto &i : sample)
            i = pick(rng);
        s = statistic(sample);
    }
    return percentileInterval(estimate, std::move(stats), level);
}

std::vector<double> averageRanks(const std::vector<double> &values)
{
    std::vector<size_t> order(values.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
    std::vector<double> ranks(values.size());
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]])
            ++j;
        const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
        for (size_t k = i; k <= j; ++k)
            ranks[order[k]] = rank;
        i = j + 1;
    }
    return ranks;
}

} // namespace

Interval percentileInterval(double estimate, std::vector<double> stats, double level)
{
    Interval out;
    out.estimate = estimate;
    out.level = level;
    if (stats.empty()) {
        out.low = out.high = estimate;
        return out;
    }
    out.low = percentile(stats, (1 - level) / 2);
    out.high = percentile(std::move(stats), 1 - (1 - level) / 2);
    return out;
}

WinRate winRate(const std::vector<int> &outcomes, int resamples, uint64_t seed, double level)
{
    WinRate out;
    for (int o : outcomes)
        (o > 0 ? out.wins : o < 0 ? out.losses : out.ties)++;
    auto rate = [](int64_t w, int64_t l) { return w + l == 0 ? 0.5 : static_cast<double>(w) / static_cast<double>(w + l); };
    out.rate = bootstrap(outcomes.size(), resamples, seed, level, rate(out.wins, out.losses), [&](const std::vector<size_t> &sample) {
        int64_t w = 0, l = 0;
        for (size_t i : sample) {
            w += outcomes[i] > 0;
            l += outcomes[i] < 0;
        }
        return rate(w, l);
    });
    return out;
}

Interval bootstrapMean(const std::vector<double> &values, int resamples, uint64_t seed, double level)
{
    const double mean = values.empty() ? 0.0 : std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
    return bootstrap(values.size(), resamples, seed, level, mean, [&](const std::vector<size_t> &sample) {
        double sum = 0;
        for (size_t i : sample)
            sum += values[i];
        return sum / static_cast<double>(sample.size());
    });
}

CalibrationCurve calibrationCurve(const std::vector<double> &confidence, const std::vector<bool> &correct, int bins)
{
    if (confidence.size() != correct.size())
        throw Error("calibration: " + std::to_string(confidence.size()) + " confidences for " + std::to_string(correct.size()) + " outcomes");
    if (bins < 1)
        throw Error("calibration: the number of bins must be positive");
    CalibrationCurve curve;
    curve.samples = static_cast<int64_t>(confidence.size());
    curve.bins.resize(static_cast<size_t>(bins));
    std::vector<double> confidenceSum(static_cast<size_t>(bins), 0.0), correctSum(static_cast<size_t>(bins), 0.0);
    for (size_t i = 0; i < confidence.size(); ++i) {
        const double c = std::clamp(confidence[i], 0.0, 1.0);
        const auto b = std::min(static_cast<size_t>(c * bins), static_cast<size_t>(bins - 1));
        curve.bins[b].count++;
        confidenceSum[b] += c;
        correctSum[b] += correct[i] ? 1.0 : 0.0;
    }
    for (size_t b = 0; b < curve.bins.size(); ++b) {
        auto &bin = curve.bins[b];
        bin.lower = static_cast<double>(b) / bins;
        bin.upper = static_cast<double>(b + 1) / bins;
        if (bin.count == 0)
            continue;
        bin.meanConfidence = confidenceSum[b] / static_cast<double>(bin.count);
        bin.accuracy = correctSum[b] / static_cast<double>(bin.count);
        curve.ece += static_cast<double>(bin.count) / static_cast<double>(curve.samples) * std::abs(bin.accuracy - bin.meanConfidence);
    }
    return curve;
}

double spearman(const std::vector<double> &x, const std::vector<double> &y)
{
    if (x.size() != y.size())
        throw Error("spearman: the two series differ in length");
    if (x.size() < 2)
        return std::nan("");
    const auto rx = averageRanks(x), ry = averageRanks(y);
    const double n = static_cast<double>(x.size());
    const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / n, my = std::accumulate(ry.begin(), ry.end(), 0.0) / n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < rx.size(); ++i) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    if (sxx == 0 || syy == 0)
        return std::nan("");
    return sxy / std::sqrt(sxx * syy);
}

nlohmann::json finiteOrNull(double value)
{
    return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

nlohmann::json toJson(const Interval &i)
{
    return {{"estimate", i.estimate}, {"low", i.low}, {"high", i.high}, {"level", i.level}};
}

nlohmann::json toJson(const WinRate &w)
{
    return {{"wins", w.wins}, {"losses", w.losses}, {"ties", w.ties}, {"win_rate", toJson(w.rate)}};
}

nlohmann::json toJson(const CalibrationCurve &curve)
{
    nlohmann::json bins = nlohmann::json::array();
    for (const auto &b : curve.bins)
        bins.push_back({{"lower", b.lower}, {"upper", b.upper}, {"count", b.count}, {"confidence", b.meanConfidence}, {"accuracy", b.accuracy}});
    return {{"ece", curve.ece}, {"samples", curve.samples}, {"bins", bins}};
}

} // namespace plad
