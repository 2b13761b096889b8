#pragma once

#include <memory>
#include <string>
#include <vector>

namespace plad {

class CausalLMImpl;
class JsonFieldReader;
struct ModelConfig;

/**
 * One supported `model_type`: how its config.json fields map onto ModelConfig, and how to build
 * the module. Adding an architecture is one file defining an Architecture and one line in
 * architectures().
 */
struct Architecture
{
    std::string modelType;
    void (*parseConfig)(const JsonFieldReader &reader, ModelConfig &config);
    std::shared_ptr<CausalLMImpl> (*create)(const ModelConfig &config);
};

const std::vector<Architecture> &architectures();
/** nullptr when `modelType` is not supported. */
const Architecture *findArchitecture(const std::string &modelType);

Architecture gpt2Architecture();
Architecture llamaArchitecture();
Architecture mistralArchitecture();
Architecture qwen2Architecture();
Architecture qwen3Architecture();

} // namespace plad
