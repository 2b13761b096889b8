#include "model/sampling.h"

#include "common/text.h"
#include "model/generator.h"
#include "model/stoptokens.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <chrono>

#include <torch/torch.h>

namespace plad {

std::vector<std::vector<LocalSample>> sampleLocal(CausalLMImpl &model, const Tokenizer &tokenizer,
                                                  const std::vector<std::vector<int64_t>> &prompts, const SamplingOptions &sampling,
                                                  int64_t maxNewTokens, int64_t k, JobContext *context)
{
    using Clock = std::chrono::steady_clock;
    std::vector<std::vector<LocalSample>> out(prompts.size());
    if (prompts.empty())
        return out;
    GenerationOptions options;
    options.maxNewTokens = maxNewTokens;
    options.sampling = sampling;
    options.eosTokenIds = stopTokenIds(model.config(), tokenizer);
    torch::NoGradGuard noGrad;
    const bool wasTraining = model.is_training();
    model.eval();
    for (int64_t s = 0; s < k; ++s) {
        options.sampling.seed = sampling.seed + static_cast<uint64_t>(s);
        const auto start = Clock::now();
        const auto results = plad::generate(model, prompts, options, context);
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(prompts.size());
        if (context && context->isCancelled()) {
            if (wasTraining)
                model.train();
            return {};
        }
        for (size_t i = 0; i < results.size(); ++i) {
            LocalSample sample;
            sample.ids = results[i].ids;
            std::vector<int64_t> textIds = sample.ids;
            if (!textIds.empty() && std::find(options.eosTokenIds.begin(), options.eosTokenIds.end(), textIds.back()) != options.eosTokenIds.end())
                textIds.pop_back();
            sample.text = trimmed(tokenizer.decode(textIds, true));
            sample.finishReason = toString(results[i].finishReason);
            sample.seconds = seconds;
            out[i].push_back(std::move(sample));
        }
    }
    if (wasTraining)
        model.train();
    return out;
}

} // namespace plad
