#pragma once

#include "store/workspace.h"

#include <filesystem>
#include <map>
#include <string>

namespace plad {

enum class ReportFormat { Html, Markdown, Csv };
/** "html", "md", "csv"; throws ConfigError otherwise. */
ReportFormat parseReportFormat(const std::string &name);

/** A report as text: the document, and for Markdown its charts as SVG files by name. */
struct RenderedReport
{
    std::string document;
    std::map<std::string, std::string> assets; ///< file name (in `assetsFolder`) -> SVG text
};

/**
 * Builds the report of a run (see writeReport) without touching the disk. Markdown refers to
 * its charts as `assetsFolder/NAME.svg`; the SVG texts are in `assets`.
 */
RenderedReport renderReport(Workspace &store, const std::string &runId, ReportFormat format, const std::string &assetsFolder = "report.assets");

/**
 * Writes the report of a run, built from the run store alone (plus the student's tokenizer to
 * show tokens in the pair gallery, when it is still there): configuration and environment;
 * loss, margin, ranking-accuracy and calibration curves; reliability diagrams before and after;
 * the test evaluation's ROUGE and win rates with intervals; the workspace's other runs beside
 * this one; and a gallery of pairs, tokens tinted by the initial student's log-probability.
 *
 * HTML is one self-contained file (inline SVG charts, no scripts, no network). Markdown writes
 * its charts as SVG files into `<out stem>.assets/` beside it. CSV is one row per step and one
 * column per metric. Returns the path written.
 */
std::filesystem::path writeReport(Workspace &store, const std::string &runId, ReportFormat format, const std::filesystem::path &out);

} // namespace plad
