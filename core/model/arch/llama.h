#pragma once

// The Llama family (llama, mistral, qwen2, qwen3): RMSNorm, rotary positions, grouped-query
// attention and a gated MLP. The variants differ only in options carried by ModelConfig
// (biases, per-head q/k norm, sliding window). Shape vocabulary as in causallm.h.

#include "model/causallm.h"

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>

namespace plad {

class JsonFieldReader;

/** Reads the config.json fields every Llama-family model shares. */
void parseLlamaFamilyConfig(const JsonFieldReader &reader, ModelConfig &config);
std::shared_ptr<CausalLMImpl> createLlamaFamilyModel(const ModelConfig &config);

struct LlamaDecoderLayerImpl : torch::nn::Module
{
    explicit LlamaDecoderLayerImpl(const ModelConfig &config);
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &cos, const torch::Tensor &sin,
                          const AttentionMask &mask, KVCache *cache, int64_t layer);

    RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
    RotaryAttention self_attn{nullptr};
    GatedMLP mlp{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

struct LlamaBackboneImpl : torch::nn::Module
{
    explicit LlamaBackboneImpl(const ModelConfig &config);

    torch::nn::Embedding embed_tokens{nullptr};
    torch::nn::ModuleList layers{nullptr};
    RMSNorm norm{nullptr};
};
TORCH_MODULE(LlamaBackbone);

class LlamaForCausalLM : public CausalLMImpl
{
public:
    explicit LlamaForCausalLM(const ModelConfig &config);

    torch::Tensor hiddenStates(const torch::Tensor &ids, const torch::Tensor &positions, const torch::Tensor &keyMask,
                               KVCache *cache) override;
    torch::Tensor logitsFromHidden(const torch::Tensor &hidden) override;
    std::optional<std::string> parameterNameFor(const std::string &checkpointName) const override;

private:
    LlamaBackbone model{nullptr};
    torch::nn::Linear lm_head{nullptr}; // only when the head is untied
    RotaryEmbedding mRope;
};

} // namespace plad
