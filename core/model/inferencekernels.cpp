#include "model/inferencekernels.h"
#include "model/vectormath.h"

#include <cmath>

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace plad {

namespace {

/** Rows per task: enough work (~32k elements) to be worth a thread. */
int64_t grainFor(int64_t rowLength)
{
    return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, rowLength));
}

PLAD_VECTOR_CLONES void rmsNormRows(const float *x, int64_t xStride, const float *w, float *out, int64_t begin, int64_t end, int64_t C,
                                    float eps)
{
    for (int64_t r = begin; r < end; ++r) {
        const float *in = x + r * xStride;
        float *o = out + r * C;
        float squares = 0;
#pragma omp simd reduction(+ : squares)
        for (int64_t c = 0; c < C; ++c)
            squares += in[c] * in[c];
        const float inverse = 1.0f / std::sqrt(squares / static_cast<float>(C) + eps);
#pragma omp simd
        for (int64_t c = 0; c < C; ++c)
            o[c] = w[c] * (in[c] * inverse);
    }
}

PLAD_VECTOR_CLONES void rotaryRow(const float *x, const float *cos, const float *sin, float *out, int64_t D)
{
    const int64_t half = D / 2;
#pragma omp simd
    for (int64_t d = 0; d < half; ++d)
        out[d] = x[d] * cos[d] - x[d + half] * sin[d];
#pragma omp simd
    for (int64_t d = half; d < D; ++d)
        out[d] = x[d] * cos[d] + x[d - half] * sin[d];
}

PLAD_VECTOR_CLONES void siluMulRange(float *gate, const float *up, int64_t begin, int64_t end)
{
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
        const float g = gate[i];
        gate[i] = g / (1.0f + vectormath::expClamped(-g)) * up[i];
    }
}

} // namespace

bool inferenceKernelsApply(const torch::Tensor &x)
{
    return !at::GradMode::is_enabled() && x.device().is_cpu() && x.scalar_type() == torch::kFloat32;
}

torch::Tensor rmsNormInference(const torch::Tensor &x, const torch::Tensor &weight, double eps)
{
    const int64_t C = x.size(-1);
    TORCH_CHECK(x.stride(-1) == 1 && weight.is_contiguous() && weight.numel() == C && weight.scalar_type() == torch::kFloat32,
                "rmsNormInference: unsupported layout");
    auto rows = x.reshape({-1, C}); // a view for the usual [B, T, C] or [B, T, H, D] inputs
    if (rows.stride(1) != 1)
        rows = rows.contiguous();
    auto out = torch::empty(x.sizes(), x.options());
    const int64_t R = rows.size(0), stride = rows.stride(0);
    const float *in = rows.data_ptr<float>();
    const float *w = weight.data_ptr<float>();
    float *o = out.data_ptr<float>();
    at::parallel_for(0, R, grainFor(C), [&](int64_t begin, int64_t end) { rmsNormRows(in, stride, w, o, begin, end, C, static_cast<float>(eps)); });
    return out;
}

torch::Tensor rotaryInference(const torch::Tensor &x, const torch::Tensor &cos, const torch::Tensor &sin)
{
    TORCH_CHECK(x.dim() == 4 && cos.dim() == 4 && sin.dim() == 4, "rotaryInference: needs [B, H, T, D] and [B, 1, T, D]");
    const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
    TORCH_CHECK(x.stride(3) == 1 && D % 2 == 0, "rotaryInference: unsupported layout");
    auto c = cos.expand({B, 1, T, D}).contiguous(), s = sin.expand({B, 1, T, D}).contiguous();
    auto out = torch::empty({B, H, T, D}, x.options());
    const float *xp = x.data_ptr<float>(), *cp = c.data_ptr<float>(), *sp = s.data_ptr<float>();
    float *op = out.data_ptr<float>();
    const int64_t sb = x.stride(0), sh = x.stride(1), st = x.stride(2);
    at::parallel_for(0, B * H * T, grainFor(D), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            const int64_t t = r % T, h = (r / T) % H, b = r / (T * H);
            const int64_t at = (b * T + t) * D;
            rotaryRow(xp + b * sb + h * sh + t * st, cp + at, sp + at, op + r * D, D);
        }
    });
    return out;
}

torch::Tensor siluMulInference(torch::Tensor gate, const torch::Tensor &up)
{
    TORCH_CHECK(gate.is_contiguous() && up.is_contiguous() && gate.sizes() == up.sizes(), "siluMulInference: unsupported layout");
    float *g = gate.data_ptr<float>();
    const float *u = up.data_ptr<float>();
    at::parallel_for(0, gate.numel(), 32768, [&](int64_t begin, int64_t end) { siluMulRange(g, u, begin, end); });
    return gate;
}

} // namespace plad
