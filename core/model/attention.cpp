#include "model/attention.h"
#include "model/vectormath.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

// The Fortran BLAS interface of the library Torch itself links (OpenBLAS through Debian's
// alternatives); Torch 1.13 does not export its own float gemm wrapper.
extern "C" void sgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k, const float *alpha,
                       const float *a, const int *lda, const float *b, const int *ldb, const float *beta, float *c, const int *ldc);
extern "C" void sgemv_(const char *trans, const int *m, const int *n, const float *alpha, const float *a, const int *lda, const float *x,
                       const int *incx, const float *beta, float *y, const int *incy);

namespace plad {

namespace {

/** C = alpha op(A) op(B) + beta C, column-major, through the linked BLAS. */
void blasGemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
              int64_t ldb, float beta, float *c, int64_t ldc)
{
    const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
    const int LDA = static_cast<int>(lda), LDB = static_cast<int>(ldb), LDC = static_cast<int>(ldc);
    sgemm_(&transa, &transb, &M, &N, &K, &alpha, a, &LDA, b, &LDB, &beta, c, &LDC);
}

constexpr float kNoKey = -std::numeric_limits<float>::infinity();

/** Where a kernel call reads and writes; strides in floats, the head dimension contiguous. */
struct AttentionProblem
{
    const float *q, *k, *v;
    float *out;
    int64_t H, T, S, D, groups;
    int64_t qb, qh, qt;          // q strides of B, H, T
    int64_t kb, kh, ks, vb, vh, vs; // k and v strides of B, K, S
    const uint8_t *keyMask;      // [B, S] or null
    const int64_t *kvRows;       // [B] row of k and v for each query row, or null (the same row)
    int64_t past;
    int64_t window;              // 0 = none
    float scale;
};

/**
 * Masked softmax of one query's scores over keys [first, last], in place; the weights of keys
 * outside the range or masked out become 0. Returns false for a query that sees no key.
 */
PLAD_VECTOR_CLONES bool softmaxRow(float *scores, int64_t S, int64_t first, int64_t last, const uint8_t *mask)
{
    std::fill(scores, scores + first, 0.0f);
    std::fill(scores + last + 1, scores + S, 0.0f);
    if (mask) {
#pragma omp simd
        for (int64_t s = first; s <= last; ++s)
            scores[s] = mask[s] ? scores[s] : kNoKey;
    }
    float best = kNoKey;
#pragma omp simd reduction(max : best)
    for (int64_t s = first; s <= last; ++s)
        best = scores[s] > best ? scores[s] : best;
    if (best == kNoKey) {
        std::fill(scores + first, scores + last + 1, 0.0f);
        return false;
    }
    float total = 0;
#pragma omp simd reduction(+ : total)
    for (int64_t s = first; s <= last; ++s) {
        const float w = scores[s] == kNoKey ? 0.0f : vectormath::expNonPositive(scores[s] - best);
        scores[s] = w;
        total += w;
    }
    const float inverse = 1.0f / total;
#pragma omp simd
    for (int64_t s = first; s <= last; ++s)
        scores[s] *= inverse;
    return true;
}

/**
 * Prefill of one (b, h): the [T, S] scores as one matrix product (Q K^T), a masked softmax per
 * row, and the output as a second product (P V), both single-threaded BLAS calls on blocks that
 * stay in cache (the caller runs (b, h) pairs in parallel).
 */
void attendPrefill(const AttentionProblem &p, int64_t b, int64_t h, float *scores)
{
    const int64_t D = p.D, S = p.S, T = p.T;
    const int64_t kvHead = h / p.groups;
    const int64_t kvRow = p.kvRows ? p.kvRows[b] : b;
    const float *q = p.q + b * p.qb + h * p.qh;
    const float *k = p.k + kvRow * p.kb + kvHead * p.kh;
    const float *v = p.v + kvRow * p.vb + kvHead * p.vh;
    float *out = p.out + (b * p.H + h) * T * D;
    const uint8_t *mask = p.keyMask ? p.keyMask + b * S : nullptr;
    // Row-major X[r][c] with row stride ld is column-major X^T; so scores^T [S, T] = K Q^T is
    // (K^T)^T Q in BLAS's column-major terms, and out^T [D, T] = V^T P^T.
    blasGemm('T', 'N', S, T, D, p.scale, k, p.ks, q, p.qt, 0.0f, scores, S);
    for (int64_t t = 0; t < T; ++t) {
        const int64_t last = std::min(p.past + t, S - 1);
        const int64_t first = p.window > 0 ? std::max<int64_t>(0, last - p.window + 1) : 0;
        softmaxRow(scores + t * S, S, first, last, mask);
    }
    blasGemm('N', 'N', D, T, S, 1.0f, v, p.vs, scores, S, 0.0f, out, D);
}

/**
 * Rows [begin, end) of the flattened (b, h, t) index (decoding: a query or a few per row): the
 * scores of the keys the query may see as one single-threaded BLAS matrix-vector product over
 * the span between its first and last real key (left padding skipped), a masked softmax, and the
 * output as a second product.
 */
void attendRows(const AttentionProblem &p, int64_t begin, int64_t end, float *scores)
{
    const int64_t D = p.D;
    const int one = 1;
    const float zero = 0.0f, unit = 1.0f;
    for (int64_t row = begin; row < end; ++row) {
        const int64_t t = row % p.T;
        const int64_t h = (row / p.T) % p.H;
        const int64_t b = row / (p.T * p.H);
        const int64_t kvHead = h / p.groups;
        const int64_t kvRow = p.kvRows ? p.kvRows[b] : b;
        const float *q = p.q + b * p.qb + h * p.qh + t * p.qt;
        const float *k = p.k + kvRow * p.kb + kvHead * p.kh;
        const float *v = p.v + kvRow * p.vb + kvHead * p.vh;
        const uint8_t *mask = p.keyMask ? p.keyMask + b * p.S : nullptr;
        float *out = p.out + row * D;
        int64_t last = std::min(p.past + t, p.S - 1);
        int64_t first = p.window > 0 ? std::max<int64_t>(0, last - p.window + 1) : 0;
        if (mask) { // the span of real keys: padding before and after costs nothing
            while (first <= last && !mask[first])
                ++first;
            while (last >= first && !mask[last])
                --last;
        }
        std::fill(out, out + D, 0.0f);
        if (first > last)
            continue; // a padding query: nothing to see
        const int n = static_cast<int>(last - first + 1), d = static_cast<int>(D);
        const int ldk = static_cast<int>(p.ks), ldv = static_cast<int>(p.vs);
        // Row-major keys [n, D] (row stride ks) are column-major [D, n]: scores = K q is A^T q.
        sgemv_("T", &d, &n, &p.scale, k + first * p.ks, &ldk, q, &one, &zero, scores, &one);
        if (!softmaxRow(scores, n, 0, n - 1, mask ? mask + first : nullptr))
            continue;
        sgemv_("N", &d, &n, &unit, v + first * p.vs, &ldv, scores, &one, &zero, out, &one);
    }
}

} // namespace

AttentionMask::AttentionMask(int64_t newTokens, int64_t past, torch::Tensor keyMask, std::optional<int64_t> slidingWindow, torch::Device device,
                             torch::Tensor kvRows)
    : mNewTokens(newTokens)
    , mPast(past)
    , mKeyMask(std::move(keyMask))
    , mWindow(slidingWindow)
    , mDevice(device)
    , mKvRows(std::move(kvRows))
{
    if (mKeyMask.defined())
        TORCH_CHECK(mKeyMask.size(1) == past + newTokens, "key mask covers ", mKeyMask.size(1), " positions, expected ", past + newTokens);
}

const torch::Tensor &AttentionMask::bias() const
{
    if (!mBias.defined()) {
        const int64_t S = mPast + mNewTokens;
        const auto idx = torch::TensorOptions().dtype(torch::kInt64).device(mDevice);
        auto query = torch::arange(mPast, S, idx).unsqueeze(1); // [T, 1] absolute indices
        auto key = torch::arange(0, S, idx).unsqueeze(0);       // [1, S]
        auto allowed = key <= query;                            // [T, S]
        if (mWindow)
            allowed = allowed & (key > query - *mWindow);
        allowed = allowed.unsqueeze(0).unsqueeze(0); // [1, 1, T, S]
        if (mKeyMask.defined())
            allowed = allowed & mKeyMask.to(mDevice).to(torch::kBool).unsqueeze(1).unsqueeze(2); // [B, 1, T, S]
        // A finite lowest value instead of -inf keeps fully masked rows (left padding) finite.
        auto bias = torch::zeros(allowed.sizes(), torch::TensorOptions().dtype(torch::kFloat32).device(mDevice));
        mBias = bias.masked_fill(allowed.logical_not(), std::numeric_limits<float>::lowest());
    }
    return mBias;
}

bool fusedAttentionApplies(const torch::Tensor &q, const torch::Tensor &k, const torch::Tensor &v)
{
    return !at::GradMode::is_enabled() && q.device().is_cpu() && k.device().is_cpu() && v.device().is_cpu()
           && q.scalar_type() == torch::kFloat32 && k.scalar_type() == torch::kFloat32 && v.scalar_type() == torch::kFloat32
           && q.stride(3) == 1 && k.stride(3) == 1 && v.stride(3) == 1;
}

torch::Tensor fusedAttention(const torch::Tensor &q, const torch::Tensor &k, const torch::Tensor &v, const AttentionMask &mask, double scale)
{
    TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention needs [B, heads, tokens, head dim] tensors");
    TORCH_CHECK(q.stride(3) == 1 && k.stride(3) == 1 && v.stride(3) == 1, "attention needs the head dimension contiguous");
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
    const int64_t K = k.size(1), S = k.size(2);
    TORCH_CHECK(H % K == 0, "query heads (", H, ") must be a multiple of key/value heads (", K, ")");
    TORCH_CHECK(S == mask.past() + T, "attention over ", S, " keys, but the mask expects ", mask.past() + T);
    torch::Tensor kvRows;
    if (mask.kvRows().defined()) {
        kvRows = mask.kvRows().to(torch::kCPU).to(torch::kInt64).contiguous();
        TORCH_CHECK(kvRows.numel() == B, "attention: ", kvRows.numel(), " key/value rows for ", B, " query rows");
        const auto *r = kvRows.data_ptr<int64_t>();
        for (int64_t b = 0; b < B; ++b)
            TORCH_CHECK(r[b] >= 0 && r[b] < k.size(0) && r[b] < v.size(0), "attention: key/value row ", r[b], " outside ", k.size(0));
    } else {
        TORCH_CHECK(k.size(0) == B && v.size(0) == B, "attention: ", k.size(0), " key/value rows for ", B, " query rows");
    }
    auto out = torch::empty({B, H, T, D}, q.options());
    torch::Tensor keyMask;
    if (mask.keyMask().defined())
        keyMask = mask.keyMask().to(torch::kUInt8).contiguous();

    AttentionProblem p{q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(), out.data_ptr<float>(), H, T, S, D, H / K,
                       q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2), v.stride(0), v.stride(1), v.stride(2),
                       keyMask.defined() ? keyMask.data_ptr<uint8_t>() : nullptr, kvRows.defined() ? kvRows.data_ptr<int64_t>() : nullptr, mask.past(), mask.slidingWindow().value_or(0),
                       static_cast<float>(scale)};
    if (T > 1) {
        // Prefill: one task per (b, h), its [T, S] scores in a per-thread block.
        at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
            thread_local std::vector<float> scores;
            if (static_cast<int64_t>(scores.size()) < T * S)
                scores.resize(static_cast<size_t>(T * S));
            for (int64_t pair = begin; pair < end; ++pair)
                attendPrefill(p, pair / H, pair % H, scores.data());
        });
        return out;
    }
    const int64_t rows = B * H * T;
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, S * D));
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> scores;
        if (static_cast<int64_t>(scores.size()) < S)
            scores.resize(static_cast<size_t>(S));
        attendRows(p, begin, end, scores.data());
    });
    return out;
}

torch::Tensor attention(const torch::Tensor &q, const torch::Tensor &k, const torch::Tensor &v, const AttentionMask &mask, double scale)
{
    if (fusedAttentionApplies(q, k, v))
        return fusedAttention(q, k, v, mask, scale);
    if (mask.kvRows().defined()) { // gather each query row's keys and values
        const auto rows = mask.kvRows().to(k.device());
        const AttentionMask plain(mask.newTokens(), mask.past(), mask.keyMask(), mask.slidingWindow(), k.device());
        return attention(q, k.index_select(0, rows), v.index_select(0, rows), plain, scale);
    }
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
    const int64_t K = k.size(1), S = k.size(2);
    const int64_t G = H / K;
    // Query heads sharing a key/value head are adjacent, so [B, H, T, D] regroups to
    // [B, K, G*T, D] without copying keys G times.
    auto qg = q.reshape({B, K, G * T, D});
    auto scores = torch::matmul(qg, k.transpose(2, 3)).mul_(scale); // [B, K, G*T, S]
    scores = scores.view({B, H, T, S}).to(torch::kFloat32);
    scores = scores + mask.bias();                                   // [B, H, T, S]
    auto probs = torch::softmax(scores, -1).to(v.scalar_type());
    auto out = torch::matmul(probs.view({B, K, G * T, S}), v); // [B, K, G*T, D]
    return out.view({B, H, T, D});
}

} // namespace plad
