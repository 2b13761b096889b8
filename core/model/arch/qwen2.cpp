// Qwen2: Llama with biases on the q/k/v projections (never on the output projection).
#include "model/architectureregistry.h"
#include "model/arch/llama.h"

namespace plad {

namespace {

void parseQwen2Config(const JsonFieldReader &r, ModelConfig &c)
{
    parseLlamaFamilyConfig(r, c);
    c.qkvBias = true;
    c.outputBias = false;
    if (r.boolean("use_sliding_window", false))
        r.fail("use_sliding_window", "= true is not supported (per-layer sliding windows)");
}

} // namespace

Architecture qwen2Architecture()
{
    return {"qwen2", &parseQwen2Config, &createLlamaFamilyModel};
}

} // namespace plad
