#pragma once

#include "common/promptinput.h"
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** One example of a task: a prompt, its reference response and, for preference data, a rejected one. */
struct DatasetRecord
{
    std::string id;
    std::string prompt;
    std::string reference; ///< the reference (or chosen) response
    std::string rejected;  ///< empty unless the source has preference pairs
    std::string group;     ///< records of one group always land in the same split (defaults to id)
    /**
     * Conversational records: the prompt conversation as a JSON list of messages (every turn
     * before the response), rendered per model by its chat template; `prompt` then holds a
     * readable transcript for display. Empty for plain-text records.
     */
    std::string messages;

    bool isConversational() const { return !messages.empty(); }
    PromptInput input() const { return {prompt, messages}; }
};

enum class DatasetFormat {
    Jsonl,         ///< any JSONL, fields named by a FieldMapping
    AnthropicHH,   ///< {"chosen", "rejected"} transcripts with "\n\nHuman:" / "\n\nAssistant:" turns
    TlDr,          ///< {"post", "summary"} (+ optional "title", "subreddit")
    TrlPreference, ///< {"prompt", "chosen", "rejected"}: strings, or message lists (conversational)
    Messages,      ///< {"messages": [{"role", "content"}...]} (or TRL {"prompt", "completion"} message lists)
    ShareGpt,      ///< {"conversations": [{"from", "value"}...]}
    Alpaca,        ///< {"instruction", "input", "output"}
    UltraFeedback, ///< binarized {"prompt", "chosen", "rejected"} or raw {"instruction", "completions"}
    Auto,          ///< each record's shape decides (see detectDatasetFormat())
};

/** "jsonl", "hh", "tldr", "trl", "messages", "sharegpt", "alpaca", "ultrafeedback", "auto" -> format; ConfigError otherwise. */
DatasetFormat parseDatasetFormat(const std::string &name);
std::string toString(DatasetFormat format);

/** Which JSON fields hold what, for DatasetFormat::Jsonl. */
struct FieldMapping
{
    std::string prompt = "prompt";
    std::string reference = "response";
    std::string id;    ///< optional; the line number otherwise
    std::string group; ///< optional
};

struct ImportOptions
{
    DatasetFormat format = DatasetFormat::Jsonl;
    FieldMapping fields;
    bool skipBadLines = false; ///< count and skip malformed lines instead of failing
    bool removeDuplicates = true; ///< identical (prompt, reference) pairs are kept once
};

/** The format a record's fields suggest (for DatasetFormat::Auto); Jsonl when none fits. */
DatasetFormat detectDatasetFormat(const nlohmann::ordered_json &record);

/** All format names, for help texts and the GUI. */
std::vector<std::string> datasetFormatNames();

struct ImportReport
{
    int64_t lines = 0;              ///< non-empty lines (or JSON array elements) read
    int64_t conversational = 0;     ///< imported records that are conversations
    std::map<std::string, int64_t> formats; ///< records per format actually read (differs from the option for auto)
    int64_t imported = 0;
    int64_t skippedBadLines = 0;
    int64_t duplicatesRemoved = 0;
    std::vector<std::string> problems; ///< the first skipped lines' messages (file:line: ...)
};

struct ImportedDataset
{
    std::vector<DatasetRecord> records;
    ImportReport report;
};

/**
 * Reads a dataset file: JSONL, or a JSON array of records (a file whose first character is
 * '['), plain or compressed (.gz, .zst, .lz4). A malformed record fails with "FILE:LINE:
 * problem" (LINE is where the record starts; or it is skipped and counted with skipBadLines);
 * a missing field names the field. An empty result is an error.
 */
ImportedDataset importDataset(const std::filesystem::path &path, const ImportOptions &options);

/** Splits an Anthropic-HH transcript into (prompt up to the last "Assistant:", final assistant reply). */
std::pair<std::string, std::string> splitHhTranscript(const std::string &transcript);

struct SplitOptions
{
    uint64_t seed = 0;
    double validationFraction = 0.05;
    double testFraction = 0.05;
};

struct DatasetSplits
{
    std::vector<DatasetRecord> train, validation, test;
};

/**
 * Deterministic train/validation/test split: each group is placed by a hash of (seed, group),
 * so the same seed always gives the same split, adding records never moves existing groups,
 * and no group straddles two splits. Record order within a split follows the input.
 */
DatasetSplits splitDataset(const std::vector<DatasetRecord> &records, const SplitOptions &options);

/** Words (whitespace-separated) in `text`. */
int64_t wordCount(const std::string &text);

/** Counts and a length histogram (bucketed by powers of two) of a dataset, for `plad data inspect`. */
struct DatasetSummary
{
    int64_t records = 0;
    int64_t withRejected = 0;
    int64_t promptLengthMin = 0, promptLengthMax = 0;
    double promptLengthMean = 0;
    int64_t referenceLengthMin = 0, referenceLengthMax = 0;
    double referenceLengthMean = 0;
    std::string unit = "words";                    ///< "words", or "tokens" with a tokenizer
    std::map<int64_t, int64_t> promptHistogram;    ///< bucket upper bound -> records
    std::map<int64_t, int64_t> referenceHistogram;
};

/** Summary with lengths measured by `lengthOf` (words by default). */
DatasetSummary summarize(const std::vector<DatasetRecord> &records, const std::string &unit = "words",
                         int64_t (*lengthOf)(const std::string &, const void *) = nullptr, const void *context = nullptr);

nlohmann::json toJson(const DatasetRecord &record);
nlohmann::json toJson(const DatasetSummary &summary);

/** Writes records as JSONL ({"id", "prompt", "reference", "rejected"?, "group"?}) atomically. */
void writeDatasetJsonl(const std::filesystem::path &path, const std::vector<DatasetRecord> &records);

} // namespace plad
