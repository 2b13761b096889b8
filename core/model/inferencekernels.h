#pragma once

// Fused float32 CPU kernels for the element-wise parts of a decoder layer at inference time
// (no gradients): each reads its inputs once and writes its output once, where the Torch ops
// they replace make a pass and an allocation per operator. Training keeps the Torch ops.

#include <torch/types.h>

namespace plad {

/** Whether the fused kernels apply to `x`: no gradients, CPU, float32. */
bool inferenceKernelsApply(const torch::Tensor &x);

/** weight * x / sqrt(mean(x^2 over the last dimension) + eps); x's last dimension contiguous. Returns a contiguous tensor. */
torch::Tensor rmsNormInference(const torch::Tensor &x, const torch::Tensor &weight, double eps);

/**
 * Rotary embedding with the half-rotation convention: x * cos + rotate_half(x) * sin for x
 * [B, H, T, D] (any strides with D contiguous) and cos, sin [B, 1, T, D]. Returns [B, H, T, D]
 * contiguous.
 */
torch::Tensor rotaryInference(const torch::Tensor &x, const torch::Tensor &cos, const torch::Tensor &sin);

/** silu(gate) * up, written into `gate` (contiguous, same shape as `up`), which is returned. */
torch::Tensor siluMulInference(torch::Tensor gate, const torch::Tensor &up);

} // namespace plad
