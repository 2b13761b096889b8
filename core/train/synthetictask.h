#pragma once

#include "data/dataset.h"
#include "model/modelconfig.h"

#include <cstdint>
#include <vector>

namespace plad {

class ConfigReader;

/**
 * A tiny task for fast end-to-end checks: the prompt lists four words drawn from a 20-word
 * vocabulary, the reference lists them in reverse order. The answer is fully determined by the
 * prompt, while a model that ignores the prompt can do no better than ln 20 = 3.0 nats per
 * word, so a low validation loss shows that the model reads its prompt.
 */
std::vector<DatasetRecord> makeReversalTask(int64_t count, uint64_t seed);

/** Shape of a model trained from scratch. */
struct ScratchModelSpec
{
    std::string style = "llama"; ///< "llama", "qwen3" (per-head query/key RMS norms) or "gpt2"
    int64_t vocabSize = 0;
    int64_t hiddenSize = 64;
    int64_t layers = 2;
    int64_t heads = 4;
    int64_t keyValueHeads = 0;   ///< llama and qwen3; 0 = heads
    int64_t intermediateSize = 0; ///< 0 = 4x (gpt2), 8/3x rounded (llama) or 3x (qwen3)
    int64_t contextLength = 256;
    bool tieEmbeddings = true;
    int64_t bosTokenId = 0, eosTokenId = 0;

    /** Reads {"style", "hidden_size", "layers", "heads", "kv_heads", "intermediate_size", "context_length", "tie_embeddings"}. */
    static ScratchModelSpec fromConfig(const ConfigReader &reader);
};

/** A Hugging Face config.json for `spec` (so the trained model saves and loads like any other). */
ModelConfig scratchModelConfig(const ScratchModelSpec &spec);

} // namespace plad
