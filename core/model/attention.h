#pragma once

// Attention for every architecture: who may see whom (AttentionMask), and softmax(q k^T) v,
// either through Torch ops (training, other dtypes and devices) or, for float32 CPU inference,
// through a fused kernel that visits only the keys a query may see.
//
// Shape vocabulary: B batch, T new tokens in this call, S keys attended to (cached + new),
// H query heads, K key/value heads, D head dim.

#include <cstdint>
#include <optional>

#include <torch/types.h>

namespace plad {

/**
 * Which keys each query of a forward call may see: query t (absolute index past + t) sees key s
 * when s <= past + t, s is a real token (`keyMask` [B, S] nonzero; undefined = no padding) and,
 * with a sliding window, s > past + t - window. With `kvRows` (int64 [B], a KV cache's slot map)
 * query row b reads the keys and values of row kvRows[b]; undefined: its own row b.
 */
class AttentionMask
{
public:
    AttentionMask(int64_t newTokens, int64_t past, torch::Tensor keyMask, std::optional<int64_t> slidingWindow, torch::Device device,
                  torch::Tensor kvRows = {});

    int64_t newTokens() const { return mNewTokens; }
    int64_t past() const { return mPast; }
    const torch::Tensor &keyMask() const { return mKeyMask; }
    std::optional<int64_t> slidingWindow() const { return mWindow; }
    const torch::Tensor &kvRows() const { return mKvRows; }

    /** The mask as an additive float32 bias [B|1, 1, T, S] (built once, on first use). */
    const torch::Tensor &bias() const;

private:
    int64_t mNewTokens, mPast;
    torch::Tensor mKeyMask; // [B, S] as uint8 on the CPU path, as given otherwise
    std::optional<int64_t> mWindow;
    torch::Device mDevice;
    torch::Tensor mKvRows; // [B] int64 or undefined
    mutable torch::Tensor mBias;
};

/**
 * softmax(q k^T * scale, masked) v with grouped-query attention: q [B, H, T, D], k and v
 * [B, K, S, D] (or [rows, K, S, D] under the mask's kvRows) with H a multiple of K (query head h
 * reads key/value head h / (H/K)). Softmax
 * runs in float32 whatever the compute dtype. Returns [B, H, T, D].
 *
 * Without gradients on float32 CPU tensors this runs the fused kernel (the same arithmetic,
 * masked keys skipped instead of added as -inf); otherwise Torch ops on the mask's bias.
 * A query that may see no key (a padding position) gets zeros from the kernel.
 */
torch::Tensor attention(const torch::Tensor &q, const torch::Tensor &k, const torch::Tensor &v, const AttentionMask &mask, double scale);

/** The fused kernel alone (float32, CPU, D contiguous); exposed for tests and benchmarks. */
torch::Tensor fusedAttention(const torch::Tensor &q, const torch::Tensor &k, const torch::Tensor &v, const AttentionMask &mask, double scale);

/** Whether attention() would take the fused kernel for these tensors in the current grad mode. */
bool fusedAttentionApplies(const torch::Tensor &q, const torch::Tensor &k, const torch::Tensor &v);

} // namespace plad
