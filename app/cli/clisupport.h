#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace CLI {
class App;
}

namespace plad {
struct ImportOptions;
}

namespace plad::cli {

/** Parses "3,17,42" into token ids; throws plad::Error naming the option on bad input. */
std::vector<int64_t> parseIdList(const std::string &text, const std::string &option);

/**
 * Adds --format, --prompt-field, --response-field, --id-field, --group-field and --skip-bad-lines
 * to `command`; call applyDatasetFormat() in the callback to turn `format` into options.format.
 */
void addDatasetOptions(CLI::App *command, std::string &format, ImportOptions &options);
void applyDatasetFormat(const std::string &format, ImportOptions &options);

/** Prints a JSON document on one line to stdout. */
void printJson(const nlohmann::json &doc);

} // namespace plad::cli
