#include "model/sequencescorer.h"

#include "common/error.h"
#include "common/ordering.h"

#include <algorithm>
#include <numeric>

#include <torch/torch.h>

namespace plad {

ScoredBatch scoreBatch(CausalLMImpl &model, const std::vector<ScoreRequest> &requests, bool keepLogits)
{
    if (requests.empty())
        throw Error("nothing to score");
    const int64_t B = static_cast<int64_t>(requests.size());
    int64_t T = 0, L = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
        const auto &r = requests[i];
        if (r.promptIds.empty())
            throw Error("score request " + std::to_string(i) + ": the prompt is empty; the first completion token needs at least one prompt token (e.g. BOS)");
        if (r.completionIds.empty())
            throw Error("score request " + std::to_string(i) + ": the completion is empty");
        T = std::max<int64_t>(T, static_cast<int64_t>(r.promptIds.size() + r.completionIds.size()));
        L = std::max<int64_t>(L, static_cast<int64_t>(r.completionIds.size()));
    }

    // Right padding: causal attention means a row's real tokens never see its padding, so
    // positions are plain 0..T-1 and no key mask is needed.
    auto ids = torch::zeros({B, T}, torch::kInt64);          // [B, T]
    auto source = torch::zeros({B, L}, torch::kInt64);       // [B, L] position predicting each target
    auto targets = torch::zeros({B, L}, torch::kInt64);      // [B, L]
    auto mask = torch::zeros({B, L}, torch::kFloat32);       // [B, L]
    auto idsA = ids.accessor<int64_t, 2>();
    auto sourceA = source.accessor<int64_t, 2>();
    auto targetsA = targets.accessor<int64_t, 2>();
    auto maskA = mask.accessor<float, 2>();
    for (int64_t b = 0; b < B; ++b) {
        const auto &r = requests[static_cast<size_t>(b)];
        const int64_t P = static_cast<int64_t>(r.promptIds.size());
        int64_t t = 0;
        for (auto id : r.promptIds)
            idsA[b][t++] = id;
        for (size_t j = 0; j < r.completionIds.size(); ++j) {
            idsA[b][t++] = r.completionIds[j];
            sourceA[b][static_cast<int64_t>(j)] = P - 1 + static_cast<int64_t>(j);
            targetsA[b][static_cast<int64_t>(j)] = r.completionIds[j];
            maskA[b][static_cast<int64_t>(j)] = 1.0f;
        }
    }
    const auto device = model.parameters().front().device();
    ids = ids.to(device);
    source = source.to(device);
    targets = targets.to(device);
    mask = mask.to(device);
    auto positions = torch::arange(T, ids.options()).unsqueeze(0).expand({B, T}); // [B, T]

    auto hidden = model.hiddenStates(ids, positions, torch::Tensor(), nullptr); // [B, T, C]
    const int64_t C = hidden.size(2);
    auto picked = hidden.gather(1, source.unsqueeze(-1).expand({B, L, C}));     // [B, L, C]
    auto logits = model.logitsFromHidden(picked).to(torch::kFloat32);           // [B, L, V]
    auto targetLogits = logits.gather(2, targets.unsqueeze(-1)).squeeze(-1);    // [B, L]
    auto tokenLogprobs = (targetLogits - torch::logsumexp(logits, -1)) * mask;  // [B, L]

    ScoredBatch out;
    out.tokenLogprobs = tokenLogprobs;
    out.mask = mask;
    out.sum = tokenLogprobs.sum(1);
    out.mean = out.sum / mask.sum(1);
    if (keepLogits)
        out.logits = logits;
    return out;
}

std::vector<SequenceScore> scoreSequences(CausalLMImpl &model, const std::vector<ScoreRequest> &requests, int64_t batchSize)
{
    if (batchSize <= 0)
        throw Error("batch size must be positive");
    const auto order =
        longestFirst(requests.size(), [&](size_t i) { return requests[i].promptIds.size() + requests[i].completionIds.size(); });

    torch::NoGradGuard noGrad;
    std::vector<SequenceScore> results(requests.size());
    for (size_t start = 0; start < order.size(); start += static_cast<size_t>(batchSize)) {
        const size_t end = std::min(order.size(), start + static_cast<size_t>(batchSize));
        std::vector<ScoreRequest> batch;
        for (size_t i = start; i < end; ++i)
            batch.push_back(requests[order[i]]);
        const ScoredBatch scored = scoreBatch(model, batch);
        auto logprobs = scored.tokenLogprobs.to(torch::kCPU).to(torch::kFloat64);
        auto lp = logprobs.accessor<double, 2>();
        for (size_t i = start; i < end; ++i) {
            const int64_t row = static_cast<int64_t>(i - start);
            auto &result = results[order[i]];
            const auto n = requests[order[i]].completionIds.size();
            for (size_t j = 0; j < n; ++j)
                result.tokenLogprobs.push_back(lp[row][static_cast<int64_t>(j)]);
            result.sumLogprob = std::accumulate(result.tokenLogprobs.begin(), result.tokenLogprobs.end(), 0.0);
            result.meanLogprob = result.sumLogprob / static_cast<double>(n);
        }
    }
    return results;
}

double meanCompletionNll(CausalLMImpl &model, const std::vector<ScoreRequest> &requests, int64_t batchSize, int64_t maxBatches)
{
    if (batchSize <= 0)
        throw Error("batch size must be positive");
    torch::NoGradGuard noGrad;
    double nll = 0;
    int64_t tokens = 0, batches = 0;
    const auto step = static_cast<size_t>(batchSize);
    for (size_t start = 0; start < requests.size(); start += step) {
        if (maxBatches > 0 && batches++ >= maxBatches)
            break;
        const std::vector<ScoreRequest> batch(requests.begin() + static_cast<long>(start),
                                              requests.begin() + static_cast<long>(std::min(requests.size(), start + step)));
        nll -= scoreBatch(model, batch).tokenLogprobs.sum().item<double>();
        for (const auto &r : batch)
            tokens += static_cast<int64_t>(r.completionIds.size());
    }
    return nll / static_cast<double>(std::max<int64_t>(tokens, 1));
}

} // namespace plad
