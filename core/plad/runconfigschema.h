#pragma once

// The schema of the `plad run` document, and the effective-config merge, for editors: the
// workbench's Setup form takes its ranges, choices, defaults and tooltips from here, so the GUI
// and `plad run` cannot disagree about what a file means.

#include "common/configschema.h"

#include <filesystem>

#include <nlohmann/json.hpp>

namespace plad {

/**
 * Every field of a run config (version 1). Defaults are the effective values RunConfig gives an
 * absent field (taken from RunConfig itself, not restated); `when` marks the fields of one
 * teacher type or LLM-judge type. Template fields (prompt templates) are leaves.
 */
const ConfigSchema &runConfigSchema();

/**
 * What `plad run` stores for `doc`: every default filled in, paths absolute (relative ones
 * resolved against `baseDirectory`), never a secret. Throws ConfigError naming the field.
 */
nlohmann::json effectiveRunConfig(const nlohmann::json &doc, const std::filesystem::path &baseDirectory);

} // namespace plad
