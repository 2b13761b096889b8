#include "tokenizer/decoder.h"

#include "common/error.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizerjson.h"
#include "tokenizer/unicoderegex.h"
#include "tokenizer/unicodetext.h"

#include <unordered_map>

#include <nlohmann/json.hpp>

namespace plad {

namespace {

// Maps GPT-2's byte alphabet back to bytes. A token with any character outside the alphabet
// (an added token such as "<|im_start|>" is inside it; "<｜tool▁call｜>" is not) contributes
// its own UTF-8 bytes unchanged.
class ByteLevelDecoder : public Decoder
{
public:
    ByteLevelDecoder()
    {
        const auto &alphabet = byteLevelAlphabet();
        for (int b = 0; b < 256; ++b) {
            size_t len = 0;
            mBytes[*unicode::decodeAt(alphabet[static_cast<size_t>(b)], 0, len)] = static_cast<char>(b);
        }
    }
    std::vector<std::string> decodeChain(std::vector<std::string> tokens) const override
    {
        return {unicode::lossyUtf8(decodeBytes(std::move(tokens)).front())};
    }
    std::vector<std::string> decodeBytes(std::vector<std::string> tokens) const override
    {
        std::string bytes;
        for (const auto &token : tokens) {
            std::string mapped;
            bool inAlphabet = true;
            size_t pos = 0;
            while (pos < token.size()) {
                size_t len = 0;
                const auto cp = unicode::decodeAt(token, pos, len);
                const auto it = cp ? mBytes.find(*cp) : mBytes.end();
                if (it == mBytes.end()) {
                    inAlphabet = false;
                    break;
                }
                mapped += it->second;
                pos += len;
            }
            bytes += inAlphabet ? mapped : token;
        }
        return {bytes};
    }

private:
    std::unordered_map<char32_t, char> mBytes;
};

class MetaspaceDecoder : public Decoder
{
public:
    MetaspaceDecoder(std::string replacement, bool stripFirstSpace)
        : mReplacement(std::move(replacement))
        , mStripFirstSpace(stripFirstSpace)
    {}
    std::vector<std::string> decodeChain(std::vector<std::string> tokens) const override
    {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string out;
            const std::string &t = tokens[i];
            for (size_t pos = 0; pos < t.size();) {
                if (t.compare(pos, mReplacement.size(), mReplacement) == 0) {
                    out += ' ';
                    pos += mReplacement.size();
                } else {
                    out += t[pos++];
                }
            }
            if (i == 0 && mStripFirstSpace && !out.empty() && out.front() == ' ')
                out.erase(out.begin());
            tokens[i] = std::move(out);
        }
        return tokens;
    }

private:
    std::string mReplacement;
    bool mStripFirstSpace;
};

// Runs of <0xNN> tokens become the bytes they name; invalid UTF-8 gives one U+FFFD per byte.
class ByteFallbackDecoder : public Decoder
{
public:
    std::vector<std::string> decodeChain(std::vector<std::string> tokens) const override { return decode(std::move(tokens), false); }
    std::vector<std::string> decodeBytes(std::vector<std::string> tokens) const override { return decode(std::move(tokens), true); }

private:
    static std::vector<std::string> decode(std::vector<std::string> tokens, bool keepBytes)
    {
        std::vector<std::string> out;
        std::string pending;
        size_t pendingCount = 0;
        auto flush = [&] {
            if (pendingCount == 0)
                return;
            if (!keepBytes && unicode::firstInvalidByte(pending)) {
                for (size_t i = 0; i < pendingCount; ++i)
                    out.push_back("\xEF\xBF\xBD");
            } else {
                out.push_back(pending);
            }
            pending.clear();
            pendingCount = 0;
        };
        for (auto &token : tokens) {
            if (token.size() == 6 && token.compare(0, 3, "<0x") == 0 && token[5] == '>') {
                char *end = nullptr;
                const std::string hex = token.substr(3, 2);
                const long value = std::strtol(hex.c_str(), &end, 16);
                if (*end == '\0') {
                    pending += static_cast<char>(value);
                    ++pendingCount;
                    continue;
                }
            }
            flush();
            out.push_back(std::move(token));
        }
        flush();
        return out;
    }
};

class FuseDecoder : public Decoder
{
public:
    std::vector<std::string> decodeChain(std::vector<std::string> tokens) const override
    {
        std::string all;
        for (const auto &t : tokens)
            all += t;
        return {all};
    }
};

class StripDecoder : public Decoder
{
public:
    StripDecoder(std::string content, size_t start, size_t stop)
        : mContent(std::move(content))
        , mStart(start)
        , mStop(stop)
    {}
    std::vector<std::string> decodeChain(std::vector<std::string> tokens) const override
    {
        for (auto &t : tokens) {
            size_t begin = 0;
            for (size_t i = 0; i < mStart && t.compare(begin, mContent.size(), mContent) == 0; ++i)
                begin += mContent.size();
            size_t end = t.size();
            for (size_t i = 0; i < mStop && end >= begin + mContent.size()
                               && t.compare(end - mContent.size(), mContent.size(), mContent) == 0;
                 ++i)
                end -= mContent.size();
            t = t.substr(begin, end - begin);
        }
        return tokens;
    }

private:
    std::string mContent;
    size_t mStart, mStop;
};

class ReplaceDecoder : public Decoder
{
public:
    ReplaceDecoder(std::unique_ptr<UnicodeRegex> pattern, std::string content)
        : mPattern(std::move(pattern))
        , mContent(std::move(content))
    {}
    std::vector<std::string> decodeChain(std::vector<std::string> tokens) const override
    {
        for (auto &t : tokens)
            t = replaceAll(*mPattern, t, mContent);
        return tokens;
    }

private:
    std::unique_ptr<UnicodeRegex> mPattern;
    std::string mContent;
};

class SequenceDecoder : public Decoder
{
public:
    explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
        : mSteps(std::move(steps))
    {}
    std::vector<std::string> decodeChain(std::vector<std::string> tokens) const override
    {
        for (const auto &step : mSteps)
            tokens = step->decodeChain(std::move(tokens));
        return tokens;
    }
    std::vector<std::string> decodeBytes(std::vector<std::string> tokens) const override
    {
        for (const auto &step : mSteps)
            tokens = step->decodeBytes(std::move(tokens));
        return tokens;
    }

private:
    std::vector<std::unique_ptr<Decoder>> mSteps;
};

size_t nonNegative(const nlohmann::json &spec, const char *field, const std::string &source)
{
    if (!spec.contains(field) || !spec[field].is_number_integer() || spec[field].get<int64_t>() < 0)
        throw FormatError(source + ": decoder Strip needs a non-negative integer \"" + field + "\"");
    return static_cast<size_t>(spec[field].get<int64_t>());
}

} // namespace

std::unique_ptr<Decoder> makeDecoder(const nlohmann::json &spec, const std::string &source)
{
    if (spec.is_null())
        return nullptr;
    const std::string type = componentType(spec, "decoder", source);
    if (type == "ByteLevel")
        return std::make_unique<ByteLevelDecoder>();
    if (type == "Metaspace") {
        const std::string replacement = spec.contains("replacement") ? jsonString(spec, "replacement", source) : "\xE2\x96\x81";
        bool strip = jsonBool(spec, "add_prefix_space", true, source);
        if (spec.contains("prepend_scheme") && spec["prepend_scheme"].is_string())
            strip = spec["prepend_scheme"].get<std::string>() != "never";
        return std::make_unique<MetaspaceDecoder>(replacement, strip);
    }
    if (type == "ByteFallback")
        return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse")
        return std::make_unique<FuseDecoder>();
    if (type == "Strip")
        return std::make_unique<StripDecoder>(jsonString(spec, "content", source), nonNegative(spec, "start", source),
                                              nonNegative(spec, "stop", source));
    if (type == "Replace")
        return std::make_unique<ReplaceDecoder>(makePattern(spec, "decoder Replace", source), jsonString(spec, "content", source));
    if (type == "Sequence") {
        if (!spec.contains("decoders") || !spec["decoders"].is_array())
            throw FormatError(source + ": decoder Sequence needs a \"decoders\" array");
        std::vector<std::unique_ptr<Decoder>> steps;
        for (const auto &item : spec["decoders"])
            if (auto step = makeDecoder(item, source))
                steps.push_back(std::move(step));
        return std::make_unique<SequenceDecoder>(std::move(steps));
    }
    throw FormatError(source + ": unsupported decoder \"" + type
                      + "\" in tokenizer.json (supported: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, Sequence)");
}

} // namespace plad
