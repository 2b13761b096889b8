// config.json of a Hugging Face checkpoint: loadModelConfig (architecture, sizes, RoPE
// scaling, tied embeddings, every supported model_type).
#include "fuzzsupport.h"

#include "common/error.h"
#include "model/modelconfig.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace plad;
    const auto path = fuzz::writeScratch("config.json", std::string_view(reinterpret_cast<const char *>(data), size));
    try {
        loadModelConfig(path);
    } catch (const Error &e) {
        fuzz::expectCleanRejection(e.what(), path.string());
    }
    return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize, unsigned int seed)
{
    plad::fuzz::Random random(seed);
    static const plad::fuzz::Dictionary dict{
        {"model_type", "architectures", "vocab_size", "hidden_size", "n_embd", "n_layer", "n_head", "n_positions", "n_inner",
         "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size", "head_dim",
         "max_position_embeddings", "rope_theta", "rope_scaling", "rope_type", "factor", "low_freq_factor",
         "high_freq_factor", "original_max_position_embeddings", "rms_norm_eps", "layer_norm_epsilon",
         "tie_word_embeddings", "torch_dtype", "bos_token_id", "eos_token_id", "pad_token_id", "sliding_window",
         "attention_bias", "hidden_act", "activation_function", "use_sliding_window", "qkv_bias"},
        {"gpt2", "llama", "mistral", "qwen2", "qwen3", "llama3", "float32", "bfloat16", "silu", "gelu_new", 0, -1,
         nlohmann::json::array({1, 2}), nlohmann::json{{"rope_type", "llama3"}, {"factor", 8.0}}}};
    return plad::fuzz::store(plad::fuzz::mutateJson(std::string(reinterpret_cast<char *>(data), size), maxSize, random, dict), data, maxSize);
}
