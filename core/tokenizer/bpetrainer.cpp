#include "tokenizer/bpetrainer.h"

#include "common/compression.h"
#include "common/error.h"
#include "common/fileio.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicoderegex.h"

#include <algorithm>
#include <fstream>
#include <queue>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

namespace plad {

namespace {

using PairKey = uint64_t;

PairKey key(int32_t a, int32_t b)
{
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
int32_t left(PairKey k) { return static_cast<int32_t>(k >> 32); }
int32_t right(PairKey k) { return static_cast<int32_t>(k & 0xffffffffu); }

struct Word
{
    std::vector<int32_t> symbols;
    int64_t count = 0;
};

} // namespace

BpeTrainingSummary trainByteLevelBpe(const std::filesystem::path &corpus, const std::filesystem::path &outDir,
                                     const BpeTrainerOptions &options, JobContext *context)
{
    const int64_t base = 256 + static_cast<int64_t>(options.specialTokens.size());
    if (options.vocabSize < base)
        throw ConfigError("vocabulary size " + std::to_string(options.vocabSize) + " is too small: the byte alphabet and "
                          + std::to_string(options.specialTokens.size()) + " special tokens alone need " + std::to_string(base));
    if (options.minFrequency < 1)
        throw ConfigError("minimum pair frequency must be at least 1");

    // 1. Count pre-tokenized words (already mapped to the byte alphabet).
    std::error_code readError;
    if (!std::filesystem::is_regular_file(corpus, readError))
        throw Error(corpus.string() + ": cannot open corpus");
    const std::string text = readMaybeCompressed(corpus);
    const UnicodeRegex split(kGpt2SplitPattern, false, "byte-level pre-tokenizer");
    const auto &alphabet = byteLevelAlphabet();
    std::unordered_map<std::string, int64_t> counts;
    BpeTrainingSummary summary;
    auto learn = [&](std::string piece) {
        summary.corpusBytes += static_cast<int64_t>(piece.size()) + 1;
        piece += '\n';
        for (const auto &[b, e] : split.findAll(piece)) {
            std::string mapped;
            for (size_t i = b; i < e; ++i)
                mapped += alphabet[static_cast<unsigned char>(piece[i])];
            ++counts[mapped];
        }
    };
    std::istringstream lines(text);
    std::string line;
    int64_t number = 0;
    while (std::getline(lines, line)) {
        ++number;
        if (options.jsonFields.empty()) {
            learn(line);
        } else if (line.find_first_not_of(" \t\r") != std::string::npos) {
            nlohmann::json doc;
            try {
                doc = nlohmann::json::parse(line);
            } catch (const nlohmann::json::exception &) { // parse_error, or out_of_range for 1e999
                throw FormatError(corpus.string() + ":" + std::to_string(number) + ": invalid JSON");
            }
            for (const auto &field : options.jsonFields) {
                if (!doc.is_object() || !doc.contains(field) || !doc[field].is_string())
                    throw FormatError(corpus.string() + ":" + std::to_string(number) + ": missing string field \"" + field + "\"");
                learn(doc[field].get<std::string>());
            }
        }
        if (context && context->isCancelled())
            throw Error("tokenizer training cancelled");
    }
    if (counts.empty())
        throw Error(corpus.string() + ": the corpus is empty");
    summary.distinctWords = static_cast<int64_t>(counts.size());

    // 2. Symbols: specials, then the 256 byte characters, then merged tokens.
    std::vector<std::string> tokens(options.specialTokens.begin(), options.specialTokens.end());
    std::unordered_map<std::string, int32_t> idOf;
    for (size_t i = 0; i < tokens.size(); ++i)
        idOf[tokens[i]] = static_cast<int32_t>(i);
    for (int b = 0; b < 256; ++b) {
        idOf[alphabet[static_cast<size_t>(b)]] = static_cast<int32_t>(tokens.size());
        tokens.push_back(alphabet[static_cast<size_t>(b)]);
    }
    std::vector<Word> words;
    words.reserve(counts.size());
    for (const auto &[text, count] : counts) {
        Word w;
        w.count = count;
        for (size_t pos = 0; pos < text.size();) {
            size_t len = 1;
            while (pos + len < text.size() && (static_cast<unsigned char>(text[pos + len]) & 0xC0) == 0x80)
                ++len;
            w.symbols.push_back(idOf.at(text.substr(pos, len)));
            pos += len;
        }
        words.push_back(std::move(w));
    }
    counts.clear();

    // 3. Pair statistics.
    std::unordered_map<PairKey, int64_t> pairCount;
    std::unordered_map<PairKey, std::unordered_set<int32_t>> pairWords;
    auto addPairs = [&](int32_t index, int64_t sign) {
        const Word &w = words[static_cast<size_t>(index)];
        for (size_t i = 0; i + 1 < w.symbols.size(); ++i) {
            const PairKey k = key(w.symbols[i], w.symbols[i + 1]);
            pairCount[k] += sign * w.count;
            if (sign > 0)
                pairWords[k].insert(index);
        }
    };
    for (size_t i = 0; i < words.size(); ++i)
        addPairs(static_cast<int32_t>(i), +1);

    struct Entry
    {
        int64_t count;
        PairKey pair;
    };
    auto better = [&tokens](const Entry &a, const Entry &b) { // true when b should come first
        if (a.count != b.count)
            return a.count < b.count;
        const auto &al = tokens[static_cast<size_t>(left(a.pair))], &bl = tokens[static_cast<size_t>(left(b.pair))];
        if (al != bl)
            return al > bl;
        return tokens[static_cast<size_t>(right(a.pair))] > tokens[static_cast<size_t>(right(b.pair))];
    };
    std::priority_queue<Entry, std::vector<Entry>, decltype(better)> heap(better);
    for (const auto &[k, c] : pairCount)
        heap.push({c, k});

    // 4. Merge the most frequent pair until the vocabulary is full.
    nlohmann::json merges = nlohmann::json::array();
    const int64_t wanted = options.vocabSize - static_cast<int64_t>(tokens.size());
    while (static_cast<int64_t>(merges.size()) < wanted && !heap.empty()) {
        const Entry top = heap.top();
        heap.pop();
        const auto it = pairCount.find(top.pair);
        if (it == pairCount.end() || it->second != top.count)
            continue; // stale entry
        if (top.count < options.minFrequency)
            break;
        const int32_t a = left(top.pair), b = right(top.pair);
        const auto newId = static_cast<int32_t>(tokens.size());
        tokens.push_back(tokens[static_cast<size_t>(a)] + tokens[static_cast<size_t>(b)]);
        merges.push_back(tokens[static_cast<size_t>(a)] + " " + tokens[static_cast<size_t>(b)]);

        std::unordered_set<PairKey> touched;
        const auto where = std::move(pairWords[top.pair]);
        pairWords.erase(top.pair);
        for (const int32_t index : where) {
            Word &w = words[static_cast<size_t>(index)];
            bool contains = false;
            for (size_t i = 0; i + 1 < w.symbols.size() && !contains; ++i)
                contains = w.symbols[i] == a && w.symbols[i + 1] == b;
            if (!contains)
                continue;
            for (size_t i = 0; i + 1 < w.symbols.size(); ++i)
                touched.insert(key(w.symbols[i], w.symbols[i + 1]));
            addPairs(index, -1);
            std::vector<int32_t> merged;
            merged.reserve(w.symbols.size());
            for (size_t i = 0; i < w.symbols.size(); ++i) {
                if (i + 1 < w.symbols.size() && w.symbols[i] == a && w.symbols[i + 1] == b) {
                    merged.push_back(newId);
                    ++i;
                } else {
                    merged.push_back(w.symbols[i]);
                }
            }
            w.symbols = std::move(merged);
            addPairs(index, +1);
            for (size_t i = 0; i + 1 < w.symbols.size(); ++i)
                touched.insert(key(w.symbols[i], w.symbols[i + 1]));
        }
        for (const PairKey k : touched) {
            const auto c = pairCount.find(k);
            if (c == pairCount.end())
                continue;
            if (c->second <= 0) {
                pairCount.erase(c);
                continue;
            }
            heap.push({c->second, k});
        }
        pairCount.erase(top.pair);
        if (context) {
            if (context->isCancelled())
                throw Error("tokenizer training cancelled");
            context->report({"train tokenizer", static_cast<int64_t>(merges.size()), wanted, "merges", 0, -1});
        }
    }

    // 5. Write tokenizer.json in the Hugging Face layout.
    nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
    for (size_t i = 0; i < tokens.size(); ++i)
        vocab[tokens[i]] = i;
    nlohmann::ordered_json added = nlohmann::ordered_json::array();
    for (size_t i = 0; i < options.specialTokens.size(); ++i)
        added.push_back({{"id", i}, {"content", options.specialTokens[i]}, {"single_word", false}, {"lstrip", false},
                         {"rstrip", false}, {"normalized", false}, {"special", true}});
    const nlohmann::ordered_json byteLevel = {
        {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    nlohmann::ordered_json doc = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", added},
        {"normalizer", nullptr},
        {"pre_tokenizer", byteLevel},
        {"post_processor", byteLevel},
        {"decoder", byteLevel},
        {"model",
         {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
          {"vocab", vocab}, {"merges", merges}}},
    };
    std::error_code ec;
    std::filesystem::create_directories(outDir, ec);
    if (ec)
        throw Error(outDir.string() + ": cannot create directory: " + ec.message());
    writeFileAtomically(outDir / "tokenizer.json", doc.dump(2) + "\n");
    nlohmann::ordered_json config = {{"tokenizer_class", "PreTrainedTokenizerFast"}, {"add_bos_token", false},
                                     {"add_eos_token", false}, {"model_max_length", 1024}};
    if (!options.specialTokens.empty()) {
        config["bos_token"] = options.specialTokens[0];
        config["eos_token"] = options.specialTokens[0];
        config["unk_token"] = nullptr;
        config["pad_token"] = options.specialTokens.size() > 1 ? options.specialTokens[1] : options.specialTokens[0];
    }
    writeFileAtomically(outDir / "tokenizer_config.json", config.dump(2) + "\n");

    summary.vocabSize = static_cast<int64_t>(tokens.size());
    summary.merges = static_cast<int64_t>(merges.size());
    return summary;
}

} // namespace plad
