#pragma once

// Self-contained SVG charts for reports (no scripts, no external fonts): line charts of metric
// series and reliability diagrams. The workbench's plots use the same titles, units and colours.

#include "eval/statistics.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace plad {

struct ChartSeries
{
    std::string label;
    std::string colour;                             ///< CSS colour
    std::vector<std::pair<double, double>> points;  ///< (x, y), x ascending
    bool dashed = false;
};

struct LineChart
{
    std::string title, xLabel, yLabel;              ///< axis labels carry their units
    std::vector<ChartSeries> series;
    std::optional<double> yMin, yMax;               ///< fixed range (e.g. [0, 1] for accuracies)
    int width = 540, height = 300;
};

/** The colour a method is drawn in, everywhere (report and workbench). */
std::string methodColour(const std::string &method);

/** An SVG document (as text) of the chart; series without points are listed in the legend only. */
std::string renderLineChart(const LineChart &chart);

/** A reliability diagram: accuracy per confidence bin for each curve, against the diagonal. */
std::string renderReliabilityDiagram(const std::string &title, const std::vector<std::pair<std::string, CalibrationCurve>> &curves,
                                     const std::vector<std::string> &colours, int width = 420, int height = 360);

/** Exponential moving average (the "smoothed" loss curve); `weight` in [0, 1). */
std::vector<std::pair<double, double>> smoothed(const std::vector<std::pair<double, double>> &points, double weight = 0.9);

/** Escapes text for XML/HTML. */
std::string xmlEscape(const std::string &text);

} // namespace plad
