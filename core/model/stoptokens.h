#pragma once

#include <cstdint>
#include <vector>

namespace plad {

struct ModelConfig;
class Tokenizer;

/** The ids that end an output: the model's eos_token_id(s), those of its generation_config.json, and the tokenizer's EOS. */
std::vector<int64_t> stopTokenIds(const ModelConfig &config, const Tokenizer &tokenizer);

} // namespace plad
