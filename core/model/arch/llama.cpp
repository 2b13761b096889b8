#include "model/arch/llama.h"

#include "model/architectureregistry.h"

#include <torch/torch.h>

namespace plad {

namespace {

std::optional<RopeScaling> parseRopeScaling(const JsonFieldReader &r, const nlohmann::json &value)
{
    if (value.is_null())
        return std::nullopt;
    if (!value.is_object())
        r.fail("rope_scaling", "must be null or an object");
    JsonFieldReader sub(value, r.source() + ": field \"rope_scaling\"");
    std::string type = sub.string("rope_type", sub.string("type", "default"));
    if (type == "default")
        return std::nullopt;
    RopeScaling s;
    s.type = type;
    if (type == "linear") {
        s.factor = sub.positiveNumber("factor", 1.0);
    } else if (type == "llama3") {
        s.factor = sub.positiveNumber("factor", 8.0);
        s.lowFreqFactor = sub.positiveNumber("low_freq_factor", 1.0);
        s.highFreqFactor = sub.positiveNumber("high_freq_factor", 4.0);
        s.originalMaxPositionEmbeddings = sub.positiveInt("original_max_position_embeddings", 8192);
        if (s.highFreqFactor <= s.lowFreqFactor)
            sub.fail("high_freq_factor", "must be larger than low_freq_factor");
    } else {
        r.fail("rope_scaling", "type \"" + type + "\" is not supported (supported: linear, llama3)");
    }
    return s;
}

} // namespace

void parseLlamaFamilyConfig(const JsonFieldReader &r, ModelConfig &c)
{
    c.vocabSize = r.positiveInt("vocab_size");
    c.hiddenSize = r.positiveInt("hidden_size");
    c.intermediateSize = r.positiveInt("intermediate_size");
    c.numLayers = r.positiveInt("num_hidden_layers");
    c.numHeads = r.positiveInt("num_attention_heads");
    c.numKeyValueHeads = r.positiveInt("num_key_value_heads", c.numHeads);
    if (!r.has("head_dim") && c.hiddenSize % c.numHeads != 0)
        r.fail("hidden_size", "(" + std::to_string(c.hiddenSize) + ") must be divisible by num_attention_heads ("
                                  + std::to_string(c.numHeads) + ") unless head_dim is given");
    c.headDim = r.positiveInt("head_dim", c.hiddenSize / c.numHeads);
    c.maxPositions = r.positiveInt("max_position_embeddings", 2048);
    c.normEps = r.positiveNumber("rms_norm_eps", 1e-6);
    c.activation = r.string("hidden_act", "silu");
    checkActivation(c.activation, r.source() + " field \"hidden_act\"");
    c.ropeTheta = r.positiveNumber("rope_theta", 10000.0);
    c.ropeScaling = parseRopeScaling(r, r.has("rope_scaling") ? c.raw["rope_scaling"] : nlohmann::json());
    c.qkvBias = c.outputBias = r.boolean("attention_bias", false);
    c.mlpBias = r.boolean("mlp_bias", false);
    c.tieWordEmbeddings = r.boolean("tie_word_embeddings", false);
}

std::shared_ptr<CausalLMImpl> createLlamaFamilyModel(const ModelConfig &config)
{
    return std::make_shared<LlamaForCausalLM>(config);
}

Architecture llamaArchitecture()
{
    return {"llama", &parseLlamaFamilyConfig, &createLlamaFamilyModel};
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const ModelConfig &c)
{
    RotaryAttentionOptions o;
    o.hidden = c.hiddenSize;
    o.heads = c.numHeads;
    o.kvHeads = c.numKeyValueHeads;
    o.headDim = c.headDim;
    o.qkvBias = c.qkvBias;
    o.outputBias = c.outputBias;
    o.qkNorm = c.qkNorm;
    o.normEps = c.normEps;
    self_attn = register_module("self_attn", RotaryAttention(o));
    mlp = register_module("mlp", GatedMLP(c.hiddenSize, c.intermediateSize, c.mlpBias, c.activation));
    input_layernorm = register_module("input_layernorm", RMSNorm(c.hiddenSize, c.normEps));
    post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hiddenSize, c.normEps));
}

torch::Tensor LlamaDecoderLayerImpl::forward(const torch::Tensor &x, const torch::Tensor &cos, const torch::Tensor &sin,
                                             const AttentionMask &mask, KVCache *cache, int64_t layer)
{
    auto h = x + self_attn(input_layernorm(x), cos, sin, mask, cache, layer); // [B, T, C]
    return h + mlp(post_attention_layernorm(h));
}

LlamaBackboneImpl::LlamaBackboneImpl(const ModelConfig &c)
{
    embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocabSize, c.hiddenSize));
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.numLayers; ++i)
        layers->push_back(LlamaDecoderLayer(c));
    norm = register_module("norm", RMSNorm(c.hiddenSize, c.normEps));
}

LlamaForCausalLM::LlamaForCausalLM(const ModelConfig &config)
    : CausalLMImpl(config)
    , mRope(config.headDim, config.ropeTheta, config.ropeScaling)
{
    model = register_module("model", LlamaBackbone(config));
    if (!config.tieWordEmbeddings)
        lm_head = register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(config.hiddenSize, config.vocabSize).bias(false)));
}

torch::Tensor LlamaForCausalLM::hiddenStates(const torch::Tensor &ids, const torch::Tensor &positions,
                                             const torch::Tensor &keyMask, KVCache *cache)
{
    checkInputs(ids, positions, /*boundedPositions=*/false);
    const int64_t T = ids.size(1);
    const int64_t past = cache ? cache->length() : 0;
    const AttentionMask mask(T, past, keyMask, config().slidingWindow, ids.device(), cache ? cache->rowMap() : torch::Tensor());
    auto [cos, sin] = mRope.cosSin(positions); // [B, 1, T, D]
    auto x = model->embed_tokens(ids);          // [B, T, C]
    int64_t layer = 0;
    for (const auto &block : *model->layers)
        x = block->as<LlamaDecoderLayer>()->forward(x, cos, sin, mask, cache, layer++);
    if (cache)
        cache->advance(T);
    return model->norm(x);
}

torch::Tensor LlamaForCausalLM::logitsFromHidden(const torch::Tensor &hidden)
{
    return linearRows(hidden, lm_head ? lm_head->weight : model->embed_tokens->weight, torch::Tensor()); // [..., V]
}

std::optional<std::string> LlamaForCausalLM::parameterNameFor(const std::string &name) const
{
    if (name.find("rotary_emb.inv_freq") != std::string::npos)
        return std::nullopt; // a derived buffer some exporters keep
    if (name == "lm_head.weight")
        return config().tieWordEmbeddings ? std::nullopt : std::optional<std::string>(name);
    if (name.rfind("model.", 0) == 0)
        return name;
    return "model." + name; // checkpoints saved from the bare backbone
}

} // namespace plad
