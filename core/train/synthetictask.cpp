#include "train/synthetictask.h"

#include "common/configreader.h"
#include "common/error.h"

#include <random>

#include <nlohmann/json.hpp>

namespace plad {

std::vector<DatasetRecord> makeReversalTask(int64_t count, uint64_t seed)
{
    static const char *words[] = {"red", "blue", "green", "gold", "pink", "gray", "cyan", "teal", "navy", "lime",
                                  "cat", "dog", "owl", "fox", "elk", "bee", "ant", "yak", "emu", "cod"};
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> pick(0, 19);
    std::vector<DatasetRecord> records;
    for (int64_t i = 0; i < count; ++i) {
        const char *w[4];
        for (auto &x : w)
            x = words[pick(rng)];
        DatasetRecord r;
        r.id = "rev-" + std::to_string(i);
        r.group = r.id;
        r.prompt = std::string("reverse: ") + w[0] + " " + w[1] + " " + w[2] + " " + w[3] + "\n";
        r.reference = std::string(w[3]) + " " + w[2] + " " + w[1] + " " + w[0];
        records.push_back(std::move(r));
    }
    return records;
}

ScratchModelSpec ScratchModelSpec::fromConfig(const ConfigReader &r)
{
    r.allowOnly({"style", "hidden_size", "layers", "heads", "kv_heads", "intermediate_size", "context_length", "tie_embeddings"});
    ScratchModelSpec spec;
    r.read("style", spec.style);
    r.read("hidden_size", spec.hiddenSize);
    r.read("layers", spec.layers);
    r.read("heads", spec.heads);
    r.read("kv_heads", spec.keyValueHeads);
    r.read("intermediate_size", spec.intermediateSize);
    r.read("context_length", spec.contextLength);
    r.read("tie_embeddings", spec.tieEmbeddings);
    for (const auto &[name, value] : {std::pair<const char *, int64_t>{"hidden_size", spec.hiddenSize}, {"layers", spec.layers},
                                      {"heads", spec.heads}, {"context_length", spec.contextLength}})
        if (value <= 0)
            r.fail(name, "must be positive");
    if (spec.hiddenSize % spec.heads != 0)
        r.fail("heads", "must divide hidden_size");
    if (spec.style != "llama" && spec.style != "gpt2" && spec.style != "qwen3")
        r.fail("style", "must be \"llama\", \"qwen3\" or \"gpt2\", found \"" + spec.style + "\"");
    return spec;
}

ModelConfig scratchModelConfig(const ScratchModelSpec &s)
{
    if (s.vocabSize <= 0)
        throw ConfigError("scratch model: vocab_size must be positive");
    nlohmann::json doc;
    if (s.style == "gpt2") {
        doc = {{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"vocab_size", s.vocabSize},
               {"n_positions", s.contextLength}, {"n_ctx", s.contextLength}, {"n_embd", s.hiddenSize}, {"n_layer", s.layers},
               {"n_head", s.heads}, {"n_inner", s.intermediateSize > 0 ? nlohmann::json(s.intermediateSize) : nlohmann::json()},
               {"activation_function", "gelu_new"}, {"layer_norm_epsilon", 1e-5}, {"tie_word_embeddings", s.tieEmbeddings},
               {"bos_token_id", s.bosTokenId}, {"eos_token_id", s.eosTokenId}, {"resid_pdrop", 0.0}, {"embd_pdrop", 0.0},
               {"attn_pdrop", 0.0}, {"torch_dtype", "float32"}};
    } else if (s.style == "llama") {
        int64_t intermediate = s.intermediateSize;
        if (intermediate <= 0)
            intermediate = ((8 * s.hiddenSize / 3) + 15) / 16 * 16;
        doc = {{"model_type", "llama"}, {"architectures", {"LlamaForCausalLM"}}, {"vocab_size", s.vocabSize},
               {"hidden_size", s.hiddenSize}, {"intermediate_size", intermediate}, {"num_hidden_layers", s.layers},
               {"num_attention_heads", s.heads}, {"num_key_value_heads", s.keyValueHeads > 0 ? s.keyValueHeads : s.heads},
               {"hidden_act", "silu"}, {"max_position_embeddings", s.contextLength}, {"rms_norm_eps", 1e-5},
               {"rope_theta", 10000.0}, {"rope_scaling", nullptr}, {"attention_bias", false}, {"mlp_bias", false},
               {"tie_word_embeddings", s.tieEmbeddings}, {"bos_token_id", s.bosTokenId}, {"eos_token_id", s.eosTokenId},
               {"torch_dtype", "float32"}};
    } else if (s.style == "qwen3") {
        // Qwen3's layout: RMS-normalised queries and keys per head, rotary base 1e6.
        int64_t intermediate = s.intermediateSize;
        if (intermediate <= 0)
            intermediate = 3 * s.hiddenSize;
        doc = {{"model_type", "qwen3"}, {"architectures", {"Qwen3ForCausalLM"}}, {"vocab_size", s.vocabSize},
               {"hidden_size", s.hiddenSize}, {"intermediate_size", intermediate}, {"num_hidden_layers", s.layers},
               {"num_attention_heads", s.heads}, {"num_key_value_heads", s.keyValueHeads > 0 ? s.keyValueHeads : s.heads},
               {"head_dim", s.hiddenSize / s.heads}, {"hidden_act", "silu"}, {"max_position_embeddings", s.contextLength},
               {"rms_norm_eps", 1e-6}, {"rope_theta", 1000000.0}, {"rope_scaling", nullptr}, {"attention_bias", false},
               {"use_sliding_window", false}, {"tie_word_embeddings", s.tieEmbeddings}, {"bos_token_id", s.bosTokenId},
               {"eos_token_id", s.eosTokenId}, {"torch_dtype", "float32"}};
    } else {
        throw ConfigError("scratch model: style must be \"llama\", \"qwen3\" or \"gpt2\", found \"" + s.style + "\"");
    }
    return parseModelConfig(doc, "scratch model spec");
}

} // namespace plad
