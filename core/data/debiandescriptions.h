#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace plad {

/** One package of Debian's English translation index (Translation-en). */
struct DebianDescription
{
    std::string package;
    std::string synopsis;        ///< the one-line summary the maintainer wrote
    std::string longDescription; ///< paragraphs separated by "\n", wrapped lines joined by spaces
};

/** Parses a Translation-en file (plain or .lz4); a malformed record names the file and line. */
std::vector<DebianDescription> readDebianTranslations(const std::filesystem::path &path);

struct DemoDataOptions
{
    int64_t minWords = 20;   ///< long descriptions shorter than this are dropped
    int64_t maxWords = 120;  ///< ...and longer than this
    uint64_t seed = 0;
    double validationFraction = 0.05;
    double testFraction = 0.05;
};

struct DemoDataReport
{
    int64_t packages = 0;
    int64_t duplicatesDropped = 0;
    int64_t outsideLength = 0;
    int64_t kept = 0;
    int64_t groups = 0;
    int64_t train = 0, validation = 0, test = 0;
};

/**
 * Builds the demo summarization task: prompt = long description, reference = synopsis.
 * Identical long descriptions are kept once; descriptions of `minWords`..`maxWords` words are
 * kept; sibling packages (sharing a first paragraph, or a name that differs only by a suffix
 * such as -dev, -doc, -data, -common or a version number) form one group, and groups never
 * straddle the train/validation/test split. Writes {train,validation,test}.jsonl.lz4 and
 * provenance.json into `outDir`.
 */
DemoDataReport buildDebianSummarizationData(const std::vector<std::filesystem::path> &inputs, const std::filesystem::path &outDir,
                                            const DemoDataOptions &options);

/** The name a package's siblings share ("libfoo-dev" and "libfoo1" -> "libfoo"). */
std::string packageStem(const std::string &package);

} // namespace plad
