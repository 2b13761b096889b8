#include "model/sampling.h"

#include "common/error.h"
#include "common/seeds.h"
#include "common/text.h"
#include "model/generator.h"
#include "model/stoptokens.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <chrono>

#include <torch/torch.h>

namespace plad {

std::vector<std::vector<LocalSample>> sampleLocal(CausalLMImpl &model, const Tokenizer &tokenizer,
                                                  const std::vector<std::vector<int64_t>> &prompts, const LocalSampling &options,
                                                  JobContext *context, GenerationProfile *profile)
{
    using Clock = std::chrono::steady_clock;
    const size_t N = prompts.size();
    std::vector<std::vector<LocalSample>> out(N);
    if (N == 0 || options.samples <= 0)
        return out;
    if (!options.promptSeeds.empty() && options.promptSeeds.size() != N)
        throw Error("sampling: " + std::to_string(options.promptSeeds.size()) + " prompt seeds for " + std::to_string(N) + " prompts");
    const auto k = static_cast<size_t>(options.samples);
    // Greedy outputs are the same for every sample: generate each prompt once.
    const size_t drawn = options.sampling.greedy ? 1 : k;

    GenerationOptions generation;
    generation.maxNewTokens = options.maxNewTokens;
    generation.sampling = options.sampling;
    generation.eosTokenIds = stopTokenIds(model.config(), tokenizer);
    generation.batchSize = options.batchSize;
    generation.logprobs = options.logprobs;
    std::vector<std::vector<int64_t>> rows;
    rows.reserve(N * drawn);
    for (size_t i = 0; i < N; ++i) {
        const uint64_t promptSeed = options.promptSeeds.empty() ? deriveSeed(options.sampling.seed, i) : options.promptSeeds[i];
        for (size_t s = 0; s < drawn; ++s) {
            rows.push_back(prompts[i]);
            generation.rowSeeds.push_back(deriveSeed(promptSeed, s));
        }
    }

    torch::NoGradGuard noGrad;
    const bool wasTraining = model.is_training();
    model.eval();
    const auto start = Clock::now();
    std::vector<GenerationResult> results;
    try {
        results = plad::generate(model, rows, generation, context, profile);
    } catch (...) {
        if (wasTraining)
            model.train();
        throw;
    }
    if (wasTraining)
        model.train();
    if (context && context->isCancelled())
        return {};
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(rows.size());

    for (size_t i = 0; i < N; ++i)
        for (size_t s = 0; s < k; ++s) {
            const auto &r = results[i * drawn + (drawn == 1 ? 0 : s)];
            LocalSample sample;
            sample.ids = r.ids;
            sample.logprobs = r.logprobs;
            std::vector<int64_t> textIds = sample.ids;
            if (!textIds.empty() && std::find(generation.eosTokenIds.begin(), generation.eosTokenIds.end(), textIds.back()) != generation.eosTokenIds.end())
                textIds.pop_back();
            sample.text = trimmed(tokenizer.decode(textIds, true));
            sample.finishReason = toString(r.finishReason);
            sample.seconds = drawn == 1 && s > 0 ? 0.0 : seconds;
            out[i].push_back(std::move(sample));
        }
    return out;
}

} // namespace plad
