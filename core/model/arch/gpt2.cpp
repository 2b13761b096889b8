#include "model/arch/gpt2.h"

#include "model/architectureregistry.h"

#include <cmath>

#include <torch/torch.h>

namespace plad {

namespace {

bool endsWith(const std::string &s, const std::string &suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void parseGpt2Config(const JsonFieldReader &r, ModelConfig &c)
{
    c.vocabSize = r.positiveInt("vocab_size");
    c.hiddenSize = r.positiveInt("n_embd");
    c.numLayers = r.positiveInt("n_layer");
    c.numHeads = r.positiveInt("n_head");
    if (c.hiddenSize % c.numHeads != 0)
        r.fail("n_embd", "(" + std::to_string(c.hiddenSize) + ") must be divisible by n_head (" + std::to_string(c.numHeads) + ")");
    c.numKeyValueHeads = c.numHeads;
    c.headDim = c.hiddenSize / c.numHeads;
    c.intermediateSize = r.positiveInt("n_inner", 4 * c.hiddenSize);
    c.maxPositions = r.positiveInt("n_positions", 1024);
    c.normEps = r.positiveNumber("layer_norm_epsilon", 1e-5);
    c.activation = r.string("activation_function", "gelu_new");
    checkActivation(c.activation, r.source() + " field \"activation_function\"");
    c.tieWordEmbeddings = r.boolean("tie_word_embeddings", true);
    c.scaleAttnWeights = r.boolean("scale_attn_weights", true);
    c.scaleAttnByInverseLayerIdx = r.boolean("scale_attn_by_inverse_layer_idx", false);
    if (r.boolean("reorder_and_upcast_attn", false))
        r.fail("reorder_and_upcast_attn", "= true is not supported");
}

std::shared_ptr<CausalLMImpl> createGpt2(const ModelConfig &config)
{
    return std::make_shared<GPT2LMHeadModel>(config);
}

} // namespace

Architecture gpt2Architecture()
{
    return {"gpt2", &parseGpt2Config, &createGpt2};
}

Conv1DImpl::Conv1DImpl(int64_t in, int64_t out)
{
    weight = register_parameter("weight", torch::empty({in, out}));
    bias = register_parameter("bias", torch::zeros({out}));
}

torch::Tensor Conv1DImpl::forward(const torch::Tensor &x)
{
    auto sizes = x.sizes().vec();
    sizes.back() = weight.size(1);
    if (x.numel() == x.size(-1)) // one row: matrix-vector product, much faster in BLAS
        return (torch::mv(weight.t(), x.reshape({-1})) + bias).view(sizes);
    const auto rows = x.reshape({-1, x.size(-1)});
    const auto padded = paddedForGemm(rows);
    auto out = torch::addmm(bias, padded, weight); // [M (padded), out]
    return (padded.size(0) != rows.size(0) ? out.narrow(0, 0, rows.size(0)) : out).view(sizes);
}

GPT2AttentionImpl::GPT2AttentionImpl(const ModelConfig &config, int64_t layer_)
    : heads(config.numHeads)
    , layer(layer_)
{
    c_attn = register_module("c_attn", Conv1D(config.hiddenSize, 3 * config.hiddenSize));
    c_proj = register_module("c_proj", Conv1D(config.hiddenSize, config.hiddenSize));
    scale = config.scaleAttnWeights ? 1.0 / std::sqrt(static_cast<double>(config.headDim)) : 1.0;
    if (config.scaleAttnByInverseLayerIdx)
        scale /= static_cast<double>(layer + 1);
}

torch::Tensor GPT2AttentionImpl::forward(const torch::Tensor &x, const AttentionMask &mask, KVCache *cache)
{
    const int64_t B = x.size(0), T = x.size(1), C = x.size(2), D = C / heads;
    auto qkv = c_attn(x).split(C, -1);                    // 3 x [B, T, C]
    auto q = qkv[0].view({B, T, heads, D}).transpose(1, 2); // [B, H, T, D]
    auto k = qkv[1].view({B, T, heads, D}).transpose(1, 2);
    auto v = qkv[2].view({B, T, heads, D}).transpose(1, 2);
    if (cache)
        std::tie(k, v) = cache->append(layer, k, v); // [B, H, S, D]
    auto out = attention(q, k, v, mask, scale);         // [B, H, T, D]
    return c_proj(out.transpose(1, 2).reshape({B, T, C}));
}

GPT2MLPImpl::GPT2MLPImpl(const ModelConfig &config)
    : activation(config.activation)
{
    c_fc = register_module("c_fc", Conv1D(config.hiddenSize, config.intermediateSize));
    c_proj = register_module("c_proj", Conv1D(config.intermediateSize, config.hiddenSize));
}

torch::Tensor GPT2MLPImpl::forward(const torch::Tensor &x)
{
    return c_proj(applyActivation(activation, c_fc(x))); // [B, T, F] -> [B, T, C]
}

GPT2BlockImpl::GPT2BlockImpl(const ModelConfig &config, int64_t layer)
{
    const auto norm = torch::nn::LayerNormOptions({config.hiddenSize}).eps(config.normEps);
    ln_1 = register_module("ln_1", torch::nn::LayerNorm(norm));
    attn = register_module("attn", GPT2Attention(config, layer));
    ln_2 = register_module("ln_2", torch::nn::LayerNorm(norm));
    mlp = register_module("mlp", GPT2MLP(config));
}

torch::Tensor GPT2BlockImpl::forward(const torch::Tensor &x, const AttentionMask &mask, KVCache *cache)
{
    auto h = x + attn(ln_1(x), mask, cache);
    return h + mlp(ln_2(h));
}

GPT2BackboneImpl::GPT2BackboneImpl(const ModelConfig &config)
{
    wte = register_module("wte", torch::nn::Embedding(config.vocabSize, config.hiddenSize));
    wpe = register_module("wpe", torch::nn::Embedding(config.maxPositions, config.hiddenSize));
    h = register_module("h", torch::nn::ModuleList());
    for (int64_t i = 0; i < config.numLayers; ++i)
        h->push_back(GPT2Block(config, i));
    ln_f = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hiddenSize}).eps(config.normEps)));
}

GPT2LMHeadModel::GPT2LMHeadModel(const ModelConfig &config)
    : CausalLMImpl(config)
{
    transformer = register_module("transformer", GPT2Backbone(config));
    if (!config.tieWordEmbeddings)
        lm_head = register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(config.hiddenSize, config.vocabSize).bias(false)));
}

torch::Tensor GPT2LMHeadModel::hiddenStates(const torch::Tensor &ids, const torch::Tensor &positions,
                                            const torch::Tensor &keyMask, KVCache *cache)
{
    checkInputs(ids, positions, /*boundedPositions=*/true);
    const int64_t T = ids.size(1);
    const int64_t past = cache ? cache->length() : 0;
    const AttentionMask mask(T, past, keyMask, std::nullopt, ids.device(), cache ? cache->rowMap() : torch::Tensor());
    auto x = transformer->wte(ids) + transformer->wpe(positions); // [B, T, C]
    for (const auto &block : *transformer->h)
        x = block->as<GPT2Block>()->forward(x, mask, cache);
    if (cache)
        cache->advance(T);
    return transformer->ln_f(x);
}

torch::Tensor GPT2LMHeadModel::logitsFromHidden(const torch::Tensor &hidden)
{
    return linearRows(hidden, lm_head ? lm_head->weight : transformer->wte->weight, torch::Tensor()); // [..., V]
}

std::optional<std::string> GPT2LMHeadModel::parameterNameFor(const std::string &name) const
{
    // Legacy causal-mask buffers that older checkpoints carry; the mask is computed instead.
    if (endsWith(name, ".attn.bias") || endsWith(name, ".attn.masked_bias"))
        return std::nullopt;
    if (name == "lm_head.weight")
        return config().tieWordEmbeddings ? std::nullopt : std::optional<std::string>(name);
    if (name.rfind("transformer.", 0) == 0)
        return name;
    return "transformer." + name; // checkpoints saved from the bare GPT2Model
}

} // namespace plad
