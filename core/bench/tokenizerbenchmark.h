#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace plad {

struct TokenizerBenchmarkReport
{
    double loadSeconds = 0;
    int64_t vocabSize = 0;
    int64_t corpusBytes = 0;
    std::string corpusSource;
    int64_t tokens = 0;
    double encodeSeconds = 0;
    double megabytesPerSecond = 0;
    double decodeMegabytesPerSecond = 0;
    bool roundTripExact = false;
};

/**
 * Loads `tokenizer` (timed), then encodes `corpus` line by line on the calling thread and
 * decodes the result. Without a corpus, up to `corpusMegabytes` of English text is gathered
 * from the machine's /usr/share/doc/ * /copyright files.
 */
TokenizerBenchmarkReport runTokenizerBenchmark(const std::filesystem::path &tokenizer, const std::filesystem::path &corpus,
                                               double corpusMegabytes = 4.0);

} // namespace plad
