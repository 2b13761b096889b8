#include "report/svgchart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace plad {

namespace {

std::string number(double v, int precision = 3)
{
    char text[64];
    std::snprintf(text, sizeof text, "%.*g", precision, v);
    return text;
}

std::string coordinate(double v)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", v);
    return text;
}

/** About `count` round tick values (steps of 1, 2 or 5 x 10^k) covering [low, high]. */
std::vector<double> ticks(double low, double high, int count = 5)
{
    if (!(high > low))
        return {low};
    const double raw = (high - low) / count;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    double step = magnitude;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * magnitude >= raw) {
            step = m * magnitude;
            break;
        }
    std::vector<double> out;
    for (double t = std::ceil(low / step) * step; t <= high + step * 1e-9; t += step)
        out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    return out;
}

constexpr int left = 64, right = 16, top = 34, bottom = 48;

std::string header(int width, int height, const std::string &title)
{
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height)
           + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height)
           + "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
           + "<text x=\"" + std::to_string(width / 2) + "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">"
           + xmlEscape(title) + "</text>\n";
}

} // namespace

std::string xmlEscape(const std::string &text)
{
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string methodColour(const std::string &method)
{
    static const std::map<std::string, std::string> colours = {
        {"plad", "#1f77b4"}, {"plad-logistic", "#17becf"}, {"seqkd", "#ff7f0e"}, {"dpo", "#2ca02c"},
        {"sft", "#7f7f7f"},  {"word-kd", "#9467bd"},       {"initial", "#8c564b"}, {"teacher", "#d62728"}};
    const auto it = colours.find(method);
    return it == colours.end() ? "#444444" : it->second;
}

std::vector<std::pair<double, double>> smoothed(const std::vector<std::pair<double, double>> &points, double weight)
{
    std::vector<std::pair<double, double>> out;
    double value = 0, correction = 0;
    for (const auto &[x, y] : points) {
        value = weight * value + (1 - weight) * y;
        correction = weight * correction + (1 - weight);
        out.emplace_back(x, value / correction); // bias-corrected, so the first points are not pulled to 0
    }
    return out;
}

std::string renderLineChart(const LineChart &chart)
{
    double xMin = INFINITY, xMax = -INFINITY, yMin = INFINITY, yMax = -INFINITY;
    for (const auto &s : chart.series)
        for (const auto &[x, y] : s.points) {
            if (!std::isfinite(y))
                continue;
            xMin = std::min(xMin, x);
            xMax = std::max(xMax, x);
            yMin = std::min(yMin, y);
            yMax = std::max(yMax, y);
        }
    const bool empty = !std::isfinite(xMin);
    if (empty) {
        xMin = 0, xMax = 1, yMin = 0, yMax = 1;
    }
    if (chart.yMin)
        yMin = *chart.yMin;
    if (chart.yMax)
        yMax = *chart.yMax;
    if (xMax <= xMin)
        xMax = xMin + 1;
    if (yMax <= yMin) {
        const double pad = std::max(std::abs(yMin) * 0.1, 1e-3);
        yMin -= pad;
        yMax += pad;
    } else if (!chart.yMin && !chart.yMax) {
        const double pad = (yMax - yMin) * 0.05;
        yMin -= pad;
        yMax += pad;
    }
    const double plotW = chart.width - left - right, plotH = chart.height - top - bottom;
    auto px = [&](double x) { return left + (x - xMin) / (xMax - xMin) * plotW; };
    auto py = [&](double y) { return top + (1 - (y - yMin) / (yMax - yMin)) * plotH; };

    std::string svg = header(chart.width, chart.height, chart.title);
    // Grid and ticks.
    for (double t : ticks(yMin, yMax)) {
        svg += "<line x1=\"" + std::to_string(left) + "\" x2=\"" + coordinate(left + plotW) + "\" y1=\"" + coordinate(py(t)) + "\" y2=\""
               + coordinate(py(t)) + "\" stroke=\"#e4e4e4\"/>\n";
        svg += "<text x=\"" + std::to_string(left - 6) + "\" y=\"" + coordinate(py(t) + 4) + "\" text-anchor=\"end\">" + number(t) + "</text>\n";
    }
    for (double t : ticks(xMin, xMax, 6)) {
        svg += "<line x1=\"" + coordinate(px(t)) + "\" x2=\"" + coordinate(px(t)) + "\" y1=\"" + coordinate(top + plotH) + "\" y2=\""
               + coordinate(top + plotH + 4) + "\" stroke=\"#333\"/>\n";
        svg += "<text x=\"" + coordinate(px(t)) + "\" y=\"" + coordinate(top + plotH + 16) + "\" text-anchor=\"middle\">" + number(t, 6)
               + "</text>\n";
    }
    svg += "<rect x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(top) + "\" width=\"" + coordinate(plotW) + "\" height=\""
           + coordinate(plotH) + "\" fill=\"none\" stroke=\"#333\"/>\n";
    svg += "<text x=\"" + coordinate(left + plotW / 2) + "\" y=\"" + std::to_string(chart.height - 8) + "\" text-anchor=\"middle\">"
           + xmlEscape(chart.xLabel) + "</text>\n";
    svg += "<text transform=\"translate(14," + coordinate(top + plotH / 2) + ") rotate(-90)\" text-anchor=\"middle\">"
           + xmlEscape(chart.yLabel) + "</text>\n";
    // Series, then the legend (top right, inside the plot).
    for (const auto &s : chart.series) {
        std::string path;
        for (const auto &[x, y] : s.points)
            if (std::isfinite(y))
                path += (path.empty() ? "M" : " L") + coordinate(px(x)) + "," + coordinate(py(std::clamp(y, yMin, yMax)));
        if (s.points.size() == 1)
            svg += "<circle cx=\"" + coordinate(px(s.points[0].first)) + "\" cy=\"" + coordinate(py(s.points[0].second)) + "\" r=\"3\" fill=\""
                   + s.colour + "\"/>\n";
        else if (!path.empty())
            svg += "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + s.colour + "\" stroke-width=\"1.6\""
                   + (s.dashed ? " stroke-dasharray=\"5,3\"" : "") + "/>\n";
    }
    int row = 0;
    for (const auto &s : chart.series) {
        const double y = top + 12 + 15 * row++;
        const double x = left + plotW - 150;
        svg += "<line x1=\"" + coordinate(x) + "\" x2=\"" + coordinate(x + 18) + "\" y1=\"" + coordinate(y - 4) + "\" y2=\"" + coordinate(y - 4)
               + "\" stroke=\"" + s.colour + "\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"5,3\"" : "") + "/>\n";
        svg += "<text x=\"" + coordinate(x + 24) + "\" y=\"" + coordinate(y) + "\">" + xmlEscape(s.label) + "</text>\n";
    }
    if (empty)
        svg += "<text x=\"" + coordinate(left + plotW / 2) + "\" y=\"" + coordinate(top + plotH / 2)
               + "\" text-anchor=\"middle\" fill=\"#888\">no data recorded</text>\n";
    return svg + "</svg>\n";
}

std::string renderReliabilityDiagram(const std::string &title, const std::vector<std::pair<std::string, CalibrationCurve>> &curves,
                                     const std::vector<std::string> &colours, int width, int height)
{
    const double plotW = width - left - right, plotH = height - top - bottom - 14;
    auto px = [&](double x) { return left + x * plotW; };
    auto py = [&](double y) { return top + (1 - y) * plotH; };
    std::string svg = header(width, height, title);
    for (double t : {0.0, 0.2, 0.4, 0.6, 0.8, 1.0}) {
        svg += "<line x1=\"" + std::to_string(left) + "\" x2=\"" + coordinate(px(1)) + "\" y1=\"" + coordinate(py(t)) + "\" y2=\"" + coordinate(py(t))
               + "\" stroke=\"#e4e4e4\"/>\n";
        svg += "<text x=\"" + std::to_string(left - 6) + "\" y=\"" + coordinate(py(t) + 4) + "\" text-anchor=\"end\">" + number(t) + "</text>\n";
        svg += "<text x=\"" + coordinate(px(t)) + "\" y=\"" + coordinate(top + plotH + 16) + "\" text-anchor=\"middle\">" + number(t) + "</text>\n";
    }
    svg += "<line x1=\"" + coordinate(px(0)) + "\" y1=\"" + coordinate(py(0)) + "\" x2=\"" + coordinate(px(1)) + "\" y2=\"" + coordinate(py(1))
           + "\" stroke=\"#999\" stroke-dasharray=\"4,3\"/>\n";
    const size_t n = curves.size();
    for (size_t c = 0; c < n; ++c) {
        const auto &curve = curves[c].second;
        for (const auto &bin : curve.bins) {
            if (bin.count == 0)
                continue;
            const double slot = (bin.upper - bin.lower) / static_cast<double>(n);
            const double x0 = bin.lower + slot * static_cast<double>(c);
            svg += "<rect x=\"" + coordinate(px(x0)) + "\" y=\"" + coordinate(py(bin.accuracy)) + "\" width=\""
                   + coordinate(std::max(1.0, slot * plotW - 1)) + "\" height=\"" + coordinate(py(0) - py(bin.accuracy)) + "\" fill=\""
                   + colours[c % colours.size()] + "\" fill-opacity=\"0.75\"/>\n";
        }
    }
    svg += "<rect x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(top) + "\" width=\"" + coordinate(plotW) + "\" height=\""
           + coordinate(plotH) + "\" fill=\"none\" stroke=\"#333\"/>\n";
    svg += "<text x=\"" + coordinate(left + plotW / 2) + "\" y=\"" + coordinate(top + plotH + 32)
           + "\" text-anchor=\"middle\">top-1 confidence (probability)</text>\n";
    svg += "<text transform=\"translate(14," + coordinate(top + plotH / 2) + ") rotate(-90)\" text-anchor=\"middle\">accuracy (share of tokens)</text>\n";
    for (size_t c = 0; c < n; ++c) {
        const double y = top + 12 + 15 * static_cast<double>(c);
        svg += "<rect x=\"" + coordinate(left + 8) + "\" y=\"" + coordinate(y - 9) + "\" width=\"12\" height=\"10\" fill=\"" + colours[c % colours.size()]
               + "\"/>\n<text x=\"" + coordinate(left + 26) + "\" y=\"" + coordinate(y) + "\">" + xmlEscape(curves[c].first) + " (ECE "
               + number(curves[c].second.ece) + ")</text>\n";
    }
    return svg + "</svg>\n";
}

} // namespace plad
