#pragma once

#include "common/jobcontext.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace plad {

struct BpeTrainerOptions
{
    int64_t vocabSize = 8000;      ///< including the 256 byte symbols and the special tokens
    int64_t minFrequency = 2;      ///< a pair seen fewer times is never merged
    std::vector<std::string> specialTokens{"<|endoftext|>", "<|pad|>"}; ///< ids 0.. in this order
    /** When set, the corpus is JSONL (optionally .lz4) and the text of these fields is learned. */
    std::vector<std::string> jsonFields;
};

struct BpeTrainingSummary
{
    int64_t vocabSize = 0;
    int64_t merges = 0;
    int64_t corpusBytes = 0;
    int64_t distinctWords = 0;
};

/**
 * Learns a byte-level BPE (GPT-2's pre-tokenizer and byte alphabet) from `corpus` (plain text,
 * or the given fields of a JSONL file; either may be LZ4-compressed) and writes
 * `tokenizer.json` and `tokenizer_config.json` into `outDir`. The first special token is
 * the BOS/EOS token, the second (if any) the padding token. Progress is reported in merges
 * on the calling thread; cancellation is polled between merges. Ties between equally frequent
 * pairs go to the lexicographically smaller pair, so training is deterministic.
 */
BpeTrainingSummary trainByteLevelBpe(const std::filesystem::path &corpus, const std::filesystem::path &outDir,
                                     const BpeTrainerOptions &options, JobContext *context = nullptr);

} // namespace plad
