#include "bench/generationbenchmark.h"

#include "model/runtime.h"
#include "model/generator.h"
#include "model/modelloader.h"

#include <chrono>
#include <cstdio>

#include <torch/torch.h>

namespace plad {

namespace {

ModelConfig gpt2SmallConfig()
{
    nlohmann::json doc = {
        {"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"vocab_size", 50257}, {"n_positions", 1024},
        {"n_embd", 768}, {"n_layer", 12}, {"n_head", 12}, {"activation_function", "gelu_new"},
        {"layer_norm_epsilon", 1e-5}, {"tie_word_embeddings", true}, {"bos_token_id", 50256}, {"eos_token_id", 50256},
    };
    return parseModelConfig(doc, "GPT-2 small benchmark config");
}

double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

double measureMatmulGflops(int64_t n)
{
    c10::InferenceMode inference;
    auto a = torch::randn({n, n});
    auto b = torch::randn({n, n});
    torch::mm(a, b); // warm-up: thread pool, BLAS buffers
    int runs = 0;
    const auto start = std::chrono::steady_clock::now();
    do {
        torch::mm(a, b);
        ++runs;
    } while (secondsSince(start) < 1.0);
    return 2.0 * static_cast<double>(n) * n * n * runs / secondsSince(start) / 1e9;
}

GenerationBenchmarkReport runGenerationBenchmark(const GenerationBenchmarkOptions &options,
                                                 const std::function<void(const std::string &)> &log)
{
    GenerationBenchmarkReport report;
    const RuntimeInfo info = runtimeInfo();
    report.threads = info.intraOpThreads;
    report.blas = info.blas;
    report.matmulGflops = measureMatmulGflops(options.matmulSize);
    if (log)
        log("matmul " + std::to_string(options.matmulSize) + "x" + std::to_string(options.matmulSize) + " float32: "
            + std::to_string(report.matmulGflops) + " GFLOPS");

    auto model = createModel(gpt2SmallConfig(), /*seed=*/1);
    report.model = "GPT-2 small shape (12 layers, 768 channels, 12 heads, vocab 50257), random weights, float32";
    for (const auto &p : model->parameters())
        report.parameters += p.numel();

    for (const int64_t batch : options.batchSizes) {
        std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(batch));
        for (int64_t b = 0; b < batch; ++b)
            for (int64_t t = 0; t < options.promptTokens; ++t)
                prompts[static_cast<size_t>(b)].push_back((b * 7919 + t * 104729) % 50000);
        for (const bool cache : {true, false}) {
            if (!cache && !options.includeRecompute)
                continue;
            GenerationOptions gen;
            gen.maxNewTokens = options.newTokens;
            gen.useCache = cache;
            generate(*model, prompts, GenerationOptions{4, {}, {}, {}, cache}); // warm-up
            const auto start = std::chrono::steady_clock::now();
            const auto results = generate(*model, prompts, gen);
            GenerationBenchmarkRow row;
            row.batchSize = batch;
            row.kvCache = cache;
            row.newTokens = static_cast<int64_t>(results.front().ids.size());
            row.seconds = secondsSince(start);
            row.tokensPerSecond = static_cast<double>(row.newTokens * batch) / row.seconds;
            report.rows.push_back(row);
            if (log) {
                char line[160];
                std::snprintf(line, sizeof line, "batch %ld, %s: %ld new tokens per row in %.2f s = %.1f tokens/s",
                              static_cast<long>(batch), cache ? "KV cache" : "recompute", static_cast<long>(row.newTokens),
                              row.seconds, row.tokensPerSecond);
                log(line);
            }
        }
    }
    return report;
}

} // namespace plad
