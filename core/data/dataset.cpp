#include "data/dataset.h"

#include "common/error.h"
#include "common/compression.h"
#include "common/fileio.h"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace plad {

DatasetFormat parseDatasetFormat(const std::string &name)
{
    if (name == "jsonl")
        return DatasetFormat::Jsonl;
    if (name == "hh" || name == "anthropic-hh")
        return DatasetFormat::AnthropicHH;
    if (name == "tldr")
        return DatasetFormat::TlDr;
    if (name == "trl" || name == "trl-preference")
        return DatasetFormat::TrlPreference;
    throw ConfigError("unknown dataset format \"" + name + "\" (use jsonl, hh, tldr or trl)");
}

std::string toString(DatasetFormat format)
{
    switch (format) {
    case DatasetFormat::Jsonl: return "jsonl";
    case DatasetFormat::AnthropicHH: return "hh";
    case DatasetFormat::TlDr: return "tldr";
    case DatasetFormat::TrlPreference: return "trl";
    }
    return "?";
}

std::pair<std::string, std::string> splitHhTranscript(const std::string &transcript)
{
    static const std::string marker = "\n\nAssistant:";
    const auto pos = transcript.rfind(marker);
    if (pos == std::string::npos)
        throw FormatError("transcript has no \"\\n\\nAssistant:\" turn");
    std::string reply = transcript.substr(pos + marker.size());
    if (!reply.empty() && reply.front() == ' ')
        reply.erase(reply.begin());
    return {transcript.substr(0, pos + marker.size()), reply};
}

namespace {

std::string stringField(const nlohmann::json &doc, const std::string &field, bool required)
{
    if (!doc.contains(field) || doc[field].is_null()) {
        if (required)
            throw FormatError("missing field \"" + field + "\"");
        return {};
    }
    const auto &v = doc[field];
    if (v.is_string())
        return v.get<std::string>();
    if (v.is_number_integer())
        return std::to_string(v.get<int64_t>());
    throw FormatError("field \"" + field + "\" must be a string, found " + std::string(v.type_name()));
}

DatasetRecord parseRecord(const nlohmann::json &doc, const ImportOptions &options, int64_t lineNumber)
{
    if (!doc.is_object())
        throw FormatError("expected a JSON object");
    DatasetRecord r;
    switch (options.format) {
    case DatasetFormat::Jsonl:
        r.prompt = stringField(doc, options.fields.prompt, true);
        r.reference = stringField(doc, options.fields.reference, true);
        if (!options.fields.id.empty())
            r.id = stringField(doc, options.fields.id, true);
        if (!options.fields.group.empty())
            r.group = stringField(doc, options.fields.group, false); // absent: the record is its own group
        break;
    case DatasetFormat::AnthropicHH: {
        const std::string chosen = stringField(doc, "chosen", true);
        const std::string rejected = stringField(doc, "rejected", true);
        auto [prompt, chosenReply] = splitHhTranscript(chosen);
        auto [rejectedPrompt, rejectedReply] = splitHhTranscript(rejected);
        if (rejectedPrompt != prompt)
            throw FormatError("\"chosen\" and \"rejected\" transcripts differ before their last assistant turn");
        r.prompt = std::move(prompt);
        r.reference = std::move(chosenReply);
        r.rejected = std::move(rejectedReply);
        break;
    }
    case DatasetFormat::TlDr: {
        const std::string post = stringField(doc, "post", true);
        const std::string title = stringField(doc, "title", false);
        const std::string subreddit = stringField(doc, "subreddit", false);
        std::string prompt;
        if (!subreddit.empty())
            prompt += "SUBREDDIT: r/" + subreddit + "\n";
        if (!title.empty())
            prompt += "TITLE: " + title + "\n";
        prompt += "POST: " + post;
        r.prompt = std::move(prompt);
        r.reference = stringField(doc, "summary", true);
        r.id = stringField(doc, "id", false);
        break;
    }
    case DatasetFormat::TrlPreference:
        if (doc.contains("prompt") && doc["prompt"].is_array())
            throw FormatError("conversational TRL records (lists of messages) are not supported; use string fields");
        r.prompt = stringField(doc, "prompt", true);
        r.reference = stringField(doc, "chosen", true);
        r.rejected = stringField(doc, "rejected", true);
        r.id = stringField(doc, "id", false);
        break;
    }
    if (r.id.empty())
        r.id = "line-" + std::to_string(lineNumber);
    if (r.group.empty())
        r.group = r.id;
    if (r.prompt.empty())
        throw FormatError("empty prompt");
    if (r.reference.empty())
        throw FormatError("empty reference response");
    return r;
}

uint64_t splitmix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// Stable across platforms and runs (std::hash is neither).
double unitHash(uint64_t seed, const std::string &key)
{
    uint64_t h = 0xCBF29CE484222325ull ^ splitmix(seed);
    for (unsigned char c : key) {
        h ^= c;
        h *= 0x100000001B3ull;
    }
    return static_cast<double>(splitmix(h) >> 11) / static_cast<double>(1ull << 53);
}

} // namespace

ImportedDataset importDataset(const std::filesystem::path &path, const ImportOptions &options)
{
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw Error(path.string() + ": cannot open dataset file");
    std::istringstream in(readMaybeCompressed(path));
    ImportedDataset result;
    std::set<std::pair<std::string, std::string>> seen;
    std::set<std::string> ids;
    std::string line;
    int64_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        ++result.report.lines;
        DatasetRecord record;
        try {
            nlohmann::json doc;
            try {
                doc = nlohmann::json::parse(line);
            } catch (const nlohmann::json::parse_error &e) {
                std::string what = e.what();
                if (const auto pos = what.find("syntax error"); pos != std::string::npos)
                    what = what.substr(pos);
                throw FormatError("invalid JSON: " + what);
            }
            record = parseRecord(doc, options, number);
            if (ids.count(record.id))
                throw FormatError("duplicate id \"" + record.id + "\"");
        } catch (const FormatError &e) {
            const std::string message = path.string() + ":" + std::to_string(number) + ": " + e.what();
            if (!options.skipBadLines)
                throw FormatError(message + " (pass --skip-bad-lines to skip and count such lines)");
            ++result.report.skippedBadLines;
            if (result.report.problems.size() < 20)
                result.report.problems.push_back(message);
            continue;
        }
        if (options.removeDuplicates && !seen.insert({record.prompt, record.reference}).second) {
            ++result.report.duplicatesRemoved;
            continue;
        }
        ids.insert(record.id);
        result.records.push_back(std::move(record));
    }
    result.report.imported = static_cast<int64_t>(result.records.size());
    if (result.records.empty())
        throw Error(path.string() + ": the dataset is empty (" + std::to_string(result.report.lines) + " lines read, "
                    + std::to_string(result.report.skippedBadLines) + " skipped as malformed)");
    return result;
}

DatasetSplits splitDataset(const std::vector<DatasetRecord> &records, const SplitOptions &options)
{
    if (options.validationFraction < 0 || options.testFraction < 0 || options.validationFraction + options.testFraction >= 1)
        throw ConfigError("validation and test fractions must be non-negative and sum to less than 1");
    DatasetSplits splits;
    for (const auto &r : records) {
        const double u = unitHash(options.seed, r.group);
        if (u < options.testFraction)
            splits.test.push_back(r);
        else if (u < options.testFraction + options.validationFraction)
            splits.validation.push_back(r);
        else
            splits.train.push_back(r);
    }
    return splits;
}

int64_t wordCount(const std::string &text)
{
    int64_t count = 0;
    bool inWord = false;
    for (unsigned char c : text) {
        const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
        if (!space && !inWord)
            ++count;
        inWord = !space;
    }
    return count;
}

DatasetSummary summarize(const std::vector<DatasetRecord> &records, const std::string &unit,
                         int64_t (*lengthOf)(const std::string &, const void *), const void *context)
{
    DatasetSummary s;
    s.unit = unit;
    s.records = static_cast<int64_t>(records.size());
    auto length = [&](const std::string &text) { return lengthOf ? lengthOf(text, context) : wordCount(text); };
    auto bucket = [](int64_t n) {
        int64_t b = 1;
        while (b < n)
            b *= 2;
        return b;
    };
    double promptTotal = 0, referenceTotal = 0;
    bool first = true;
    for (const auto &r : records) {
        const int64_t p = length(r.prompt);
        const int64_t ref = length(r.reference);
        s.withRejected += r.rejected.empty() ? 0 : 1;
        s.promptLengthMin = first ? p : std::min(s.promptLengthMin, p);
        s.promptLengthMax = first ? p : std::max(s.promptLengthMax, p);
        s.referenceLengthMin = first ? ref : std::min(s.referenceLengthMin, ref);
        s.referenceLengthMax = first ? ref : std::max(s.referenceLengthMax, ref);
        first = false;
        promptTotal += static_cast<double>(p);
        referenceTotal += static_cast<double>(ref);
        ++s.promptHistogram[bucket(p)];
        ++s.referenceHistogram[bucket(ref)];
    }
    if (s.records > 0) {
        s.promptLengthMean = promptTotal / static_cast<double>(s.records);
        s.referenceLengthMean = referenceTotal / static_cast<double>(s.records);
    }
    return s;
}

nlohmann::json toJson(const DatasetRecord &record)
{
    nlohmann::json doc = {{"id", record.id}, {"prompt", record.prompt}, {"reference", record.reference}};
    if (!record.rejected.empty())
        doc["rejected"] = record.rejected;
    if (record.group != record.id)
        doc["group"] = record.group;
    return doc;
}

nlohmann::json toJson(const DatasetSummary &s)
{
    auto histogram = [](const std::map<int64_t, int64_t> &h) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto &[upTo, count] : h)
            out.push_back({{"up_to", upTo}, {"records", count}});
        return out;
    };
    return {{"records", s.records},
            {"with_rejected", s.withRejected},
            {"unit", s.unit},
            {"prompt_length", {{"min", s.promptLengthMin}, {"mean", s.promptLengthMean}, {"max", s.promptLengthMax}}},
            {"reference_length", {{"min", s.referenceLengthMin}, {"mean", s.referenceLengthMean}, {"max", s.referenceLengthMax}}},
            {"prompt_histogram", histogram(s.promptHistogram)},
            {"reference_histogram", histogram(s.referenceHistogram)}};
}

void writeDatasetJsonl(const std::filesystem::path &path, const std::vector<DatasetRecord> &records)
{
    std::string text;
    for (const auto &r : records)
        text += toJson(r).dump() + "\n";
    writeFileAtomically(path, text);
}

} // namespace plad
