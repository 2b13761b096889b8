// plad bench generate: generation throughput figures (a benchmark, not a test).
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "bench/generationbenchmark.h"

#include <iostream>
#include <memory>

namespace plad::cli {

void addBenchCommands(CLI::App &app)
{
    auto *bench = app.add_subcommand("bench", "Measure performance on this machine");
    bench->require_subcommand(1);
    addTokenizerBenchmark(*bench);
    addSftBenchmark(*bench);

    auto options = std::make_shared<GenerationBenchmarkOptions>();
    auto json = std::make_shared<bool>(false);
    auto *generate = bench->add_subcommand(
        "generate", "Tokens/s of greedy generation on a random GPT-2-small-shaped model, with and without the KV cache");
    generate->add_option("--new-tokens", options->newTokens, "new tokens per row")->capture_default_str();
    generate->add_option("--prompt-tokens", options->promptTokens, "prompt length")->capture_default_str();
    generate->add_option("--batch", options->batchSizes, "batch sizes to measure")->capture_default_str();
    generate->add_flag("--no-recompute", [options](int64_t) { options->includeRecompute = false; },
                       "skip the (slow) full-recomputation baseline");
    generate->add_flag("--json", *json, "print the figures as JSON");
    generate->callback([options, json] {
        const auto report = runGenerationBenchmark(*options, [json](const std::string &line) {
            if (!*json)
                std::cout << line << std::endl;
        });
        if (*json) {
            nlohmann::json rows = nlohmann::json::array();
            for (const auto &r : report.rows)
                rows.push_back({{"batch", r.batchSize}, {"kv_cache", r.kvCache}, {"new_tokens", r.newTokens},
                                {"seconds", r.seconds}, {"tokens_per_second", r.tokensPerSecond}});
            printJson({{"model", report.model}, {"parameters", report.parameters}, {"threads", report.threads},
                       {"blas", report.blas}, {"matmul_gflops", report.matmulGflops}, {"rows", rows}});
            return;
        }
        std::cout << "model: " << report.model << ", " << report.parameters << " parameters\n"
                  << "threads: " << report.threads << ", BLAS: " << report.blas << "\n";
        for (const auto &cached : report.rows) {
            if (!cached.kvCache)
                continue;
            for (const auto &recompute : report.rows)
                if (!recompute.kvCache && recompute.batchSize == cached.batchSize)
                    std::cout << "batch " << cached.batchSize << ": KV cache is " << cached.tokensPerSecond / recompute.tokensPerSecond
                              << "x faster than recomputation\n";
        }
    });
}

} // namespace plad::cli
