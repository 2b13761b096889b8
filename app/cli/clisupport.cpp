#include "cli/clisupport.h"

#include "common/error.h"
#include "data/dataset.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <iostream>

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
    command->add_option("--format", format, "jsonl, hh (Anthropic-HH), tldr or trl (TRL preference)")->capture_default_str();
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

} // namespace plad::cli
