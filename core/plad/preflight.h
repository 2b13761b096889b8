#pragma once

// Checks a run configuration before anything starts, in plain language: what will fail, what
// a setting rules out, and what the run will cost. Torch-free: the workbench's setup screen
// calls it (on a worker thread; it reads model configs, tokenizers and the data file).

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

struct PreflightFinding
{
    std::string severity; ///< "error" (the run would fail), "warning" (it runs, but mind this), "info" (estimates)
    std::string topic;    ///< "config", "tokenizer", "context", "memory", "time", "data"
    std::string message;
};

/**
 * Validates `config` (the document `plad run` reads; relative paths against `baseDirectory`)
 * and checks: teacher and student tokenizers (and the methods a mismatch rules out), context
 * length against the data's prompts, memory for teacher + student + optimiser, and a rough
 * time estimate. Never throws for a bad config: the problem is an "error" finding.
 */
std::vector<PreflightFinding> preflightCheck(const nlohmann::json &config, const std::filesystem::path &baseDirectory);

} // namespace plad
