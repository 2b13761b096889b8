#include "tokenizer/textstream.h"

#include "tokenizer/tokenizer.h"

#include <algorithm>

namespace plad {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD: what lossy decoding makes of a cut character

// Length of the longest suffix of `text` that is a proper prefix of one of `stops`.
size_t heldForStops(const std::string &text, const std::vector<std::string> &stops)
{
    size_t held = 0;
    for (const auto &stop : stops)
        for (size_t n = std::min(stop.size() - 1, text.size()); n > held; --n)
            if (text.compare(text.size() - n, n, stop, 0, n) == 0) {
                held = n;
                break;
            }
    return held;
}

} // namespace

TextStream::TextStream(const Tokenizer &tokenizer, std::vector<std::string> stops, std::vector<int64_t> endIds)
    : mTokenizer(tokenizer)
    , mEndIds(std::move(endIds))
{
    for (auto &s : stops)
        if (!s.empty())
            mStops.push_back(std::move(s));
}

std::string TextStream::push(int64_t token)
{
    if (mStopped || mFinished || std::find(mEndIds.begin(), mEndIds.end(), token) != mEndIds.end())
        return {};
    mIds.push_back(token);
    const std::string full = mTokenizer.decode(mIds, true);
    // A stop string may start anywhere after what was shown minus its length.
    size_t longest = 0;
    for (const auto &s : mStops)
        longest = std::max(longest, s.size());
    const size_t from = mShown.size() > longest ? mShown.size() - longest : 0;
    size_t cut = std::string::npos;
    for (const auto &s : mStops)
        cut = std::min(cut, full.find(s, from));
    if (cut != std::string::npos) {
        mStopped = true;
        const std::string out = cut > mShown.size() ? full.substr(mShown.size(), cut - mShown.size()) : std::string();
        mShown += out;
        return out;
    }
    size_t safe = full.size();
    if (full.size() >= kReplacement.size() && full.compare(full.size() - kReplacement.size(), kReplacement.size(), kReplacement) == 0)
        safe -= kReplacement.size();
    safe -= std::min(safe, heldForStops(full.substr(0, safe), mStops));
    // Decoding more tokens can rewrite the last characters (a cut character completed): never show less than was shown.
    if (safe <= mShown.size() || full.compare(0, mShown.size(), mShown) != 0)
        return {};
    const std::string out = full.substr(mShown.size(), safe - mShown.size());
    mShown += out;
    return out;
}

std::string TextStream::finish()
{
    if (mStopped || mFinished)
        return {};
    mFinished = true;
    const std::string full = mTokenizer.decode(mIds, true);
    if (full.size() <= mShown.size() || full.compare(0, mShown.size(), mShown) != 0)
        return {};
    const std::string out = full.substr(mShown.size());
    mShown += out;
    return out;
}

} // namespace plad
