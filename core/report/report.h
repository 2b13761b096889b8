#pragma once

#include "store/workspace.h"

#include <filesystem>
#include <string>

namespace plad {

enum class ReportFormat { Html, Markdown, Csv };
/** "html", "md", "csv"; throws ConfigError otherwise. */
ReportFormat parseReportFormat(const std::string &name);

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
