#include "tokenizer/bpemodel.h"

#include "common/error.h"
#include "tokenizer/unicodetext.h"

#include <atomic>
#include <cstdio>
#include <queue>

#include <nlohmann/json.hpp>

namespace plad {

namespace {

constexpr size_t kCacheCapacity = 100000;
constexpr size_t kMaxCachedWordBytes = 256;

std::atomic<uint64_t> gNextInstance{1};

struct WordCacheHash
{
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
using WordCache = std::unordered_map<std::string, std::vector<int64_t>, WordCacheHash, std::equal_to<>>;

// Each thread keeps its own cache per model instance, so encoding never takes a lock.
WordCache &threadCache(uint64_t instance)
{
    thread_local std::unordered_map<uint64_t, WordCache> caches;
    return caches[instance];
}

} // namespace

BpeModel::BpeModel(const nlohmann::json &spec, const std::string &source)
    : mInstance(gNextInstance++)
{
    if (!spec.is_object())
        throw FormatError(source + ": \"model\" must be an object");
    const std::string type = spec.value("type", std::string("BPE"));
    if (type != "BPE")
        throw FormatError(source + ": unsupported model \"" + type + "\" in tokenizer.json (supported: BPE)");
    if (!spec.contains("vocab") || !spec["vocab"].is_object())
        throw FormatError(source + ": BPE model needs a \"vocab\" object of token -> id");
    mVocab.reserve(spec["vocab"].size());
    for (auto it = spec["vocab"].begin(); it != spec["vocab"].end(); ++it) {
        if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() >= (int64_t{1} << 31))
            throw FormatError(source + ": vocab entry \"" + it.key() + "\" must map to an integer id in [0, 2^31), found " + it->dump());
        const int64_t id = it->get<int64_t>();
        mVocab.emplace(it.key(), id);
        mReverse.emplace(id, it.key());
        mMaxId = std::max(mMaxId, id);
    }

    auto optionalString = [&](const char *field) -> std::string {
        if (!spec.contains(field) || spec[field].is_null())
            return {};
        if (!spec[field].is_string())
            throw FormatError(source + ": BPE field \"" + std::string(field) + "\" must be a string or null");
        return spec[field].get<std::string>();
    };
    auto flag = [&](const char *field) {
        return spec.contains(field) && spec[field].is_boolean() && spec[field].get<bool>();
    };
    mContinuingSubwordPrefix = optionalString("continuing_subword_prefix");
    mEndOfWordSuffix = optionalString("end_of_word_suffix");
    mFuseUnk = flag("fuse_unk");
    mByteFallback = flag("byte_fallback");
    mIgnoreMerges = flag("ignore_merges");
    if (const std::string unk = optionalString("unk_token"); !unk.empty()) {
        const auto it = mVocab.find(unk);
        if (it == mVocab.end())
            throw FormatError(source + ": BPE unk_token \"" + unk + "\" is not in the vocabulary");
        mUnkId = it->second;
    }
    if (spec.contains("dropout") && spec["dropout"].is_number() && spec["dropout"].get<double>() > 0)
        throw FormatError(source + ": BPE dropout is a training-time option and is not supported when encoding; set it to null");

    if (!spec.contains("merges") || !spec["merges"].is_array())
        throw FormatError(source + ": BPE model needs a \"merges\" array");
    const auto &merges = spec["merges"];
    mMerges.reserve(merges.size());
    mMergeList.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const auto &m = merges[rank];
        std::string a, b;
        if (m.is_string()) { // legacy "a b"
            const std::string s = m.get<std::string>();
            const auto space = s.find(' ', 1);
            if (space == std::string::npos)
                throw FormatError(source + ": merge " + std::to_string(rank) + " \"" + s + "\" is not two tokens separated by a space");
            a = s.substr(0, space);
            b = s.substr(space + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            a = m[0].get<std::string>();
            b = m[1].get<std::string>();
        } else {
            throw FormatError(source + ": merge " + std::to_string(rank) + " must be \"a b\" or [\"a\", \"b\"]");
        }
        const auto ia = mVocab.find(a);
        const auto ib = mVocab.find(b);
        if (ia == mVocab.end() || ib == mVocab.end())
            throw FormatError(source + ": merge " + std::to_string(rank) + " (\"" + a + "\", \"" + b + "\") uses \""
                              + (ia == mVocab.end() ? a : b) + "\", which is not in the vocabulary");
        const std::string merged =
            a + (mContinuingSubwordPrefix.empty() || b.compare(0, mContinuingSubwordPrefix.size(), mContinuingSubwordPrefix) != 0
                     ? b
                     : b.substr(mContinuingSubwordPrefix.size()));
        const auto im = mVocab.find(merged);
        if (im == mVocab.end())
            throw FormatError(source + ": merge " + std::to_string(rank) + " (\"" + a + "\", \"" + b + "\") produces \"" + merged
                              + "\", which is not in the vocabulary");
        mMerges.emplace(std::make_pair(ia->second, ib->second), std::make_pair(static_cast<int64_t>(rank), im->second));
        mMergeList.emplace_back(std::move(a), std::move(b));
    }

    mByteTokens.resize(256);
    if (mByteFallback) {
        for (int byte = 0; byte < 256; ++byte) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", byte);
            if (const auto it = mVocab.find(name); it != mVocab.end())
                mByteTokens[static_cast<size_t>(byte)] = it->second;
        }
    }
}

std::optional<int64_t> BpeModel::tokenToId(std::string_view token) const
{
    const auto it = mVocab.find(token);
    if (it == mVocab.end())
        return std::nullopt;
    return it->second;
}

const std::string *BpeModel::idToToken(int64_t id) const
{
    const auto it = mReverse.find(id);
    return it == mReverse.end() ? nullptr : &it->second;
}

std::vector<int64_t> BpeModel::tokenize(std::string_view word) const
{
    std::vector<int64_t> out;
    tokenize(word, out);
    return out;
}

void BpeModel::tokenize(std::string_view word, std::vector<int64_t> &out) const
{
    if (word.empty())
        return;
    if (mIgnoreMerges)
        if (const auto it = mVocab.find(word); it != mVocab.end()) {
            out.push_back(it->second);
            return;
        }
    if (word.size() > kMaxCachedWordBytes) {
        const auto ids = mergeWord(word);
        out.insert(out.end(), ids.begin(), ids.end());
        return;
    }
    WordCache &cache = threadCache(mInstance);
    auto it = cache.find(word);
    if (it == cache.end()) {
        if (cache.size() >= kCacheCapacity)
            cache.clear();
        it = cache.emplace(std::string(word), mergeWord(word)).first;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
}

std::vector<int64_t> BpeModel::mergeWord(std::string_view word) const
{
    // Initial symbols: one per character (with prefix/suffix), byte tokens or unk for the rest.
    std::vector<int64_t> symbols;
    symbols.reserve(word.size());
    int64_t pendingUnk = -1; // an unknown-character run not yet emitted
    auto flushUnk = [&] {
        if (pendingUnk >= 0) {
            symbols.push_back(pendingUnk);
            pendingUnk = -1;
        }
    };
    size_t pos = 0;
    std::string piece;
    while (pos < word.size()) {
        size_t len = 0;
        if (!unicode::decodeAt(word, pos, len))
            len = 1; // an invalid byte stands for itself
        const bool first = pos == 0;
        const bool last = pos + len >= word.size();
        piece.clear();
        if (!first)
            piece += mContinuingSubwordPrefix;
        piece.append(word.substr(pos, len));
        if (last)
            piece += mEndOfWordSuffix;
        if (const auto it = mVocab.find(std::string_view(piece)); it != mVocab.end()) {
            flushUnk();
            symbols.push_back(it->second);
        } else {
            bool handled = false;
            if (mByteFallback) {
                bool all = true;
                for (size_t i = 0; i < len; ++i)
                    all = all && mByteTokens[static_cast<unsigned char>(word[pos + i])].has_value();
                if (all) {
                    flushUnk();
                    for (size_t i = 0; i < len; ++i)
                        symbols.push_back(*mByteTokens[static_cast<unsigned char>(word[pos + i])]);
                    handled = true;
                }
            }
            if (!handled && mUnkId) {
                if (pendingUnk >= 0 && !mFuseUnk)
                    flushUnk();
                pendingUnk = *mUnkId;
            }
        }
        pos += len;
    }
    flushUnk();

    // Merge the lowest-ranked adjacent pair first (leftmost on ties) until none applies.
    const size_t n = symbols.size();
    if (n < 2)
        return symbols;
    std::vector<int64_t> prev(n), next(n);
    std::vector<bool> alive(n, true);
    for (size_t i = 0; i < n; ++i) {
        prev[i] = static_cast<int64_t>(i) - 1;
        next[i] = i + 1 < n ? static_cast<int64_t>(i + 1) : -1;
    }
    struct Candidate
    {
        int64_t rank;
        int64_t pos;
        int64_t left, right, merged; // ids when queued, to detect stale entries
        bool operator>(const Candidate &o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    auto consider = [&](int64_t left) {
        if (left < 0 || next[static_cast<size_t>(left)] < 0)
            return;
        const int64_t right = next[static_cast<size_t>(left)];
        const auto it = mMerges.find({symbols[static_cast<size_t>(left)], symbols[static_cast<size_t>(right)]});
        if (it != mMerges.end())
            queue.push({it->second.first, left, symbols[static_cast<size_t>(left)], symbols[static_cast<size_t>(right)], it->second.second});
    };
    for (size_t i = 0; i + 1 < n; ++i)
        consider(static_cast<int64_t>(i));
    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        const auto left = static_cast<size_t>(c.pos);
        if (!alive[left] || next[left] < 0)
            continue;
        const auto right = static_cast<size_t>(next[left]);
        if (symbols[left] != c.left || symbols[right] != c.right)
            continue; // stale: one side was merged since
        symbols[left] = c.merged;
        alive[right] = false;
        next[left] = next[right];
        if (next[right] >= 0)
            prev[static_cast<size_t>(next[right])] = c.pos;
        consider(prev[left]);
        consider(c.pos);
    }
    std::vector<int64_t> out;
    out.reserve(n);
    for (int64_t i = 0; i >= 0; i = next[static_cast<size_t>(i)])
        out.push_back(symbols[static_cast<size_t>(i)]);
    return out;
}

} // namespace plad
