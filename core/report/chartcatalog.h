#pragma once

// The training charts, defined once: the report draws them as SVG and the workbench's live
// monitor with QCustomPlot, with the same titles, axis labels (with units), lines and colours.

#include <optional>
#include <string>
#include <vector>

namespace plad {

/** How a line is drawn: its colour role and whether it is the smoothed form of its metric. */
enum class LineRole {
    Raw,       ///< light grey, the metric as logged per step
    Smoothed,  ///< the method's colour, exponential moving average of the metric (weight 0.9)
    Method,    ///< the method's colour, as logged
    HeldOut,   ///< red, evaluation on held-out pairs
    Secondary  ///< orange, dashed, a second quantity on the same axis
};

struct CatalogLine
{
    std::string metric;  ///< run-store series name ("loss", "eval_ece", ...)
    std::string label;   ///< legend text
    LineRole role = LineRole::Method;
    /** `metric` is a prefix: one dashed line per process of a distributed run (metric + "0",
     *  metric + "1", ...), labelled `label` and the rank, coloured by rankColour(). */
    bool perRank = false;
};

struct CatalogChart
{
    std::string id;      ///< file stem in reports ("loss" -> loss.svg), object name in the workbench
    std::string title, xLabel, yLabel;
    std::vector<CatalogLine> lines;
    std::optional<double> yMin, yMax;
    bool pairMethodsOnly = false; ///< drawn only for methods that train on pairs
};

/** The training charts in display order. */
const std::vector<CatalogChart> &trainingCharts();

/** The CSS colour of a line of `role` for a run of `method`. */
std::string lineColour(LineRole role, const std::string &method);

/** The colour of rank `rank`'s line (perRank lines). */
std::string rankColour(int rank);

/** The rank of `metric` under a perRank line's prefix, or -1 when it is not one of its series. */
int rankOfMetric(const CatalogLine &line, const std::string &metric);

/** The reliability diagram's title, shared by the report and the workbench. */
inline constexpr const char *reliabilityTitle = "Token-level reliability (held-out references)";

} // namespace plad
