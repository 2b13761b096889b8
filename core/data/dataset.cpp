#include "data/dataset.h"

#include "common/error.h"
#include "common/compression.h"
#include "common/fileio.h"
#include "data/conversation.h"

#include <fstream>
#include <set>
#include <string_view>
#include <sstream>

#include <nlohmann/json.hpp>

namespace plad {

namespace {

struct FormatName
{
    DatasetFormat format;
    const char *name;
};

constexpr FormatName kFormatNames[] = {
    {DatasetFormat::Jsonl, "jsonl"},         {DatasetFormat::AnthropicHH, "hh"},       {DatasetFormat::TlDr, "tldr"},
    {DatasetFormat::TrlPreference, "trl"},   {DatasetFormat::Messages, "messages"},    {DatasetFormat::ShareGpt, "sharegpt"},
    {DatasetFormat::Alpaca, "alpaca"},       {DatasetFormat::UltraFeedback, "ultrafeedback"}, {DatasetFormat::Auto, "auto"},
};

} // namespace

DatasetFormat parseDatasetFormat(const std::string &name)
{
    for (const auto &f : kFormatNames)
        if (name == f.name)
            return f.format;
    if (name == "anthropic-hh")
        return DatasetFormat::AnthropicHH;
    if (name == "trl-preference")
        return DatasetFormat::TrlPreference;
    std::string names;
    for (const auto &f : kFormatNames)
        names += (names.empty() ? "" : ", ") + std::string(f.name);
    throw ConfigError("unknown dataset format \"" + name + "\" (use " + names + ")");
}

std::string toString(DatasetFormat format)
{
    for (const auto &f : kFormatNames)
        if (format == f.format)
            return f.name;
    return "?";
}

std::vector<std::string> datasetFormatNames()
{
    std::vector<std::string> names;
    for (const auto &f : kFormatNames)
        names.emplace_back(f.name);
    return names;
}

DatasetFormat detectDatasetFormat(const nlohmann::ordered_json &doc)
{
    if (!doc.is_object())
        return DatasetFormat::Jsonl;
    auto has = [&](const char *field) { return doc.contains(field) && !doc[field].is_null(); };
    if (has("messages") && doc["messages"].is_array())
        return DatasetFormat::Messages;
    if (has("conversations") && doc["conversations"].is_array())
        return DatasetFormat::ShareGpt;
    if (has("instruction") && has("completions"))
        return DatasetFormat::UltraFeedback;
    if (has("instruction") && has("output"))
        return DatasetFormat::Alpaca;
    if (has("prompt") && has("completion") && doc["prompt"].is_array())
        return DatasetFormat::Messages;
    if (has("chosen") && has("rejected")) {
        if (doc["chosen"].is_array())
            return DatasetFormat::TrlPreference;
        if (has("prompt"))
            return DatasetFormat::TrlPreference;
        return DatasetFormat::AnthropicHH;
    }
    if (has("post") && has("summary"))
        return DatasetFormat::TlDr;
    return DatasetFormat::Jsonl;
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

using Json = nlohmann::ordered_json;

std::string stringField(const Json &doc, const std::string &field, bool required)
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

DatasetRecord fromConversation(ConversationRecord c)
{
    DatasetRecord r;
    r.prompt = conversationTranscript(c.prompt);
    r.messages = c.prompt.dump();
    r.reference = std::move(c.response);
    if (c.rejected) {
        r.rejected = std::move(*c.rejected);
        if (r.rejected.empty())
            throw FormatError("empty rejected response");
    }
    r.id = std::move(c.id);
    return r;
}

DatasetRecord parseRecord(const Json &doc, const ImportOptions &options, DatasetFormat format, int64_t lineNumber)
{
    if (!doc.is_object())
        throw FormatError("expected a JSON object");
    DatasetRecord r;
    switch (format) {
    case DatasetFormat::Auto: // resolved by the caller
    case DatasetFormat::Messages:
        r = fromConversation(fromMessagesRecord(doc));
        break;
    case DatasetFormat::ShareGpt:
        r = fromConversation(fromShareGptRecord(doc));
        break;
    case DatasetFormat::Alpaca:
        r = fromConversation(fromAlpacaRecord(doc));
        break;
    case DatasetFormat::UltraFeedback:
        r = fromConversation(fromUltraFeedbackRecord(doc));
        break;
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
        if ((doc.contains("prompt") && doc["prompt"].is_array()) || (doc.contains("chosen") && doc["chosen"].is_array())) {
            r = fromConversation(fromTrlConversationalRecord(doc));
            break;
        }
        r.prompt = stringField(doc, "prompt", true);
        r.reference = stringField(doc, "chosen", true);
        r.rejected = stringField(doc, "rejected", true);
        r.id = stringField(doc, "id", false);
        break;
    }
    if (format != DatasetFormat::Jsonl) {
        // Named id and group fields apply to every format.
        if (!options.fields.id.empty() && options.fields.id != "id")
            r.id = stringField(doc, options.fields.id, true);
        if (!options.fields.group.empty())
            r.group = stringField(doc, options.fields.group, false);
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

namespace {

/** One record's text and the line it starts on. */
struct RawRecord
{
    int64_t line = 0;
    std::string_view text;
};

std::vector<RawRecord> jsonlRecords(std::string_view text)
{
    std::vector<RawRecord> out;
    int64_t line = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        ++line;
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view l = text.substr(pos, end - pos);
        if (!l.empty() && l.back() == '\r')
            l.remove_suffix(1);
        if (line == 1 && l.substr(0, 3) == "\xEF\xBB\xBF")
            l.remove_prefix(3);
        if (l.find_first_not_of(" \t") != std::string_view::npos)
            out.push_back({line, l});
        pos = end + 1;
    }
    return out;
}

bool isJsonSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/**
 * The elements of a top-level JSON array, each with the line it starts on, found by a scan that
 * follows strings and brackets (each element is parsed on its own afterwards, so one bad record
 * can be reported and skipped). A broken array structure throws FormatError with its line.
 */
std::vector<RawRecord> jsonArrayRecords(std::string_view text, const std::string &file)
{
    std::vector<RawRecord> out;
    int64_t line = 1;
    size_t i = 0;
    auto fail = [&](const std::string &what) {
        throw FormatError(file + ":" + std::to_string(line) + ": " + what);
    };
    auto skipSpace = [&] {
        while (i < text.size() && isJsonSpace(text[i])) {
            line += text[i] == '\n' ? 1 : 0;
            ++i;
        }
    };
    if (text.substr(0, 3) == "\xEF\xBB\xBF")
        i = 3;
    skipSpace();
    if (i >= text.size() || text[i] != '[')
        fail("expected a JSON array of records");
    ++i;
    skipSpace();
    if (i < text.size() && text[i] == ']') {
        ++i;
    } else {
        for (;;) {
            skipSpace();
            const size_t start = i;
            const int64_t startLine = line;
            int depth = 0;
            bool inString = false;
            for (; i < text.size(); ++i) {
                const char c = text[i];
                if (c == '\n')
                    ++line;
                if (inString) {
                    if (c == '\\')
                        ++i; // an escaped character cannot end the string (and is never a newline in valid JSON)
                    else if (c == '"')
                        inString = false;
                    continue;
                }
                if (c == '"')
                    inString = true;
                else if (c == '{' || c == '[')
                    ++depth;
                else if (c == '}' || c == ']') {
                    if (depth == 0)
                        break;
                    --depth;
                } else if (c == ',' && depth == 0)
                    break;
            }
            if (i >= text.size())
                fail("the JSON array is not closed (a record starting on line " + std::to_string(startLine) + " runs to the end of the file)");
            std::string_view element = text.substr(start, i - start);
            while (!element.empty() && isJsonSpace(element.back()))
                element.remove_suffix(1);
            if (element.empty())
                fail("empty element in the JSON array");
            out.push_back({startLine, element});
            if (text[i] == ']') {
                ++i;
                break;
            }
            if (text[i] != ',')
                fail(std::string("unexpected '") + text[i] + "' in the JSON array");
            ++i;
        }
    }
    skipSpace();
    if (i != text.size())
        fail("text after the end of the JSON array");
    return out;
}

bool looksLikeJsonArray(std::string_view text)
{
    size_t i = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
    while (i < text.size() && isJsonSpace(text[i]))
        ++i;
    return i < text.size() && text[i] == '[';
}

} // namespace

ImportedDataset importDataset(const std::filesystem::path &path, const ImportOptions &options)
{
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw Error(path.string() + ": cannot open dataset file");
    const std::string text = readMaybeCompressed(path);
    const std::vector<RawRecord> raw = looksLikeJsonArray(text) ? jsonArrayRecords(text, path.string()) : jsonlRecords(text);
    ImportedDataset result;
    std::set<std::pair<std::string, std::string>> seen;
    std::set<std::string> ids;
    for (const RawRecord &item : raw) {
        const int64_t number = item.line;
        ++result.report.lines;
        DatasetRecord record;
        DatasetFormat format = options.format;
        try {
            Json doc;
            try {
                doc = Json::parse(item.text);
            } catch (const nlohmann::json::exception &e) { // parse_error, or out_of_range for 1e999
                std::string what = e.what();
                if (const auto pos = what.find("syntax error"); pos != std::string::npos)
                    what = what.substr(pos);
                throw FormatError("invalid JSON: " + what);
            }
            if (format == DatasetFormat::Auto)
                format = detectDatasetFormat(doc);
            record = parseRecord(doc, options, format, number);
            if (ids.count(record.id))
                throw FormatError("duplicate id \"" + record.id + "\"");
        } catch (const std::exception &e) {
            // A record's own problem (FormatError), or a value of a type no reader expected
            // (the JSON library's type errors, with the field's place): the line is bad.
            const auto *json = dynamic_cast<const nlohmann::json::exception *>(&e);
            if (!json && !dynamic_cast<const FormatError *>(&e))
                throw;
            const std::string message = path.string() + ":" + std::to_string(number) + ": " + (json ? jsonErrorText(*json) : std::string(e.what()));
            if (!options.skipBadLines)
                throw FormatError(message + " (pass --skip-bad-lines to skip and count such lines)");
            ++result.report.skippedBadLines;
            if (result.report.problems.size() < 20)
                result.report.problems.push_back(message);
            continue;
        }
        const std::string &promptKey = record.isConversational() ? record.messages : record.prompt;
        if (options.removeDuplicates && !seen.insert({promptKey, record.reference}).second) {
            ++result.report.duplicatesRemoved;
            continue;
        }
        ids.insert(record.id);
        ++result.report.formats[toString(format)];
        result.report.conversational += record.isConversational() ? 1 : 0;
        result.records.push_back(std::move(record));
    }
    result.report.imported = static_cast<int64_t>(result.records.size());
    if (result.records.empty())
        throw Error(path.string() + ": the dataset is empty (" + std::to_string(result.report.lines) + " records read, "
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
    if (record.isConversational())
        doc["messages"] = nlohmann::json::parse(record.messages);
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
