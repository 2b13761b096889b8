#include "tokenizer/pretokenizer.h"

#include "common/error.h"
#include "tokenizer/tokenizerjson.h"
#include "tokenizer/unicoderegex.h"
#include "tokenizer/unicodetext.h"

#include <nlohmann/json.hpp>

namespace plad {

const char *const kGpt2SplitPattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const std::vector<std::string> &byteLevelAlphabet()
{
    static const std::vector<std::string> alphabet = [] {
        // Printable bytes keep their code point; the others are moved to 256, 257, ...
        std::vector<std::string> map(256);
        int shifted = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            unicode::appendUtf8(map[static_cast<size_t>(b)], static_cast<char32_t>(printable ? b : 256 + shifted++));
        }
        return map;
    }();
    return alphabet;
}

namespace {

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

SplitBehavior parseBehavior(const std::string &name, const std::string &source)
{
    if (name == "Removed") return SplitBehavior::Removed;
    if (name == "Isolated") return SplitBehavior::Isolated;
    if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
    if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
    if (name == "Contiguous") return SplitBehavior::Contiguous;
    throw FormatError(source + ": unsupported split behavior \"" + name
                      + "\" in tokenizer.json (supported: Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)");
}

// Splits one piece at the given delimiter ranges following `behavior`, as tokenizers'
// NormalizedString::split does. Empty pieces are dropped.
void splitPiece(const PreToken &piece, const std::vector<std::pair<size_t, size_t>> &delimiters, SplitBehavior behavior,
                bool invert, std::vector<PreToken> &out)
{
    const std::string &text = piece.text;
    // (begin, end, isDelimiter) covering the whole text.
    std::vector<std::tuple<size_t, size_t, bool>> spans;
    size_t last = 0;
    for (const auto &[b, e] : delimiters) {
        if (b > last)
            spans.emplace_back(last, b, invert);
        spans.emplace_back(b, e, !invert);
        last = e;
    }
    if (last < text.size())
        spans.emplace_back(last, text.size(), invert);

    std::vector<std::pair<size_t, size_t>> ranges;
    switch (behavior) {
    case SplitBehavior::Removed:
        for (const auto &[b, e, isDelim] : spans)
            if (!isDelim)
                ranges.emplace_back(b, e);
        break;
    case SplitBehavior::Isolated:
        for (const auto &[b, e, isDelim] : spans)
            ranges.emplace_back(b, e);
        break;
    case SplitBehavior::MergedWithPrevious: {
        bool previousWasDelim = false;
        for (const auto &[b, e, isDelim] : spans) {
            if (isDelim && !ranges.empty() && !previousWasDelim)
                ranges.back().second = e;
            else
                ranges.emplace_back(b, e);
            previousWasDelim = isDelim;
        }
        break;
    }
    case SplitBehavior::MergedWithNext: {
        bool pendingDelim = false;
        for (const auto &[b, e, isDelim] : spans) {
            if (pendingDelim && !isDelim)
                ranges.back().second = e;
            else
                ranges.emplace_back(b, e);
            pendingDelim = isDelim;
        }
        break;
    }
    case SplitBehavior::Contiguous: {
        bool previousWasDelim = false;
        for (const auto &[b, e, isDelim] : spans) {
            if (isDelim && previousWasDelim && !ranges.empty())
                ranges.back().second = e;
            else
                ranges.emplace_back(b, e);
            previousWasDelim = isDelim;
        }
        break;
    }
    }
    for (const auto &[b, e] : ranges)
        if (e > b)
            out.push_back({text.substr(b, e - b), piece.atSequenceStart && b == 0});
}

class ByteLevel : public PreTokenizer
{
public:
    ByteLevel(bool addPrefixSpace, bool useRegex, const std::string &source)
        : mAddPrefixSpace(addPrefixSpace)
    {
        if (useRegex)
            mRegex = std::make_unique<UnicodeRegex>(kGpt2SplitPattern, false, source);
    }
    void apply(std::vector<PreToken> &pieces) const override
    {
        std::vector<PreToken> split;
        for (auto &piece : pieces) {
            if (mAddPrefixSpace && (piece.text.empty() || piece.text.front() != ' '))
                piece.text.insert(piece.text.begin(), ' ');
            if (mRegex)
                splitPiece(piece, mRegex->findAll(piece.text), SplitBehavior::Isolated, false, split);
            else if (!piece.text.empty())
                split.push_back(piece);
        }
        const auto &alphabet = byteLevelAlphabet();
        for (auto &piece : split) {
            std::string mapped;
            mapped.reserve(piece.text.size() * 2);
            for (unsigned char b : piece.text)
                mapped += alphabet[b];
            piece.text = std::move(mapped);
        }
        pieces = std::move(split);
    }
    bool isByteLevel() const override { return true; }

private:
    bool mAddPrefixSpace;
    std::unique_ptr<UnicodeRegex> mRegex;
};

class Split : public PreTokenizer
{
public:
    Split(std::unique_ptr<UnicodeRegex> pattern, SplitBehavior behavior, bool invert)
        : mPattern(std::move(pattern))
        , mBehavior(behavior)
        , mInvert(invert)
    {}
    void apply(std::vector<PreToken> &pieces) const override
    {
        std::vector<PreToken> out;
        for (const auto &piece : pieces)
            splitPiece(piece, mPattern->findAll(piece.text), mBehavior, mInvert, out);
        pieces = std::move(out);
    }

private:
    std::unique_ptr<UnicodeRegex> mPattern;
    SplitBehavior mBehavior;
    bool mInvert;
};

enum class PrependScheme { Always, First, Never };

class Metaspace : public PreTokenizer
{
public:
    Metaspace(std::string replacement, PrependScheme scheme, bool split)
        : mReplacement(std::move(replacement))
        , mScheme(scheme)
        , mSplit(split)
    {}
    void apply(std::vector<PreToken> &pieces) const override
    {
        std::vector<PreToken> out;
        for (auto &piece : pieces) {
            std::string text;
            for (char c : piece.text) {
                if (c == ' ')
                    text += mReplacement;
                else
                    text += c;
            }
            const bool startsWithReplacement = text.compare(0, mReplacement.size(), mReplacement) == 0;
            if (!startsWithReplacement
                && (mScheme == PrependScheme::Always || (mScheme == PrependScheme::First && piece.atSequenceStart)))
                text = mReplacement + text;
            PreToken rewritten{std::move(text), piece.atSequenceStart};
            if (!mSplit) {
                if (!rewritten.text.empty())
                    out.push_back(std::move(rewritten));
                continue;
            }
            std::vector<std::pair<size_t, size_t>> delimiters;
            for (size_t pos = rewritten.text.find(mReplacement); pos != std::string::npos;
                 pos = rewritten.text.find(mReplacement, pos + mReplacement.size()))
                delimiters.emplace_back(pos, pos + mReplacement.size());
            splitPiece(rewritten, delimiters, SplitBehavior::MergedWithNext, false, out);
        }
        pieces = std::move(out);
    }

private:
    std::string mReplacement;
    PrependScheme mScheme;
    bool mSplit;
};

class Digits : public PreTokenizer
{
public:
    explicit Digits(bool individual)
        : mIndividual(individual)
    {}
    void apply(std::vector<PreToken> &pieces) const override
    {
        static const UnicodeRegex numeric(R"(\p{N})");
        std::vector<PreToken> out;
        for (const auto &piece : pieces)
            splitPiece(piece, numeric.findAll(piece.text), mIndividual ? SplitBehavior::Isolated : SplitBehavior::Contiguous,
                       false, out);
        pieces = std::move(out);
    }

private:
    bool mIndividual;
};

class Sequence : public PreTokenizer
{
public:
    explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> steps)
        : mSteps(std::move(steps))
    {}
    void apply(std::vector<PreToken> &pieces) const override
    {
        for (const auto &step : mSteps)
            step->apply(pieces);
    }
    bool isByteLevel() const override
    {
        for (const auto &step : mSteps)
            if (step->isByteLevel())
                return true;
        return false;
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> mSteps;
};

} // namespace

std::unique_ptr<PreTokenizer> makePreTokenizer(const nlohmann::json &spec, const std::string &source)
{
    if (spec.is_null())
        return nullptr;
    const std::string type = componentType(spec, "pre-tokenizer", source);
    if (type == "ByteLevel")
        return std::make_unique<ByteLevel>(jsonBool(spec, "add_prefix_space", true, source), jsonBool(spec, "use_regex", true, source),
                                           source);
    if (type == "Split") {
        const std::string behavior = spec.contains("behavior") && spec["behavior"].is_string() ? spec["behavior"].get<std::string>() : "";
        if (behavior.empty())
            throw FormatError(source + ": pre-tokenizer Split needs a \"behavior\"");
        return std::make_unique<Split>(makePattern(spec, "pre-tokenizer Split", source), parseBehavior(behavior, source),
                                       jsonBool(spec, "invert", false, source));
    }
    if (type == "Metaspace") {
        const std::string replacement = spec.contains("replacement") ? jsonString(spec, "replacement", source) : "\xE2\x96\x81";
        PrependScheme scheme = jsonBool(spec, "add_prefix_space", true, source) ? PrependScheme::Always : PrependScheme::Never;
        if (spec.contains("prepend_scheme") && spec["prepend_scheme"].is_string()) {
            const std::string s = spec["prepend_scheme"].get<std::string>();
            if (s == "always") scheme = PrependScheme::Always;
            else if (s == "first") scheme = PrependScheme::First;
            else if (s == "never") scheme = PrependScheme::Never;
            else throw FormatError(source + ": Metaspace prepend_scheme \"" + s + "\" is not one of always, first, never");
        }
        return std::make_unique<Metaspace>(replacement, scheme, jsonBool(spec, "split", true, source));
    }
    if (type == "Digits")
        return std::make_unique<Digits>(jsonBool(spec, "individual_digits", false, source));
    if (type == "Sequence") {
        if (!spec.contains("pretokenizers") || !spec["pretokenizers"].is_array())
            throw FormatError(source + ": pre-tokenizer Sequence needs a \"pretokenizers\" array");
        std::vector<std::unique_ptr<PreTokenizer>> steps;
        for (const auto &item : spec["pretokenizers"])
            if (auto step = makePreTokenizer(item, source))
                steps.push_back(std::move(step));
        return std::make_unique<Sequence>(std::move(steps));
    }
    throw FormatError(source + ": unsupported pre-tokenizer \"" + type
                      + "\" in tokenizer.json (supported: ByteLevel, Split, Metaspace, Digits, Sequence)");
}

} // namespace plad
