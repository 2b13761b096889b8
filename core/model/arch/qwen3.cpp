// Qwen3: Llama with per-head RMSNorm on queries and keys and an explicit head_dim.
#include "model/architectureregistry.h"
#include "model/arch/llama.h"

namespace plad {

namespace {

void parseQwen3Config(const JsonFieldReader &r, ModelConfig &c)
{
    parseLlamaFamilyConfig(r, c);
    c.headDim = r.positiveInt("head_dim", 128); // transformers' Qwen3Config default
    c.qkNorm = true;
    if (r.boolean("use_sliding_window", false))
        r.fail("use_sliding_window", "= true is not supported (per-layer sliding windows)");
}

} // namespace

Architecture qwen3Architecture()
{
    return {"qwen3", &parseQwen3Config, &createLlamaFamilyModel};
}

} // namespace plad
