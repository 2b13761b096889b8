#include "tokenizer/normalizer.h"

#include "common/error.h"
#include "tokenizer/tokenizerjson.h"
#include "tokenizer/unicoderegex.h"
#include "tokenizer/unicodetext.h"

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

namespace plad {

namespace {

class UnicodeForm : public Normalizer
{
public:
    explicit UnicodeForm(std::string (*form)(std::string_view))
        : mForm(form)
    {}
    std::string normalize(std::string text) const override { return mForm(text); }

private:
    std::string (*mForm)(std::string_view);
};

class Lowercase : public Normalizer
{
public:
    std::string normalize(std::string text) const override { return unicode::lowercase(text); }
};

// Strips Unicode whitespace at either end.
class Strip : public Normalizer
{
public:
    Strip(bool left, bool right)
        : mLeft(left)
        , mRight(right)
    {}
    std::string normalize(std::string text) const override
    {
        size_t begin = 0, end = text.size();
        if (mLeft) {
            while (begin < end) {
                size_t len = 0;
                const auto cp = unicode::decodeAt(text, begin, len);
                if (!cp || !unicode::isWhitespace(*cp))
                    break;
                begin += len;
            }
        }
        if (mRight) {
            while (end > begin) {
                const size_t start = std::max(begin, unicode::previousCodePointStart(text, end));
                size_t len = 0;
                const auto cp = unicode::decodeAt(text, start, len);
                if (!cp || !unicode::isWhitespace(*cp))
                    break;
                end = start;
            }
        }
        return text.substr(begin, end - begin);
    }

private:
    bool mLeft, mRight;
};

class Prepend : public Normalizer
{
public:
    explicit Prepend(std::string prefix)
        : mPrefix(std::move(prefix))
    {}
    std::string normalize(std::string text) const override { return text.empty() ? text : mPrefix + text; }

private:
    std::string mPrefix;
};

class Replace : public Normalizer
{
public:
    Replace(std::unique_ptr<UnicodeRegex> pattern, std::string content)
        : mPattern(std::move(pattern))
        , mContent(std::move(content))
    {}
    std::string normalize(std::string text) const override { return replaceAll(*mPattern, text, mContent); }
    bool acceptsInvalidUtf8() const override { return true; }

private:
    std::unique_ptr<UnicodeRegex> mPattern;
    std::string mContent;
};

class Sequence : public Normalizer
{
public:
    explicit Sequence(std::vector<std::unique_ptr<Normalizer>> steps)
        : mSteps(std::move(steps))
    {}
    std::string normalize(std::string text) const override
    {
        for (const auto &step : mSteps)
            text = step->normalize(std::move(text));
        return text;
    }
    bool acceptsInvalidUtf8() const override
    {
        for (const auto &step : mSteps)
            if (!step->acceptsInvalidUtf8())
                return false;
        return true;
    }

private:
    std::vector<std::unique_ptr<Normalizer>> mSteps;
};

} // namespace

std::unique_ptr<Normalizer> makeNormalizer(const nlohmann::json &spec, const std::string &source)
{
    if (spec.is_null())
        return nullptr;
    const std::string type = componentType(spec, "normalizer", source);
    if (type == "NFC")
        return std::make_unique<UnicodeForm>(&unicode::nfc);
    if (type == "NFKC")
        return std::make_unique<UnicodeForm>(&unicode::nfkc);
    if (type == "NFD")
        return std::make_unique<UnicodeForm>(&unicode::nfd);
    if (type == "NFKD")
        return std::make_unique<UnicodeForm>(&unicode::nfkd);
    if (type == "Lowercase")
        return std::make_unique<Lowercase>();
    if (type == "Strip")
        return std::make_unique<Strip>(jsonBool(spec, "strip_left", true, source), jsonBool(spec, "strip_right", true, source));
    if (type == "Prepend")
        return std::make_unique<Prepend>(jsonString(spec, "prepend", source));
    if (type == "Replace")
        return std::make_unique<Replace>(makePattern(spec, "normalizer Replace", source), jsonString(spec, "content", source));
    if (type == "Sequence") {
        std::vector<std::unique_ptr<Normalizer>> steps;
        if (!spec.contains("normalizers") || !spec["normalizers"].is_array())
            throw FormatError(source + ": normalizer Sequence needs a \"normalizers\" array");
        for (const auto &item : spec["normalizers"])
            if (auto step = makeNormalizer(item, source))
                steps.push_back(std::move(step));
        return std::make_unique<Sequence>(std::move(steps));
    }
    throw FormatError(source + ": unsupported normalizer \"" + type
                      + "\" in tokenizer.json (supported: NFC, NFKC, NFD, NFKD, Lowercase, Strip, Prepend, Replace, Sequence)");
}

} // namespace plad
