#include "model/causallm.h"

#include "common/error.h"

#include <torch/torch.h>

namespace plad {

CausalLMImpl::CausalLMImpl(ModelConfig config)
    : mConfig(std::move(config))
{}

torch::Tensor CausalLMImpl::forward(const torch::Tensor &ids, const torch::Tensor &positions,
                                    const torch::Tensor &keyMask, KVCache *cache)
{
    return logitsFromHidden(hiddenStates(ids, positions, keyMask, cache));
}

void CausalLMImpl::initializeWeights(uint64_t seed)
{
    torch::NoGradGuard noGrad;
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    for (auto &item : named_parameters()) {
        auto &p = item.value();
        const std::string &name = item.key();
        const bool isNorm = name.find("norm") != std::string::npos || name.find("ln_") != std::string::npos;
        if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
            p.zero_();
        } else if (isNorm) {
            p.fill_(1.0);
        } else {
            auto values = at::normal(0.0, 0.02, p.sizes(), generator, torch::TensorOptions().dtype(torch::kFloat32));
            p.copy_(values);
        }
    }
}

void CausalLMImpl::checkInputs(const torch::Tensor &ids, const torch::Tensor &positions, bool boundedPositions) const
{
    if (ids.dim() != 2)
        throw Error("token ids must be a [batch, tokens] tensor");
    if (ids.numel() == 0)
        throw Error("no tokens to run the model on");
    const int64_t lo = ids.min().item<int64_t>();
    const int64_t hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= mConfig.vocabSize)
        throw Error("token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the model's vocabulary (0.."
                    + std::to_string(mConfig.vocabSize - 1) + ")");
    if (boundedPositions && positions.max().item<int64_t>() >= mConfig.maxPositions)
        throw Error("sequence needs position " + std::to_string(positions.max().item<int64_t>())
                    + " but the model's context length is " + std::to_string(mConfig.maxPositions) + " tokens");
}

} // namespace plad
