#include "report/chartcatalog.h"

#include "report/svgchart.h"

namespace plad {
namespace {

CatalogChart chart(std::string id, std::string title, std::string yLabel, std::vector<CatalogLine> lines, std::optional<double> yMin = std::nullopt,
                   std::optional<double> yMax = std::nullopt, bool pairMethodsOnly = false)
{
    CatalogChart c;
    c.id = std::move(id);
    c.title = std::move(title);
    c.xLabel = "optimiser step";
    c.yLabel = std::move(yLabel);
    c.lines = std::move(lines);
    c.yMin = yMin;
    c.yMax = yMax;
    c.pairMethodsOnly = pairMethodsOnly;
    return c;
}

} // namespace

const std::vector<CatalogChart> &trainingCharts()
{
    static const std::vector<CatalogChart> charts = {
        chart("loss", "Training loss", "loss (nats)", {{"loss", "raw", LineRole::Raw}, {"loss", "smoothed", LineRole::Smoothed}}),
        chart("ranking-accuracy", "Pair ranking accuracy", "share of pairs with s(y+) > s(y-)",
              {{"ranking_accuracy", "batch", LineRole::Raw},
               {"ranking_accuracy", "batch, smoothed", LineRole::Smoothed},
               {"eval_pair_accuracy", "held-out", LineRole::HeldOut}},
              0.0, 1.0, true),
        chart("margin", "Mean margin s(y+) - s(y-)", "margin (nats)",
              {{"margin", "batch", LineRole::Raw}, {"margin", "batch, smoothed", LineRole::Smoothed}, {"eval_margin", "held-out", LineRole::HeldOut}},
              std::nullopt, std::nullopt, true),
        chart("calibration", "Calibration on held-out prompts", "ECE / Spearman's rho",
              {{"eval_ece", "token ECE", LineRole::Method}, {"eval_spearman", "sequence Spearman", LineRole::Secondary}}),
        chart("sequence-calibration", "Sequence-level calibration on held-out prompts", "preference ECE / rerank@N win rate",
              {{"eval_sequence_ece", "sequence ECE", LineRole::Method}, {"eval_rerank_win_rate", "rerank@N win rate", LineRole::Secondary}},
              0.0, 1.0),
        chart("learning-rate", "Learning rate", "learning rate", {{"lr", "lr", LineRole::Method}}),
        chart("grad-norm", "Gradient norm (before clipping)", "L2 norm", {{"grad_norm", "grad norm", LineRole::Method}}),
        chart("throughput", "Throughput", "tokens per second",
              {{"tokens_per_second", "tokens/s", LineRole::Method}, {"tokens_per_second_rank", "rank", LineRole::Secondary, true}}),
    };
    return charts;
}

std::string rankColour(int rank)
{
    static const char *palette[] = {"#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#8c564b", "#9467bd"};
    return palette[static_cast<size_t>(rank) % (sizeof palette / sizeof *palette)];
}

int rankOfMetric(const CatalogLine &line, const std::string &metric)
{
    if (!line.perRank || metric.size() <= line.metric.size() || metric.compare(0, line.metric.size(), line.metric) != 0)
        return -1;
    const std::string digits = metric.substr(line.metric.size());
    if (digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos)
        return -1;
    return std::stoi(digits);
}

std::string lineColour(LineRole role, const std::string &method)
{
    switch (role) {
    case LineRole::Raw:
        return "#bbbbbb";
    case LineRole::HeldOut:
        return "#d62728";
    case LineRole::Secondary:
        return "#ff7f0e";
    case LineRole::Smoothed:
    case LineRole::Method:
        break;
    }
    return methodColour(method);
}

} // namespace plad
