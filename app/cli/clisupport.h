#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace CLI {
class App;
}

namespace plad {
struct ImportOptions;
struct PromptTemplate;
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


/** What a reference Python script printed, or why it could not run. */
struct PythonOutput
{
    nlohmann::json result; ///< the JSON object it printed (its last line starting with '{')
    std::string error;     ///< non-empty: no result, and why
};

/**
 * Runs `script` (the text of a Python program, written to a temporary file) with `python`,
 * giving it `argument` as its only command-line argument, and reads the JSON object it prints.
 * A missing torch module is reported as "install Debian's python3-torch".
 */
PythonOutput runPythonScript(const std::string &python, const std::string &script, const std::string &argument);

/** `value` with `decimals` digits after the point. */
std::string fixed(double value, int decimals);

/** A scratch folder (in the temporary directory) removed when the benchmark ends. */
struct ScratchDirectory
{
    std::filesystem::path path;
    ScratchDirectory();
    ~ScratchDirectory();
    ScratchDirectory(const ScratchDirectory &) = delete;
    ScratchDirectory &operator=(const ScratchDirectory &) = delete;
};

} // namespace plad::cli
