#pragma once

// Building blocks shared by every architecture.
//
// Shape vocabulary: B batch, T new tokens in this call, S keys attended to (cached + new),
// C channels, V vocab, H query heads, K key/value heads, D head dim, F MLP width.

#include "model/attention.h"
#include "model/modelconfig.h"

#include <optional>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace plad {

/**
 * Keys and values of every layer for the tokens seen so far, so decoding never recomputes the
 * prefix. Storage is allocated once for reserve()'s length (and grows by doubling past it); each
 * layer appends during a forward call and the model calls advance() once the call is done.
 *
 * By default a forward call's batch rows are the cache's rows. A generator that keeps a fixed
 * set of row slots (continuous batching) maps them instead with useRows(): the call's row a then
 * reads and writes slot rows[a], and attention follows rowMap() to find its keys.
 */
class KVCache
{
public:
    explicit KVCache(int64_t numLayers);

    /**
     * Stores k, v ([B, K, T, D]) after the cached tokens; returns all of them ([B, K, S, D]), or
     * with useRows() every slot's columns [offset, offset + S) ([totalRows, K, S, D]; the call's
     * row a is slot rowMap()[a]).
     */
    std::pair<torch::Tensor, torch::Tensor> append(int64_t layer, const torch::Tensor &k, const torch::Tensor &v);
    /** Tokens committed so far (S before this call), counted from useRows()' offset. */
    int64_t length() const { return mLength; }
    void advance(int64_t tokens) { mLength += tokens; }
    /** Allocates room for `tokens` in total at the first append, so a generation that knows its length never regrows. */
    void reserve(int64_t tokens) { mReserved = tokens; }
    /**
     * Until the next call, forward calls read and write only slot rows `rows` (int64 indices, on
     * the model's device) of a cache of `totalRows` rows, from column `offset` on, with `length`
     * columns after it already filled. Columns no call wrote are zeros, for the key mask to
     * hide. An undefined `rows` goes back to the default (the batch's rows are the cache's).
     */
    void useRows(torch::Tensor rows, int64_t totalRows, int64_t offset, int64_t length);
    /** useRows()' slot of each batch row, undefined by default. */
    const torch::Tensor &rowMap() const { return mRows; }
    /** Columns allocated per row (0 before the first append). */
    int64_t capacity() const;
    /**
     * Forgets the first `columns` columns of every row: what followed them moves to the front
     * (one copy of the cache), so a long-running slot batch whose old rows are gone keeps its
     * columns bounded. By default length() shrinks by as much; with useRows() the offset does.
     */
    void dropLeadingColumns(int64_t columns);

private:
    std::vector<torch::Tensor> mKeys;   // [rows, K, capacity, D]
    std::vector<torch::Tensor> mValues; // [rows, K, capacity, D]
    int64_t mLength = 0;
    int64_t mReserved = 0;
    torch::Tensor mRows; // the slot of each batch row, when set by useRows()
    int64_t mTotalRows = 0, mOffset = 0;
};

/**
 * x @ weight^T + bias for weight [out, in] (torch::nn::Linear's layout); `bias` may be
 * undefined. A single row (batch-1 decoding) goes through a matrix-vector product, which
 * BLAS runs 2-3x faster than a one-row matrix product.
 */
torch::Tensor linearRows(const torch::Tensor &x, const torch::Tensor &weight, const torch::Tensor &bias);
/**
 * `x` [M, in] with zero rows appended up to a multiple of 16 when M is small (inference on the
 * CPU), else `x` itself. OpenBLAS's float kernel works on blocks of 16 rows: a product of 24
 * rows takes longer than one of 32, so a decode batch runs faster padded (the caller keeps the
 * first M rows of the result).
 */
torch::Tensor paddedForGemm(const torch::Tensor &x);
/** linearRows() with a torch::nn::Linear's parameters. */
torch::Tensor linearRows(const torch::nn::Linear &linear, const torch::Tensor &x);

/** Applies a Hugging Face activation by name (gelu_new, gelu, gelu_pytorch_tanh, relu, silu). */
torch::Tensor applyActivation(const std::string &name, const torch::Tensor &x);
/** Throws ConfigError for an activation applyActivation() does not know. */
void checkActivation(const std::string &name, const std::string &source);

/** Root-mean-square norm, as Llama and Qwen compute it (statistics in float32). */
struct RMSNormImpl : torch::nn::Module
{
    RMSNormImpl(int64_t dim, double eps);
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor weight; // [dim]
    double eps;
};
TORCH_MODULE(RMSNorm);

/**
 * Rotary position embedding with Hugging Face's half-rotation convention, `rope_theta`, and
 * `rope_scaling` types linear and llama3.
 */
class RotaryEmbedding
{
public:
    RotaryEmbedding(int64_t headDim, double theta, const std::optional<RopeScaling> &scaling);
    /** cos and sin for positions [B, T]: each [B, 1, T, D] in float32. */
    std::pair<torch::Tensor, torch::Tensor> cosSin(const torch::Tensor &positions) const;
    /** Rotates x [B, H|K, T, D] by the angles of cosSin(). */
    static torch::Tensor apply(const torch::Tensor &x, const torch::Tensor &cos, const torch::Tensor &sin);

private:
    torch::Tensor mInvFreq; // [D/2] float32
};

/** Gated feed-forward block: down(act(gate(x)) * up(x)). */
struct GatedMLPImpl : torch::nn::Module
{
    GatedMLPImpl(int64_t hidden, int64_t intermediate, bool bias, std::string activation);
    torch::Tensor forward(const torch::Tensor &x);

    torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
    std::string activation;
};
TORCH_MODULE(GatedMLP);

/** Options of the rotary self-attention block used by the llama family. */
struct RotaryAttentionOptions
{
    int64_t hidden = 0, heads = 0, kvHeads = 0, headDim = 0;
    bool qkvBias = false, outputBias = false, qkNorm = false;
    double normEps = 1e-6;
};

/** Self-attention with rotary positions, grouped-query heads, optional q/k norm and KV cache. */
struct RotaryAttentionImpl : torch::nn::Module
{
    explicit RotaryAttentionImpl(const RotaryAttentionOptions &options);
    /** x [B, T, C]; cos/sin from RotaryEmbedding. Returns [B, T, C]. */
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &cos, const torch::Tensor &sin,
                          const AttentionMask &mask, KVCache *cache, int64_t layer);

    RotaryAttentionOptions options;
    torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
    RMSNorm q_norm{nullptr}, k_norm{nullptr};
};
TORCH_MODULE(RotaryAttention);

} // namespace plad
