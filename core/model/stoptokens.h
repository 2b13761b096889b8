#pragma once

#include <cstdint>
#include <vector>

namespace plad {

struct ModelConfig;
class Tokenizer;

/** The ids that end an output: the model's eos_token_id(s), plus the tokenizer's EOS when it is another one. */
std::vector<int64_t> stopTokenIds(const ModelConfig &config, const Tokenizer &tokenizer);

} // namespace plad
