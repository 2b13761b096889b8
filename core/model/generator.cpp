#include "model/generator.h"

#include "common/error.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

namespace plad {

std::string toString(FinishReason reason)
{
    switch (reason) {
    case FinishReason::Eos: return "eos";
    case FinishReason::StopSequence: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    }
    return "?";
}

void validate(const SamplingOptions &o)
{
    if (o.repetitionPenalty <= 0)
        throw ConfigError("repetition_penalty: must be positive, found " + std::to_string(o.repetitionPenalty));
    if (o.greedy)
        return;
    if (!(o.temperature > 0))
        throw ConfigError("temperature: must be positive, found " + std::to_string(o.temperature) + " (use greedy decoding instead of 0)");
    if (o.topK < 0)
        throw ConfigError("top_k: must be 0 (off) or positive, found " + std::to_string(o.topK));
    if (!(o.topP > 0 && o.topP <= 1))
        throw ConfigError("top_p: must be in (0, 1], found " + std::to_string(o.topP));
}

namespace {

constexpr float kRemoved = -std::numeric_limits<float>::infinity();

// Hugging Face RepetitionPenaltyLogitsProcessor: for every token already in the row, divide a
// positive logit by the penalty and multiply a negative one. `seen` [B, V] marks those tokens.
void applyRepetitionPenalty(torch::Tensor &logits, const torch::Tensor &seen, double penalty)
{
    auto penalised = torch::where(logits < 0, logits * penalty, logits / penalty);
    logits = torch::where(seen, penalised, logits);
}

// TopKLogitsWarper then TopPLogitsWarper, as Hugging Face orders them after temperature.
void applyTopKTopP(torch::Tensor &logits, int64_t topK, double topP)
{
    const int64_t V = logits.size(-1);
    if (topK > 0 && topK < V) {
        auto kth = std::get<0>(logits.topk(topK, -1)).narrow(-1, topK - 1, 1); // [B, 1]
        logits = logits.masked_fill(logits < kth, kRemoved);
    }
    if (topP < 1.0) {
        auto [sorted, indices] = logits.sort(-1, /*descending=*/false);   // ascending, [B, V]
        auto cumulative = sorted.softmax(-1).cumsum(-1);
        auto removeSorted = cumulative <= (1.0 - topP);
        removeSorted.narrow(-1, V - 1, 1).fill_(false); // always keep the most likely token
        auto remove = removeSorted.scatter(-1, indices, removeSorted);
        logits = logits.masked_fill(remove, kRemoved);
    }
}

bool endsWith(const std::vector<int64_t> &ids, const std::vector<int64_t> &suffix)
{
    return !suffix.empty() && ids.size() >= suffix.size() && std::equal(suffix.rbegin(), suffix.rend(), ids.rbegin());
}

} // namespace

std::vector<GenerationResult> generate(CausalLMImpl &model, const std::vector<std::vector<int64_t>> &prompts,
                                       const GenerationOptions &options, JobContext *context)
{
    validate(options.sampling);
    if (options.maxNewTokens < 0)
        throw ConfigError("max new tokens must not be negative");
    const int64_t B = static_cast<int64_t>(prompts.size());
    std::vector<GenerationResult> results(prompts.size());
    if (B == 0 || options.maxNewTokens == 0)
        return results;
    int64_t P = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
        if (prompts[i].empty())
            throw Error("prompt " + std::to_string(i) + " is empty; generation needs at least one token (e.g. BOS)");
        P = std::max<int64_t>(P, static_cast<int64_t>(prompts[i].size()));
    }

    c10::InferenceMode inference;
    const auto device = model.parameters().front().device();
    const int64_t V = model.config().vocabSize;

    // Left padding keeps every row's newest token in the last column.
    auto ids = torch::zeros({B, P}, torch::kInt64);  // [B, P]
    auto mask = torch::zeros({B, P}, torch::kInt64); // [B, P] 1 = real token
    auto seen = torch::zeros({B, V}, torch::kBool);  // [B, V] tokens in each row so far
    {
        auto idsA = ids.accessor<int64_t, 2>();
        auto maskA = mask.accessor<int64_t, 2>();
        auto seenA = seen.accessor<bool, 2>();
        for (int64_t b = 0; b < B; ++b) {
            const auto &prompt = prompts[static_cast<size_t>(b)];
            const int64_t offset = P - static_cast<int64_t>(prompt.size());
            for (size_t j = 0; j < prompt.size(); ++j) {
                idsA[b][offset + static_cast<int64_t>(j)] = prompt[j];
                maskA[b][offset + static_cast<int64_t>(j)] = 1;
                if (prompt[j] >= 0 && prompt[j] < V)
                    seenA[b][prompt[j]] = true;
            }
        }
    }
    ids = ids.to(device);
    mask = mask.to(device);
    seen = seen.to(device);
    const bool padded = (mask == 0).any().item<bool>();
    auto positions = (mask.cumsum(1) - 1).clamp_min(0); // [B, P]

    auto generator = at::make_generator<at::CPUGeneratorImpl>(options.sampling.seed);
    KVCache cache = model.newCache();
    std::vector<bool> finished(prompts.size(), false);
    int64_t remaining = B;
    const auto start = std::chrono::steady_clock::now();

    // First step: the whole prompt. Later steps: one token per row (or the whole sequence
    // again when the cache is off).
    auto logits = model.logitsFromHidden(
        model.hiddenStates(ids, positions, padded ? mask : torch::Tensor(), options.useCache ? &cache : nullptr)
            .select(1, P - 1)); // [B, V]
    for (int64_t step = 0; step < options.maxNewTokens && remaining > 0; ++step) {
        if (context && context->isCancelled()) {
            for (size_t i = 0; i < results.size(); ++i)
                if (!finished[i])
                    results[i].finishReason = FinishReason::Cancelled;
            return results;
        }
        auto scores = logits.to(torch::kFloat32);
        if (options.sampling.repetitionPenalty != 1.0)
            applyRepetitionPenalty(scores, seen, options.sampling.repetitionPenalty);
        torch::Tensor next; // [B]
        if (options.sampling.greedy) {
            next = scores.argmax(-1);
        } else {
            scores = scores / options.sampling.temperature;
            applyTopKTopP(scores, options.sampling.topK, options.sampling.topP);
            auto probs = scores.softmax(-1).to(torch::kCPU);
            next = torch::multinomial(probs, 1, /*replacement=*/false, generator).squeeze(1).to(device);
        }

        auto nextCpu = next.to(torch::kCPU);
        auto nextA = nextCpu.accessor<int64_t, 1>();
        for (int64_t b = 0; b < B; ++b) {
            auto &row = results[static_cast<size_t>(b)];
            if (finished[static_cast<size_t>(b)]) {
                nextA[b] = 0; // a finished row keeps running with a harmless token
                continue;
            }
            const int64_t token = nextA[b];
            row.ids.push_back(token);
            bool done = false;
            if (std::find(options.eosTokenIds.begin(), options.eosTokenIds.end(), token) != options.eosTokenIds.end()) {
                row.finishReason = FinishReason::Eos;
                done = true;
            } else {
                for (const auto &stop : options.stopSequences)
                    if (endsWith(row.ids, stop)) {
                        row.finishReason = FinishReason::StopSequence;
                        done = true;
                        break;
                    }
            }
            if (done) {
                finished[static_cast<size_t>(b)] = true;
                --remaining;
            }
        }
        if (context) {
            const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const int64_t doneTokens = (step + 1) * B;
            JobProgress progress{"generate", step + 1, options.maxNewTokens, "steps",
                                 elapsed > 0 ? doneTokens / elapsed : 0.0,
                                 elapsed / (step + 1) * static_cast<double>(options.maxNewTokens - step - 1)};
            context->report(progress, step + 1 == options.maxNewTokens || remaining == 0);
        }
        if (remaining == 0 || step + 1 == options.maxNewTokens)
            break;

        next = nextCpu.to(device).unsqueeze(1);                  // [B, 1]
        seen.scatter_(1, next, true);
        auto stepMask = torch::ones({B, 1}, mask.options());
        mask = torch::cat({mask, stepMask}, 1);                 // [B, S]
        auto nextPositions = positions.select(1, positions.size(1) - 1).unsqueeze(1) + 1; // [B, 1]
        positions = torch::cat({positions, nextPositions}, 1);
        if (options.useCache) {
            logits = model.forward(next, nextPositions, padded ? mask : torch::Tensor(), &cache).select(1, 0);
        } else {
            ids = torch::cat({ids, next}, 1);
            auto hidden = model.hiddenStates(ids, positions, padded ? mask : torch::Tensor(), nullptr);
            logits = model.logitsFromHidden(hidden.select(1, hidden.size(1) - 1)); // only the last position's logits
        }
    }
    return results;
}

} // namespace plad
