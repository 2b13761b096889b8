#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** A tokenizer.json normalizer: rewrites text before pre-tokenization. */
class Normalizer
{
public:
    virtual ~Normalizer() = default;
    virtual std::string normalize(std::string text) const = 0;
    /** True when the normalizer works on bytes (no Unicode decoding needed). */
    virtual bool acceptsInvalidUtf8() const { return false; }
};

/**
 * Builds a normalizer from its tokenizer.json object: NFC, NFKC, NFD, NFKD, Lowercase, Strip,
 * Prepend, Replace and Sequence. `null` gives nullptr. Anything else throws FormatError
 * "unsupported normalizer X in tokenizer.json".
 */
std::unique_ptr<Normalizer> makeNormalizer(const nlohmann::json &spec, const std::string &source);

} // namespace plad
