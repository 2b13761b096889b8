#include "model/layers.h"

#include "common/error.h"
#include "model/inferencekernels.h"

#include <cmath>
#include <limits>
#include <numbers>

#include <torch/torch.h>

namespace plad {

KVCache::KVCache(int64_t numLayers)
    : mKeys(static_cast<size_t>(numLayers))
    , mValues(static_cast<size_t>(numLayers))
{}

std::pair<torch::Tensor, torch::Tensor> KVCache::append(int64_t layer, const torch::Tensor &k, const torch::Tensor &v)
{
    auto &keys = mKeys.at(static_cast<size_t>(layer));
    auto &values = mValues.at(static_cast<size_t>(layer));
    const bool slots = mRows.defined();
    const int64_t t = k.size(2);
    const int64_t offset = slots ? mOffset : 0;
    const int64_t needed = mLength + t;
    const int64_t rows = slots ? mTotalRows : k.size(0);
    if (!keys.defined() || keys.size(2) < offset + needed || keys.size(0) != rows) {
        const int64_t capacity = std::max<int64_t>({offset + needed, keys.defined() ? 2 * keys.size(2) : std::max<int64_t>(mReserved, 64)});
        // Zeros, not garbage: masked keys get weight 0, and 0 * NaN would still be NaN.
        auto grownK = torch::zeros({rows, k.size(1), capacity, k.size(3)}, k.options()); // [rows, K, cap, D]
        auto grownV = torch::zeros({rows, v.size(1), capacity, v.size(3)}, v.options());
        if (keys.defined() && keys.size(0) == rows) { // every column: other slots may hold tokens past this block's
            grownK.narrow(2, 0, keys.size(2)).copy_(keys);
            grownV.narrow(2, 0, values.size(2)).copy_(values);
        }
        keys = grownK;
        values = grownV;
    }
    if (slots) {
        keys.narrow(2, offset + mLength, t).index_copy_(0, mRows, k);
        values.narrow(2, offset + mLength, t).index_copy_(0, mRows, v);
    } else {
        keys.narrow(2, mLength, t).copy_(k);
        values.narrow(2, mLength, t).copy_(v);
    }
    return {keys.narrow(2, offset, needed), values.narrow(2, offset, needed)}; // [rows, K, S, D]
}

void KVCache::useRows(torch::Tensor rows, int64_t totalRows, int64_t offset, int64_t length)
{
    if (rows.defined())
        TORCH_CHECK(rows.dim() == 1 && rows.scalar_type() == torch::kInt64 && totalRows > 0 && offset >= 0 && length >= 0,
                    "KV cache: slot rows must be int64 indices into ", totalRows, " rows");
    mRows = std::move(rows);
    mTotalRows = mRows.defined() ? totalRows : 0;
    mOffset = mRows.defined() ? offset : 0;
    mLength = length;
}

int64_t KVCache::capacity() const
{
    return mKeys.empty() || !mKeys.front().defined() ? 0 : mKeys.front().size(2);
}

void KVCache::dropLeadingColumns(int64_t columns)
{
    if (columns <= 0)
        return;
    for (auto *stores : {&mKeys, &mValues})
        for (auto &store : *stores) {
            if (!store.defined())
                continue;
            auto moved = torch::zeros_like(store);
            const int64_t kept = std::max<int64_t>(0, store.size(2) - columns);
            if (kept > 0)
                moved.narrow(2, 0, kept).copy_(store.narrow(2, columns, kept));
            store = moved;
        }
    if (mRows.defined())
        mOffset = std::max<int64_t>(0, mOffset - columns);
    else
        mLength = std::max<int64_t>(0, mLength - columns);
}

torch::Tensor paddedForGemm(const torch::Tensor &x)
{
    const int64_t rows = x.size(0);
    if (rows <= 1 || rows >= 256 || rows % 16 == 0 || at::GradMode::is_enabled() || !x.device().is_cpu())
        return x;
    auto padded = torch::zeros({(rows + 15) / 16 * 16, x.size(1)}, x.options());
    padded.narrow(0, 0, rows).copy_(x);
    return padded;
}

torch::Tensor linearRows(const torch::Tensor &x, const torch::Tensor &weight, const torch::Tensor &bias)
{
    const int64_t in = x.size(-1);
    auto sizes = x.sizes().vec();
    sizes.back() = weight.size(0);
    if (x.numel() == in) {
        auto out = torch::mv(weight, x.reshape({in})); // [out]
        if (bias.defined())
            out = out + bias;
        return out.view(sizes);
    }
    const auto rows = x.reshape({-1, in});
    const auto padded = paddedForGemm(rows);
    auto out = torch::nn::functional::linear(padded, weight, bias); // [M (padded), out]
    if (padded.size(0) != rows.size(0))
        out = out.narrow(0, 0, rows.size(0));
    return out.view(sizes);
}

torch::Tensor linearRows(const torch::nn::Linear &linear, const torch::Tensor &x)
{
    return linearRows(x, linear->weight, linear->bias);
}

torch::Tensor applyActivation(const std::string &name, const torch::Tensor &x)
{
    if (name == "silu" || name == "swish")
        return torch::silu(x);
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
        return torch::gelu(x, "tanh");
    if (name == "gelu")
        return torch::gelu(x);
    if (name == "relu")
        return torch::relu(x);
    throw ConfigError("unsupported activation function \"" + name + "\"");
}

void checkActivation(const std::string &name, const std::string &source)
{
    static const char *known[] = {"silu", "swish", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu", "relu"};
    for (const char *k : known)
        if (name == k)
            return;
    throw ConfigError(source + ": activation \"" + name
                      + "\" is not supported (supported: silu, gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu)");
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_)
    : eps(eps_)
{
    weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor &x)
{
    if (inferenceKernelsApply(x) && weight.scalar_type() == torch::kFloat32 && x.stride(-1) == 1)
        return rmsNormInference(x, weight, eps);
    auto xf = x.to(torch::kFloat32);
    auto variance = xf.pow(2).mean(-1, /*keepdim=*/true);
    xf = xf * torch::rsqrt(variance + eps);
    return weight * xf.to(x.scalar_type());
}

RotaryEmbedding::RotaryEmbedding(int64_t headDim, double theta, const std::optional<RopeScaling> &scaling)
{
    auto exponents = torch::arange(0, headDim, 2, torch::kInt64).to(torch::kFloat32) / static_cast<double>(headDim);
    mInvFreq = 1.0 / torch::pow(torch::tensor(theta, torch::kFloat64), exponents.to(torch::kFloat64));
    if (scaling && scaling->type == "linear") {
        mInvFreq = mInvFreq / scaling->factor;
    } else if (scaling && scaling->type == "llama3") {
        // Llama 3.1 long-context rule: low frequencies are slowed by `factor`, high frequencies
        // kept, the band in between interpolated smoothly.
        const double oldContext = static_cast<double>(scaling->originalMaxPositionEmbeddings);
        const double lowFreqWavelen = oldContext / scaling->lowFreqFactor;
        const double highFreqWavelen = oldContext / scaling->highFreqFactor;
        auto wavelen = 2.0 * std::numbers::pi / mInvFreq;
        auto scaled = torch::where(wavelen > lowFreqWavelen, mInvFreq / scaling->factor, mInvFreq);
        auto smooth = (oldContext / wavelen - scaling->lowFreqFactor) / (scaling->highFreqFactor - scaling->lowFreqFactor);
        auto smoothed = (1 - smooth) * scaled / scaling->factor + smooth * scaled;
        auto isMedium = (wavelen >= highFreqWavelen).logical_and(wavelen <= lowFreqWavelen);
        mInvFreq = torch::where(isMedium, smoothed, scaled);
    }
    mInvFreq = mInvFreq.to(torch::kFloat32);
}

std::pair<torch::Tensor, torch::Tensor> RotaryEmbedding::cosSin(const torch::Tensor &positions) const
{
    auto inv = mInvFreq.to(positions.device());
    auto freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv; // [B, T, D/2]
    auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);         // [B, 1, T, D]
    return {emb.cos(), emb.sin()};
}

torch::Tensor RotaryEmbedding::apply(const torch::Tensor &x, const torch::Tensor &cos, const torch::Tensor &sin)
{
    if (inferenceKernelsApply(x) && cos.scalar_type() == torch::kFloat32 && x.dim() == 4 && x.stride(3) == 1 && x.size(-1) % 2 == 0)
        return rotaryInference(x, cos, sin);
    const int64_t half = x.size(-1) / 2;
    auto xf = x.to(torch::kFloat32);
    auto rotated = torch::cat({-xf.narrow(-1, half, half), xf.narrow(-1, 0, half)}, -1);
    return (xf * cos + rotated * sin).to(x.scalar_type());
}

GatedMLPImpl::GatedMLPImpl(int64_t hidden, int64_t intermediate, bool bias, std::string activation_)
    : activation(std::move(activation_))
{
    gate_proj = register_module("gate_proj", torch::nn::Linear(torch::nn::LinearOptions(hidden, intermediate).bias(bias)));
    up_proj = register_module("up_proj", torch::nn::Linear(torch::nn::LinearOptions(hidden, intermediate).bias(bias)));
    down_proj = register_module("down_proj", torch::nn::Linear(torch::nn::LinearOptions(intermediate, hidden).bias(bias)));
}

torch::Tensor GatedMLPImpl::forward(const torch::Tensor &x)
{
    auto gate = linearRows(gate_proj, x); // [B, T, F]
    const auto up = linearRows(up_proj, x);
    const bool fused = (activation == "silu" || activation == "swish") && inferenceKernelsApply(gate) && gate.is_contiguous() && up.is_contiguous();
    auto hidden = fused ? siluMulInference(gate, up) : applyActivation(activation, gate) * up;
    return linearRows(down_proj, hidden); // [B, T, C]
}

RotaryAttentionImpl::RotaryAttentionImpl(const RotaryAttentionOptions &o)
    : options(o)
{
    using torch::nn::LinearOptions;
    q_proj = register_module("q_proj", torch::nn::Linear(LinearOptions(o.hidden, o.heads * o.headDim).bias(o.qkvBias)));
    k_proj = register_module("k_proj", torch::nn::Linear(LinearOptions(o.hidden, o.kvHeads * o.headDim).bias(o.qkvBias)));
    v_proj = register_module("v_proj", torch::nn::Linear(LinearOptions(o.hidden, o.kvHeads * o.headDim).bias(o.qkvBias)));
    o_proj = register_module("o_proj", torch::nn::Linear(LinearOptions(o.heads * o.headDim, o.hidden).bias(o.outputBias)));
    if (o.qkNorm) {
        q_norm = register_module("q_norm", RMSNorm(o.headDim, o.normEps));
        k_norm = register_module("k_norm", RMSNorm(o.headDim, o.normEps));
    }
}

torch::Tensor RotaryAttentionImpl::forward(const torch::Tensor &x, const torch::Tensor &cos, const torch::Tensor &sin,
                                           const AttentionMask &mask, KVCache *cache, int64_t layer)
{
    const int64_t B = x.size(0), T = x.size(1);
    const int64_t H = options.heads, K = options.kvHeads, D = options.headDim;
    auto q = linearRows(q_proj, x).view({B, T, H, D});                 // [B, T, H, D]
    auto k = linearRows(k_proj, x).view({B, T, K, D});                 // [B, T, K, D]
    auto v = linearRows(v_proj, x).view({B, T, K, D}).transpose(1, 2); // [B, K, T, D]
    if (options.qkNorm) { // per-head norm before rotation (qwen3)
        q = q_norm(q);
        k = k_norm(k);
    }
    q = RotaryEmbedding::apply(q.transpose(1, 2), cos, sin); // [B, H, T, D]
    k = RotaryEmbedding::apply(k.transpose(1, 2), cos, sin); // [B, K, T, D]
    if (cache)
        std::tie(k, v) = cache->append(layer, k, v); // [B, K, S, D]
    auto out = attention(q, k, v, mask, 1.0 / std::sqrt(static_cast<double>(D))); // [B, H, T, D]
    return linearRows(o_proj, out.transpose(1, 2).reshape({B, T, H * D}));
}

} // namespace plad
