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
};

/**
 * Builds a decoder: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace and Sequence.
 * `null` gives nullptr; other types throw FormatError "unsupported decoder X in tokenizer.json".
 */
std::unique_ptr<Decoder> makeDecoder(const nlohmann::json &spec, const std::string &source);

} // namespace plad
