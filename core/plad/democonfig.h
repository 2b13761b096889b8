#pragma once

// The embedded demo's run configuration, shared by `plad demo` and the workbench's "Load the
// demo": the settings chosen on the demo's validation split (docs/demo-study.md).

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace plad {

struct DemoBudget
{
    int64_t prompts = 1500;      ///< training prompts (pairs are generated for each)
    int64_t steps = 240;         ///< optimiser steps per method
    int64_t evalPrompts = 64;    ///< held-out prompts of the calibration diagnostics and the pair-quality readout
    int64_t perPrompt = 4;       ///< k: teacher and student samples per prompt
};

/**
 * The run config of `method` with labelling `policy` on the demo task in `demoDirectory` (its
 * student, teacher and data). `teacher` is the teacher object ({"type": "local", ...} or a
 * JSONL of outputs).
 */
nlohmann::json demoRunConfig(const std::filesystem::path &demoDirectory, const std::string &method, const nlohmann::json &teacher,
                             const DemoBudget &budget, const std::string &policy = "consensus");

} // namespace plad
