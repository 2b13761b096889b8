#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** A piece of text on its way to the model. */
struct PreToken
{
    std::string text;
    bool atSequenceStart = false; ///< begins at byte 0 of the original input (Metaspace "first")
};

/** A tokenizer.json pre-tokenizer: splits (and may rewrite) pieces of text. */
class PreTokenizer
{
public:
    virtual ~PreTokenizer() = default;
    virtual void apply(std::vector<PreToken> &pieces) const = 0;
    /** True when it maps bytes to GPT-2's byte alphabet (so any byte string is encodable). */
    virtual bool isByteLevel() const { return false; }
};

/**
 * Builds a pre-tokenizer: ByteLevel, Split, Metaspace, Digits and Sequence. `null` gives
 * nullptr; other types throw FormatError "unsupported pre-tokenizer X in tokenizer.json".
 */
std::unique_ptr<PreTokenizer> makePreTokenizer(const nlohmann::json &spec, const std::string &source);

/** GPT-2's reversible map from bytes to printable code points, as UTF-8 strings. */
const std::vector<std::string> &byteLevelAlphabet();
/** The regex GPT-2's ByteLevel pre-tokenizer splits with. */
extern const char *const kGpt2SplitPattern;

} // namespace plad
