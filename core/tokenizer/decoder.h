#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** A tokenizer.json decoder: turns token strings back into text, as tokenizers' decode_chain. */
class Decoder
{
public:
    virtual ~Decoder() = default;
    virtual std::vector<std::string> decodeChain(std::vector<std::string> tokens) const = 0;
    /**
     * As decodeChain, but the bytes that byte-level and byte-fallback tokens stand for are kept
     * as they are, even where they are not (yet) valid UTF-8: what one token of a multi-byte
     * character contributes (OpenAI's logprob "bytes").
     */
    virtual std::vector<std::string> decodeBytes(std::vector<std::string> tokens) const { return decodeChain(std::move(tokens)); }
};

/**
 * Builds a decoder: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace and Sequence.
 * `null` gives nullptr; other types throw FormatError "unsupported decoder X in tokenizer.json".
 */
std::unique_ptr<Decoder> makeDecoder(const nlohmann::json &spec, const std::string &source);

} // namespace plad
