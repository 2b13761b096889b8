// Mistral: Llama with an optional sliding attention window.
#include "model/architectureregistry.h"
#include "model/arch/llama.h"

namespace plad {

namespace {

void parseMistralConfig(const JsonFieldReader &r, ModelConfig &c)
{
    parseLlamaFamilyConfig(r, c);
    if (r.has("sliding_window"))
        c.slidingWindow = r.positiveInt("sliding_window");
}

} // namespace

Architecture mistralArchitecture()
{
    return {"mistral", &parseMistralConfig, &createLlamaFamilyModel};
}

} // namespace plad
