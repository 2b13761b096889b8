#include "model/architectureregistry.h"

namespace plad {

const std::vector<Architecture> &architectures()
{
    static const std::vector<Architecture> list = {
        gpt2Architecture(),
        llamaArchitecture(),
        mistralArchitecture(),
        qwen2Architecture(),
        qwen3Architecture(),
    };
    return list;
}

const Architecture *findArchitecture(const std::string &modelType)
{
    for (const auto &arch : architectures())
        if (arch.modelType == modelType)
            return &arch;
    return nullptr;
}

} // namespace plad
