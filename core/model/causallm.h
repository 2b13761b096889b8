#pragma once

// Shape vocabulary: B batch, T new tokens, S keys (cached + new), C channels, V vocab.

#include "model/layers.h"
#include "model/modelconfig.h"

#include <memory>
#include <optional>
#include <string>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace plad {

/**
 * A decoder-only language model assembled from a ModelConfig. Children are registered under
 * the checkpoint's own names, so named_parameters() lines up with Hugging Face files.
 *
 * Not thread-safe: one model instance serves one thread at a time (Torch's autograd and
 * inference-mode guards are per thread; set them in the thread that calls in).
 */
class CausalLMImpl : public torch::nn::Module
{
public:
    explicit CausalLMImpl(ModelConfig config);

    const ModelConfig &config() const { return mConfig; }

    /**
     * Final hidden states [B, T, C] (after the last norm) for `ids` [B, T] at `positions`
     * [B, T]. `keyMask` [B, S] marks real tokens (nonzero) among the cached and new ones; it
     * may be undefined when nothing is padded. When `cache` is given, new keys/values are
     * appended and the cache is advanced by T.
     */
    virtual torch::Tensor hiddenStates(const torch::Tensor &ids, const torch::Tensor &positions,
                                       const torch::Tensor &keyMask, KVCache *cache) = 0;

    /** Output head: [..., C] -> logits [..., V]. */
    virtual torch::Tensor logitsFromHidden(const torch::Tensor &hidden) = 0;

    /** hiddenStates() followed by the output head: logits [B, T, V]. */
    torch::Tensor forward(const torch::Tensor &ids, const torch::Tensor &positions, const torch::Tensor &keyMask,
                          KVCache *cache);

    /**
     * The parameter a checkpoint tensor loads into, or nullopt for tensors a checkpoint may carry
     * but the model does not use (GPT-2's causal-mask buffers, rotary inv_freq, the head of a
     * tied model). Names that map to no parameter are reported by the loader.
     */
    virtual std::optional<std::string> parameterNameFor(const std::string &checkpointName) const = 0;

    /** A fresh KV cache sized for this model. */
    KVCache newCache() const { return KVCache(mConfig.numLayers); }

    /** GPT-2-style initialisation (normal(0, 0.02), zero biases, unit norms) from `seed`. */
    void initializeWeights(uint64_t seed);

protected:
    /** Throws Error when ids are outside the vocabulary or positions outside what the model supports. */
    void checkInputs(const torch::Tensor &ids, const torch::Tensor &positions, bool boundedPositions) const;

private:
    ModelConfig mConfig;
};

using CausalLM = std::shared_ptr<CausalLMImpl>;

} // namespace plad
