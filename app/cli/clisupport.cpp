#include "cli/clisupport.h"

#include "tokenizer/prompttemplate.h"

#include "common/error.h"
#include "common/fileio.h"
#include "data/dataset.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

namespace plad::cli {

std::vector<int64_t> parseIdList(const std::string &text, const std::string &option)
{
    std::vector<int64_t> ids;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find(',', start);
        if (end == std::string::npos)
            end = text.size();
        std::string item = text.substr(start, end - start);
        while (!item.empty() && item.front() == ' ')
            item.erase(item.begin());
        while (!item.empty() && item.back() == ' ')
            item.pop_back();
        int64_t value = 0;
        const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
        if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() || value < 0)
            throw Error(option + ": \"" + item + "\" is not a token id (expected comma-separated non-negative integers, e.g. 3,17,42)");
        ids.push_back(value);
        start = end + 1;
    }
    return ids;
}

void addDatasetOptions(CLI::App *command, std::string &format, ImportOptions &options)
{
    command->add_option("--format", format, "jsonl (fields named below), hh (Anthropic-HH), tldr, trl (TRL preference, strings or messages), messages, sharegpt, alpaca, ultrafeedback, or auto (each record's shape decides); .jsonl or a .json array, optionally .gz/.zst/.lz4")->capture_default_str();
    command->add_option("--prompt-field", options.fields.prompt, "jsonl: field holding the prompt")->capture_default_str();
    command->add_option("--response-field", options.fields.reference, "jsonl: field holding the reference response")
        ->capture_default_str();
    command->add_option("--id-field", options.fields.id, "jsonl: field holding a unique id (default: the line number)");
    command->add_option("--group-field", options.fields.group, "jsonl: records sharing this field never straddle splits");
    command->add_flag("--skip-bad-lines", options.skipBadLines, "skip and count malformed lines instead of failing");
}

void applyDatasetFormat(const std::string &format, ImportOptions &options)
{
    options.format = parseDatasetFormat(format);
}

void printJson(const nlohmann::json &doc)
{
    std::cout << doc.dump() << '\n';
}

namespace {

std::string shellQuote(const std::string &text)
{
    std::string quoted = "'";
    for (char c : text)
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

} // namespace

PythonOutput runPythonScript(const std::string &python, const std::string &script, const std::string &argument)
{
    PythonOutput run;
    const auto dir = std::filesystem::temp_directory_path();
    const std::string stem = "plad-reference-" + std::to_string(::getpid());
    const auto scriptFile = dir / (stem + ".py");
    const auto errors = dir / (stem + ".err");
    writeFileAtomically(scriptFile, script);
    const std::string command = shellQuote(python) + " " + shellQuote(scriptFile.string()) + " " + shellQuote(argument) + " 2>" + shellQuote(errors.string());
    std::string output;
    if (FILE *pipe = ::popen(command.c_str(), "r")) {
        char buffer[65536];
        size_t n = 0;
        while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
            output.append(buffer, n);
        const int status = ::pclose(pipe);
        if (status != 0) {
            std::string err = readTextFile(errors);
            if (err.find("No module named 'torch'") != std::string::npos)
                run.error = python + " has no torch module (install Debian's python3-torch)";
            else
                run.error = python + " failed (status " + std::to_string(WEXITSTATUS(status)) + "): "
                            + (err.size() > 600 ? err.substr(err.size() - 600) : err);
        }
    } else {
        run.error = "cannot run " + python;
    }
    std::error_code ec;
    std::filesystem::remove(scriptFile, ec);
    std::filesystem::remove(errors, ec);
    if (!run.error.empty())
        return run;
    // The last line that starts with '{' (the script may print other lines before it).
    size_t begin = std::string::npos;
    for (size_t at = 0; at < output.size();) {
        if (output[at] == '{')
            begin = at;
        const size_t eol = output.find('\n', at);
        at = eol == std::string::npos ? output.size() : eol + 1;
    }
    try {
        if (begin == std::string::npos)
            throw std::runtime_error("no JSON object");
        run.result = nlohmann::json::parse(output.substr(begin));
    } catch (const std::exception &e) {
        run.error = "unreadable output from the reference script (" + std::string(e.what()) + "): " + output.substr(0, 300);
    }
    return run;
}

std::string fixed(double value, int decimals)
{
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(decimals);
    out << value;
    return out.str();
}

/**
 * A preset name (or "chat": the model's chat template), a format string holding {prompt}, a
 * .jinja chat template file, or a JSON object; empty: the rule of docs/chat-templates.md (the
 * model's prompt_template.json, else its chat template, else plain).
 */
ScratchDirectory::ScratchDirectory()
    : path(std::filesystem::temp_directory_path() / ("plad-bench-" + std::to_string(::getpid())))
{
    std::filesystem::create_directories(path);
}

ScratchDirectory::~ScratchDirectory()
{
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

} // namespace plad::cli
