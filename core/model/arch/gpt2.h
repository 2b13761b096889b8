#pragma once

// GPT-2: learned positions, LayerNorm, fused qkv projection, Conv1D weights stored [in, out].
// Shape vocabulary as in causallm.h.

#include "model/causallm.h"

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

namespace plad {

/** GPT-2's "Conv1D": a linear layer whose weight is stored transposed, [in, out]. */
struct Conv1DImpl : torch::nn::Module
{
    Conv1DImpl(int64_t in, int64_t out);
    torch::Tensor forward(const torch::Tensor &x); // [..., in] -> [..., out]

    torch::Tensor weight; // [in, out]
    torch::Tensor bias;   // [out]
};
TORCH_MODULE(Conv1D);

struct GPT2AttentionImpl : torch::nn::Module
{
    GPT2AttentionImpl(const ModelConfig &config, int64_t layer);
    torch::Tensor forward(const torch::Tensor &x, const AttentionMask &mask, KVCache *cache);

    Conv1D c_attn{nullptr}, c_proj{nullptr};
    int64_t heads, layer;
    double scale;
};
TORCH_MODULE(GPT2Attention);

struct GPT2MLPImpl : torch::nn::Module
{
    explicit GPT2MLPImpl(const ModelConfig &config);
    torch::Tensor forward(const torch::Tensor &x);

    Conv1D c_fc{nullptr}, c_proj{nullptr};
    std::string activation;
};
TORCH_MODULE(GPT2MLP);

struct GPT2BlockImpl : torch::nn::Module
{
    GPT2BlockImpl(const ModelConfig &config, int64_t layer);
    torch::Tensor forward(const torch::Tensor &x, const AttentionMask &mask, KVCache *cache);

    torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
    GPT2Attention attn{nullptr};
    GPT2MLP mlp{nullptr};
};
TORCH_MODULE(GPT2Block);

struct GPT2BackboneImpl : torch::nn::Module
{
    explicit GPT2BackboneImpl(const ModelConfig &config);

    torch::nn::Embedding wte{nullptr}, wpe{nullptr};
    torch::nn::ModuleList h{nullptr};
    torch::nn::LayerNorm ln_f{nullptr};
};
TORCH_MODULE(GPT2Backbone);

class GPT2LMHeadModel : public CausalLMImpl
{
public:
    explicit GPT2LMHeadModel(const ModelConfig &config);

    torch::Tensor hiddenStates(const torch::Tensor &ids, const torch::Tensor &positions, const torch::Tensor &keyMask,
                               KVCache *cache) override;
    torch::Tensor logitsFromHidden(const torch::Tensor &hidden) override;
    std::optional<std::string> parameterNameFor(const std::string &checkpointName) const override;

private:
    GPT2Backbone transformer{nullptr};
    torch::nn::Linear lm_head{nullptr}; // only when the head is untied
};

} // namespace plad
