#include "report/report.h"

#include "common/error.h"
#include "common/fileio.h"
#include "common/text.h"
#include "report/chartcatalog.h"
#include "report/tokenhtml.h"
#include "report/svgchart.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include <optional>

#include <nlohmann/json.hpp>

namespace plad {

namespace fs = std::filesystem;

namespace {

/** One piece of the report, rendered to HTML or Markdown. */
struct Block
{
    enum Kind { Heading, Paragraph, Table, Chart, Code, Gallery } kind;
    std::string text;                           // heading, paragraph, code; chart file name
    std::vector<std::vector<std::string>> rows; // table (first row = header)
    std::string svg;                            // chart
    std::string html;                           // gallery (HTML form)
};

std::vector<MetricPoint> series(Workspace &store, const std::string &run, const std::string &name)
{
    return store.runs().metrics(run, name);
}

std::vector<std::pair<double, double>> points(const std::vector<MetricPoint> &metric)
{
    std::vector<std::pair<double, double>> out;
    for (const auto &m : metric)
        out.emplace_back(static_cast<double>(m.step), m.value);
    return out;
}

double last(const std::vector<MetricPoint> &metric)
{
    return metric.empty() ? std::nan("") : metric.back().value;
}

double first(const std::vector<MetricPoint> &metric)
{
    return metric.empty() ? std::nan("") : metric.front().value;
}

LineChart makeChart(std::string title, std::string xLabel, std::string yLabel, std::vector<ChartSeries> lines,
                    std::optional<double> yMin = std::nullopt, std::optional<double> yMax = std::nullopt)
{
    LineChart chart;
    chart.title = std::move(title);
    chart.xLabel = std::move(xLabel);
    chart.yLabel = std::move(yLabel);
    chart.series = std::move(lines);
    chart.yMin = yMin;
    chart.yMax = yMax;
    return chart;
}

ChartSeries line(std::string label, std::string colour, std::vector<std::pair<double, double>> data, bool dashed = false)
{
    return {std::move(label), std::move(colour), std::move(data), dashed};
}

CalibrationCurve curveFromJson(const nlohmann::json &j)
{
    CalibrationCurve c;
    c.ece = j.value("ece", 0.0);
    c.samples = j.value("samples", int64_t(0));
    for (const auto &b : j.value("bins", nlohmann::json::array()))
        c.bins.push_back({b["lower"].get<double>(), b["upper"].get<double>(), b["count"].get<int64_t>(), b["confidence"].get<double>(),
                          b["accuracy"].get<double>()});
    return c;
}

std::string renderHtml(const std::string &title, const std::vector<Block> &blocks)
{
    std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + xmlEscape(title) + "</title>\n<style>\n"
                       "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;line-height:1.45}\n"
                       "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}\n"
                       "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}\n"
                       "th{background:#f3f3f3}pre{background:#f7f7f7;padding:8px;font-size:12px;overflow-x:auto}\n"
                       ".charts{display:flex;flex-wrap:wrap;gap:12px}.pair{border:1px solid #ddd;margin:12px 0;padding:8px}\n"
                       ".sides{display:flex;gap:12px}.side{flex:1;background:#fafafa;padding:6px;font-size:13px}\n"
                       ".prompt{font-size:12px;color:#555;white-space:pre-wrap}\n</style></head><body>\n";
    bool inCharts = false;
    for (const auto &b : blocks) {
        if (b.kind == Block::Chart && !inCharts) {
            html += "<div class=\"charts\">\n";
            inCharts = true;
        } else if (b.kind != Block::Chart && inCharts) {
            html += "</div>\n";
            inCharts = false;
        }
        switch (b.kind) {
        case Block::Heading: html += (b.rows.empty() ? "<h2>" : "<h1>") + xmlEscape(b.text) + (b.rows.empty() ? "</h2>\n" : "</h1>\n"); break;
        case Block::Paragraph: html += "<p>" + xmlEscape(b.text) + "</p>\n"; break;
        case Block::Code: html += "<pre>" + xmlEscape(b.text) + "</pre>\n"; break;
        case Block::Chart: html += "<div>" + b.svg + "</div>\n"; break;
        case Block::Gallery: html += b.html; break;
        case Block::Table: {
            html += "<table>\n";
            for (size_t r = 0; r < b.rows.size(); ++r) {
                html += "<tr>";
                for (const auto &cell : b.rows[r])
                    html += (r == 0 ? "<th>" : "<td>") + xmlEscape(cell) + (r == 0 ? "</th>" : "</td>");
                html += "</tr>\n";
            }
            html += "</table>\n";
            break;
        }
        }
    }
    if (inCharts)
        html += "</div>\n";
    return html + "</body></html>\n";
}

std::string mdCell(std::string text)
{
    for (auto &c : text)
        if (c == '\n' || c == '|')
            c = ' ';
    return text;
}

std::string renderMarkdown(const std::vector<Block> &blocks, const std::string &assetsFolder, std::map<std::string, std::string> &assets)
{
    std::string md;
    for (const auto &b : blocks) {
        switch (b.kind) {
        case Block::Heading: md += (b.rows.empty() ? "## " : "# ") + b.text + "\n\n"; break;
        case Block::Paragraph: md += b.text + "\n\n"; break;
        case Block::Code: md += "```json\n" + b.text + "\n```\n\n"; break;
        case Block::Chart:
            assets[b.text] = b.svg;
            md += "![" + b.text + "](" + assetsFolder + "/" + b.text + ")\n\n";
            break;
        case Block::Gallery: break; // the Markdown gallery is the table that follows it
        case Block::Table:
            for (size_t r = 0; r < b.rows.size(); ++r) {
                md += "|";
                for (const auto &cell : b.rows[r])
                    md.append(" ").append(mdCell(cell)).append(" |");
                md += "\n";
                if (r == 0) {
                    md += "|";
                    for (size_t c = 0; c < b.rows[r].size(); ++c)
                        md += " --- |";
                    md += "\n";
                }
            }
            md += "\n";
            break;
        }
    }
    return md;
}

std::string renderCsv(Workspace &store, const std::string &run)
{
    const auto names = store.runs().metricNames(run);
    std::map<int64_t, std::map<std::string, double>> rows;
    for (const auto &name : names)
        for (const auto &m : store.runs().metrics(run, name))
            rows[m.step][name] = m.value;
    std::string csv = "step";
    for (const auto &n : names)
        csv += "," + n;
    csv += "\n";
    for (const auto &[step, values] : rows) {
        csv += std::to_string(step);
        for (const auto &n : names) {
            csv += ",";
            if (const auto it = values.find(n); it != values.end()) {
                char text[64];
                std::snprintf(text, sizeof text, "%.9g", it->second);
                csv += text;
            }
        }
        csv += "\n";
    }
    return csv;
}

} // namespace

ReportFormat parseReportFormat(const std::string &name)
{
    if (name == "html")
        return ReportFormat::Html;
    if (name == "md" || name == "markdown")
        return ReportFormat::Markdown;
    if (name == "csv")
        return ReportFormat::Csv;
    throw ConfigError("--format: \"" + name + "\" is not one of html, md, csv");
}

RenderedReport renderReport(Workspace &store, const std::string &runId, ReportFormat format, const std::string &assetsFolder)
{
    const RunRecord run = store.runs().requireRun(runId);
    RenderedReport report;
    if (format == ReportFormat::Csv) {
        report.document = renderCsv(store, run.id);
        return report;
    }
    const nlohmann::json config = nlohmann::json::parse(run.configJson);
    std::vector<Block> blocks;
    auto heading = [&](const std::string &text) { blocks.push_back({Block::Heading, text, {}, {}, {}}); };
    auto paragraph = [&](const std::string &text) { blocks.push_back({Block::Paragraph, text, {}, {}, {}}); };
    auto table = [&](std::vector<std::vector<std::string>> rows) { blocks.push_back({Block::Table, {}, std::move(rows), {}, {}}); };
    auto chart = [&](const std::string &file, const std::string &svg) { blocks.push_back({Block::Chart, file, {}, svg, {}}); };

    const std::string title = "PLaD Workbench report: " + run.name + " (" + run.id + ")";
    blocks.push_back({Block::Heading, title, {{"h1"}}, {}, {}});
    paragraph("Method " + run.method + ", status " + toString(run.status) + ", created " + run.createdAt + ", last updated " + run.updatedAt
              + (run.error.empty() ? "" : ". Last error: " + run.error));

    // Summary.
    const auto loss = series(store, run.id, "loss");
    const auto accuracy = series(store, run.id, "ranking_accuracy");
    const auto margin = series(store, run.id, "margin");
    const auto pairAccuracy = series(store, run.id, "eval_pair_accuracy");
    const auto ece = series(store, run.id, "eval_ece");
    const auto spearmanSeries = series(store, run.id, "eval_spearman");
    const auto sequenceEce = series(store, run.id, "eval_sequence_ece");
    const auto rerank = series(store, run.id, "eval_rerank_win_rate");
    const nlohmann::json labellingConfig = config.value("labeling", nlohmann::json::object());
    const std::string policy = labellingConfig.value("policy", std::string("teacher-preferred"));
    const std::string labellingText = run.method == "seqkd" || run.method == "sft" || run.method == "word-kd"
                                          ? std::string("no pairs (method " + run.method + ")")
                                          : policy == "judge" ? "judge:" + labellingConfig.value("judge", std::string("rouge-l")) + " (uses annotations)"
                                                              : policy + " (annotation-free)";
    heading("Summary");
    table({{"", "value"},
           {"optimiser steps", std::to_string(std::max<int64_t>(0, loss.empty() ? 0 : loss.back().step))},
           {"training pairs", std::to_string(store.pairs().pairCount(run.id, -1, "train"))},
           {"held-out pairs", std::to_string(store.pairs().pairCount(run.id, 0, "validation"))},
           {"final training loss", fixedText(last(loss), 4)},
           {"held-out pair ranking accuracy, step 0 -> last", percentText(first(pairAccuracy)) + " -> " + percentText(last(pairAccuracy))},
           {"token ECE (15 bins), step 0 -> last", fixedText(first(ece), 4) + " -> " + fixedText(last(ece), 4)},
           {"sequence calibration (Spearman), step 0 -> last", fixedText(first(spearmanSeries)) + " -> " + fixedText(last(spearmanSeries))},
           {"sequence-level preference ECE, step 0 -> last", fixedText(first(sequenceEce), 4) + " -> " + fixedText(last(sequenceEce), 4)},
           {"rerank@N win rate (the likeliest sample against the others), step 0 -> last", percentText(first(rerank)) + " -> " + percentText(last(rerank))},
           {"pair labelling", labellingText}});

    // Pair quality before training.
    heading("Pair quality (held-out prompts, before training)");
    if (const auto quality = store.results().evaluations(run.id, "pair_quality"); !quality.empty()) {
        const auto q = nlohmann::json::parse(quality.back().resultJson);
        paragraph("For each labelling policy, on the outputs pair generation drew for " + std::to_string(q.value("prompts", int64_t(0)))
                  + " validation prompts: how often the side it prefers is the better one by ROUGE-L against the reference. Pairs the "
                    "reference cannot decide (equal ROUGE-L) are counted apart. This run trains with " + labellingText + ".");
        std::vector<std::vector<std::string>> rows = {{"policy", "uses annotations", "pairs", "preferred side better", "worse", "undecided", "dropped", "agreement"}};
        for (const auto &p : q.value("policies", nlohmann::json::array())) {
            const auto accuracy = p.value("accuracy", nlohmann::json());
            rows.push_back({p.value("policy", std::string("?")), p.value("uses_annotations", false) ? "yes" : "no",
                            std::to_string(p.value("pairs", int64_t(0))), std::to_string(p.value("agree", int64_t(0))),
                            std::to_string(p.value("disagree", int64_t(0))), std::to_string(p.value("reference_ties", int64_t(0))),
                            std::to_string(p.value("dropped", int64_t(0))), accuracy.is_number() ? percentText(accuracy.get<double>()) : "-"});
        }
        table(rows);
    } else {
        paragraph("Not measured: it needs held-out prompts with references (eval.prompts > 0) and a teacher.");
    }

    // Curves.
    heading("Training curves");
    const std::string colour = methodColour(run.method);
    for (const auto &spec : trainingCharts()) {
        if (spec.pairMethodsOnly && accuracy.empty())
            continue;
        std::vector<ChartSeries> lines;
        for (const auto &l : spec.lines) {
            if (l.perRank) {
                for (const auto &name : store.runs().metricNames(run.id))
                    if (const int rank = rankOfMetric(l, name); rank >= 0)
                        lines.push_back(line(l.label + " " + std::to_string(rank), rankColour(rank), points(series(store, run.id, name)), true));
                continue;
            }
            auto data = points(series(store, run.id, l.metric));
            if (l.role == LineRole::Smoothed)
                data = smoothed(data);
            lines.push_back(line(l.label, lineColour(l.role, run.method), std::move(data), l.role == LineRole::Secondary));
        }
        LineChart c = makeChart(spec.title, spec.xLabel, spec.yLabel, std::move(lines), spec.yMin, spec.yMax);
        chart(spec.id + ".svg", renderLineChart(c));
    }

    // Reliability before / after.
    const auto calibrations = store.results().evaluations(run.id, "calibration");
    heading("Reliability diagrams");
    if (calibrations.size() >= 1) {
        const auto before = nlohmann::json::parse(calibrations.front().resultJson);
        const auto after = nlohmann::json::parse(calibrations.back().resultJson);
        if (before.contains("token_calibration")) {
            std::vector<std::pair<std::string, CalibrationCurve>> curves = {
                {"step " + std::to_string(calibrations.front().step), curveFromJson(before["token_calibration"])}};
            if (calibrations.size() > 1)
                curves.emplace_back("step " + std::to_string(calibrations.back().step), curveFromJson(after["token_calibration"]));
            chart("reliability.svg", renderReliabilityDiagram(reliabilityTitle, curves, {"#8c564b", colour}));
        }
        auto preference = [](const nlohmann::json &doc) -> std::optional<CalibrationCurve> {
            if (!doc.contains("sequence_calibration") || !doc["sequence_calibration"].contains("preference"))
                return std::nullopt;
            return curveFromJson(doc["sequence_calibration"]["preference"]);
        };
        if (const auto first = preference(before)) {
            std::vector<std::pair<std::string, CalibrationCurve>> curves = {{"step " + std::to_string(calibrations.front().step), *first}};
            if (const auto last = preference(after); last && calibrations.size() > 1)
                curves.emplace_back("step " + std::to_string(calibrations.back().step), *last);
            chart("sequence-reliability.svg",
                  renderReliabilityDiagram("Sequence-level reliability: sigma(s(y1) - s(y2)) against which sample is better by the reference", curves,
                                           {"#8c564b", colour}));
        }
    } else {
        paragraph("No calibration evaluation was recorded (eval.prompts is 0, or the run has not started training).");
    }

    // Test evaluation.
    heading("Generation quality");
    const auto tests = store.results().evaluations(run.id, "generation");
    if (tests.empty()) {
        paragraph("Not evaluated yet: plad eval " + run.id + " --workspace WORKSPACE --data FILE --against initial writes it into the run.");
    }
    for (const auto &evaluation : tests) {
        const auto t = nlohmann::json::parse(evaluation.resultJson);
        paragraph(std::to_string(t.value("prompts", 0)) + " prompts of " + t.value("data", std::string("?")) + ", "
                  + t.value("decoding", std::string("greedy")) + " decoding, judge " + t.value("judge", std::string("ROUGE-L F1 against the reference"))
                  + " (evaluated at step " + std::to_string(evaluation.step)
                  + "); win rates count the prompts where the judge prefers one output, with a 95% bootstrap interval over prompts.");
        std::vector<std::vector<std::string>> rouge = {
            {"model", "ROUGE-1 F1", "ROUGE-2 F1", "ROUGE-L F1", "tokens: mean", "median", "10th-90th percentile", "no EOS"}};
        for (const auto &m : t["models"]) {
            const auto lengths = m.value("token_lengths", nlohmann::json::object());
            auto length = [&](const char *key) { return lengths.contains(key) ? std::to_string(lengths[key].get<int64_t>()) : std::string("-"); };
            rouge.push_back({m.value("name", m.value("model", std::string("?"))), fixedText(m["rouge"]["rouge1"]["f"].get<double>(), 4),
                             fixedText(m["rouge"]["rouge2"]["f"].get<double>(), 4), fixedText(m["rouge"]["rougeL"]["f"].get<double>(), 4),
                             fixedText(m.value("mean_tokens", 0.0), 1), length("median"), length("p10") + " - " + length("p90"),
                             std::to_string(m.value("ended_without_eos", int64_t{0}))});
        }
        table(rouge);
        std::vector<std::vector<std::string>> wins = {{"comparison", "wins", "losses", "ties", "win rate", "95% interval"}};
        for (const auto &h : t.value("head_to_head", nlohmann::json::array()))
            wins.push_back({h.value("a", std::string("?")) + " vs " + h.value("b", std::string("?")), std::to_string(h["wins"].get<int64_t>()),
                            std::to_string(h["losses"].get<int64_t>()), std::to_string(h["ties"].get<int64_t>()),
                            percentText(h["win_rate"].get<double>()),
                            h.contains("win_rate_interval") ? percentText(h["win_rate_interval"]["low"].get<double>()) + " - "
                                                                  + percentText(h["win_rate_interval"]["high"].get<double>())
                                                            : "-"});
        table(wins);
    }
    // The last evaluation's prompts, where the first head-to-head went worst and best.
    for (auto it = tests.rbegin(); it != tests.rend(); ++it) {
        const auto t = nlohmann::json::parse(it->resultJson);
        const auto rows = t.value("per_prompt", nlohmann::json::array());
        if (rows.empty() || t.value("head_to_head", nlohmann::json::array()).empty())
            continue;
        const std::string a = t["head_to_head"][0].value("a", std::string("?")), b = t["head_to_head"][0].value("b", std::string("?"));
        auto rouge = [](const nlohmann::json &row, size_t m) {
            const auto &o = row.value("outputs", nlohmann::json::array());
            return m < o.size() ? o[m].value("rougeL_f", 0.0) : 0.0;
        };
        auto outcome = [](const nlohmann::json &row) {
            const auto &v = row.value("verdicts", nlohmann::json::array());
            return v.empty() ? 0 : v[0].value("outcome", 0);
        };
        std::vector<size_t> losses, wins;
        for (size_t i = 0; i < rows.size(); ++i)
            (outcome(rows[i]) < 0 ? losses : outcome(rows[i]) > 0 ? wins : std::vector<size_t>{}).push_back(i);
        auto byDifference = [&](size_t x, size_t y) { return rouge(rows[x], 0) - rouge(rows[x], 1) < rouge(rows[y], 0) - rouge(rows[y], 1); };
        std::stable_sort(losses.begin(), losses.end(), byDifference);
        std::stable_sort(wins.begin(), wins.end(), [&](size_t x, size_t y) { return byDifference(y, x); });
        losses.resize(std::min<size_t>(losses.size(), 6));
        wins.resize(std::min<size_t>(wins.size(), 3));
        heading("Prompt-by-prompt comparison");
        paragraph("From the evaluation at step " + std::to_string(it->step) + ": the " + std::to_string(losses.size()) + " prompts where " + a
                  + " lost to " + b + " by the widest ROUGE-L margin, then the " + std::to_string(wins.size())
                  + " it won by the widest (of " + std::to_string(rows.size()) + " prompts; the Evaluate area lists them all). "
                  + "Underlined: words of an output the reference lacks.");
        std::string html;
        std::vector<std::vector<std::string>> md = {{"prompt", "verdict", "reference", a, b, "ROUGE-L difference"}};
        for (const auto *group : {&losses, &wins}) {
            for (const size_t i : *group) {
                const auto &row = rows[i];
                const std::string prompt = row.value("prompt", std::string()), reference = row.value("reference", std::string());
                const std::string verdict = outcome(row) < 0 ? "loss" : "win";
                const double difference = rouge(row, 0) - rouge(row, 1);
                html += "<div class=\"pair\"><div><b>" + xmlEscape(row.value("id", std::string())) + "</b>: " + verdict + ", ROUGE-L "
                        + fixedText(rouge(row, 0), 3) + " vs " + fixedText(rouge(row, 1), 3) + "</div><div class=\"prompt\">"
                        + xmlEscape(prompt.substr(0, 600)) + (prompt.size() > 600 ? "..." : "") + "<br><b>Reference:</b> " + xmlEscape(reference)
                        + "</div><div class=\"sides\">";
                std::vector<std::string> texts;
                for (const auto &o : row.value("outputs", nlohmann::json::array())) {
                    const std::string prediction = o.value("prediction", std::string());
                    texts.push_back(prediction);
                    html += "<div class=\"side\"><b>" + xmlEscape(o.value("name", std::string("?"))) + "</b><br>" + wordDiffHtml(prediction, reference)
                            + "</div>";
                }
                html += "</div></div>\n";
                md.push_back({prompt.substr(0, 160), verdict, reference, texts.empty() ? "" : texts[0], texts.size() > 1 ? texts[1] : "",
                              fixedText(difference, 3)});
            }
        }
        blocks.push_back({Block::Gallery, {}, {}, {}, html});
        if (format == ReportFormat::Markdown)
            table(md);
        break;
    }

    // Calibration on the test prompts (the demo study records it).
    if (const auto testCalibration = store.results().evaluations(run.id, "test_calibration"); !testCalibration.empty()) {
        const auto t = nlohmann::json::parse(testCalibration.back().resultJson);
        heading("Calibration on the test prompts");
        paragraph(std::to_string(t.value("samples", int64_t(0))) + " samples per prompt at temperature 1 from each student, " + t.value("data", std::string("?"))
                  + ". Rerank@N: the sample the student finds likeliest against each of its other samples, by ROUGE-L against the reference "
                    "(50% means its likelihood says nothing about quality).");
        auto value = [](const nlohmann::json &doc, const char *key, bool asPercent) {
            const auto v = doc.value(key, nlohmann::json());
            return v.is_number() ? (asPercent ? percentText(v.get<double>()) : fixedText(v.get<double>(), 4)) : std::string("-");
        };
        std::vector<std::vector<std::string>> rows = {{"student", "token ECE", "sequence ECE", "Spearman", "rerank@N win rate", "ROUGE-L of the likeliest sample"}};
        for (const auto &[label, key] : {std::pair{"initial", "initial"}, {"trained", "trained"}}) {
            const auto doc = t.value(key, nlohmann::json::object());
            rows.push_back({label, value(doc, "token_ece", false), value(doc, "sequence_ece", false), value(doc, "spearman", false),
                            value(doc, "rerank_win_rate", true), value(doc, "rerank_rouge_l", false)});
        }
        if (t.contains("change")) {
            // Trained minus initial, with paired bootstrap intervals over the prompts.
            auto change = [](const nlohmann::json &i, bool asPoints) {
                if (!i.value("estimate", nlohmann::json()).is_number())
                    return std::string("-");
                auto f = [&](const char *key) { return fixedText((asPoints ? 100 : 1) * i[key].get<double>(), asPoints ? 1 : 4); };
                return f("estimate") + " [" + f("low") + ", " + f("high") + "]" + (asPoints ? " points" : "");
            };
            rows.push_back({"change (95% interval)", "", change(t["change"]["sequence_ece"], false), "", change(t["change"]["rerank_win_rate"], true), ""});
        }
        table(rows);
    }

    // The workspace's other runs.
    heading("Runs in this workspace");
    std::vector<std::vector<std::string>> others = {
        {"run", "method", "status", "steps", "held-out ranking accuracy", "token ECE", "Spearman", "first comparison (win rate, 95% interval)"}};
    LineChart overlay = makeChart("Held-out pair ranking accuracy by run", "optimiser step", "share of held-out pairs ranked right", {}, 0.0, 1.0);
    for (const auto &r : store.runs().list()) {
        const auto acc = series(store, r.id, "eval_pair_accuracy");
        std::string comparison = "-";
        if (const auto generation = store.results().evaluations(r.id, "generation"); !generation.empty()) {
            const auto g = nlohmann::json::parse(generation.back().resultJson);
            if (g.contains("head_to_head") && !g["head_to_head"].empty()) {
                const auto &h = g["head_to_head"][0];
                comparison = "vs " + h.value("b", std::string("?")) + ": " + percentText(h["win_rate"].get<double>());
                if (h.contains("win_rate_interval"))
                    comparison += " (" + percentText(h["win_rate_interval"]["low"].get<double>()) + " - "
                                  + percentText(h["win_rate_interval"]["high"].get<double>()) + ")";
            }
        }
        others.push_back({r.id + (r.id == run.id ? " (this run)" : ""), r.method, toString(r.status),
                          std::to_string(std::max<int64_t>(0, store.runs().lastMetricStep(r.id))), percentText(last(acc)),
                          fixedText(last(series(store, r.id, "eval_ece")), 4), fixedText(last(series(store, r.id, "eval_spearman"))), comparison});
        if (!acc.empty())
            overlay.series.push_back(line(r.id, methodColour(r.method), points(acc), r.id != run.id));
    }
    table(others);
    if (overlay.series.size() > 1)
        chart("runs.svg", renderLineChart(overlay));

    // Gallery: the pairs the student finds hardest now.
    heading("Pair gallery");
    auto prompts = store.pairs().promptsById(run.id);
    auto outputs = store.pairs().outputsById(run.id);
    auto pairs = store.pairs().list(run.id);
    std::erase_if(pairs, [&](const StoredPair &p) { return prompts[p.promptId].split != "train"; });
    std::stable_sort(pairs.begin(), pairs.end(), [](const StoredPair &a, const StoredPair &b) {
        return a.currentLoss.value_or(-1) > b.currentLoss.value_or(-1);
    });
    if (pairs.size() > 8)
        pairs.resize(8);
    std::optional<Tokenizer> tokenizer;
    try {
        tokenizer = Tokenizer::load(config["student"]["model"].get<std::string>());
    } catch (const std::exception &) {
        // the student's directory moved: the gallery shows plain text
    }
    if (pairs.empty()) {
        paragraph("No pairs (method " + run.method + " trains on none).");
    } else {
        paragraph("The " + std::to_string(pairs.size())
                  + " training pairs with the highest loss at their last step. Tokens are tinted by the initial student's log-probability "
                    "(red: unlikely, green: likely; hover for the value).");
        std::string html;
        std::vector<std::vector<std::string>> rows = {{"pair", "prompt", "chosen (y+)", "rejected (y-)", "margin now", "labeller"}};
        for (const auto &p : pairs) {
            const auto &chosen = outputs.at(p.chosenOutput), &rejected = outputs.at(p.rejectedOutput);
            const std::string prompt = prompts[p.promptId].prompt;
            const std::string marginText = p.currentMargin ? fixedText(*p.currentMargin) : fixedText(p.initialMargin) + " (initial)";
            html += "<div class=\"pair\"><div><b>pair " + std::to_string(p.id) + "</b>, " + xmlEscape(p.labeller) + ", margin " + marginText
                    + (p.currentLoss ? ", loss " + fixedText(*p.currentLoss) : "") + "</div><div class=\"prompt\">"
                    + xmlEscape(prompt.substr(0, 600)) + (prompt.size() > 600 ? "..." : "") + "</div><div class=\"sides\"><div class=\"side\"><b>"
                    + toString(chosen.source) + " (chosen)</b><br>" + tintedTokensHtml(chosen, tokenizer ? &*tokenizer : nullptr)
                    + "</div><div class=\"side\"><b>" + toString(rejected.source) + " (rejected)</b><br>"
                    + tintedTokensHtml(rejected, tokenizer ? &*tokenizer : nullptr) + "</div></div></div>\n";
            rows.push_back({std::to_string(p.id), prompt.substr(0, 160), chosen.text, rejected.text, marginText, p.labeller});
        }
        blocks.push_back({Block::Gallery, {}, {}, {}, html});
        if (format == ReportFormat::Markdown)
            table(rows);
    }

    // Configuration and environment.
    heading("Configuration");
    blocks.push_back({Block::Code, config.dump(2), {}, {}, {}});
    heading("Environment");
    const auto environments = store.results().evaluations(run.id, "environment");
    if (environments.empty()) {
        paragraph("Not recorded.");
    } else {
        const auto env = nlohmann::json::parse(environments.back().resultJson);
        std::vector<std::vector<std::string>> rows = {{"", "value"}};
        for (auto it = env.begin(); it != env.end(); ++it)
            rows.push_back({it.key(), it->is_string() ? it->get<std::string>() : it->dump()});
        table(rows);
    }

    report.document = format == ReportFormat::Html ? renderHtml(title, blocks) : renderMarkdown(blocks, assetsFolder, report.assets);
    return report;
}

fs::path writeReport(Workspace &store, const std::string &runId, ReportFormat format, const fs::path &out)
{
    const std::string assetsFolder = out.stem().string() + ".assets";
    const RenderedReport report = renderReport(store, runId, format, assetsFolder);
    std::error_code ec;
    if (out.has_parent_path())
        fs::create_directories(out.parent_path(), ec);
    if (!report.assets.empty()) {
        const fs::path assets = out.parent_path() / assetsFolder;
        fs::create_directories(assets, ec);
        if (ec)
            throw Error(assets.string() + ": cannot create the chart directory: " + ec.message());
        for (const auto &[name, content] : report.assets)
            writeFileAtomically(assets / name, content);
    }
    writeFileAtomically(out, report.document);
    return out;
}

} // namespace plad
