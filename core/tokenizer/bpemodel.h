#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/**
 * The BPE model of a tokenizer.json: vocabulary, ranked merges and the options byte-level
 * (GPT-2, Qwen, Llama 3) and SentencePiece-style (Llama 2, Mistral: byte_fallback, unk) files
 * use. Each word is merged with a priority queue of candidate pairs, lowest rank first, so
 * cost grows as n log n in the word's length; results for repeated words are cached.
 *
 * Thread-safe: tokenize() may be called concurrently.
 */
class BpeModel
{
public:
    /** Reads the "model" object; throws FormatError for unsupported types or inconsistent merges. */
    BpeModel(const nlohmann::json &spec, const std::string &source);

    /** Token ids of one pre-tokenized word. */
    std::vector<int64_t> tokenize(std::string_view word) const;
    /** Appends the token ids of one pre-tokenized word to `out`. */
    void tokenize(std::string_view word, std::vector<int64_t> &out) const;

    std::optional<int64_t> tokenToId(std::string_view token) const;
    const std::string *idToToken(int64_t id) const;
    int64_t size() const { return static_cast<int64_t>(mVocab.size()); }
    int64_t maxId() const { return mMaxId; }
    const std::vector<std::pair<std::string, std::string>> &merges() const { return mMergeList; }
    bool byteFallback() const { return mByteFallback; }

private:
    std::vector<int64_t> mergeWord(std::string_view word) const;

    // Lets unordered_map<std::string, ...> be searched with a string_view, without a copy.
    struct StringHash
    {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
    };
    using StringMap = std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>>;

    struct PairHash
    {
        size_t operator()(const std::pair<int64_t, int64_t> &p) const
        {
            return std::hash<int64_t>()(p.first * 1000003 + p.second);
        }
    };
    StringMap mVocab;
    std::unordered_map<int64_t, std::string> mReverse;
    std::unordered_map<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>, PairHash> mMerges; // pair -> (rank, new id)
    std::vector<std::pair<std::string, std::string>> mMergeList;
    std::optional<int64_t> mUnkId;
    std::string mContinuingSubwordPrefix;
    std::string mEndOfWordSuffix;
    bool mFuseUnk = false;
    bool mByteFallback = false;
    bool mIgnoreMerges = false;
    int64_t mMaxId = -1;
    std::vector<std::optional<int64_t>> mByteTokens; // <0xNN> ids for byte fallback

    uint64_t mInstance; ///< identifies this model's entries in the per-thread word caches
};

} // namespace plad
