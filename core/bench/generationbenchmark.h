#pragma once

// `plad bench generate`: generation throughput on fixed cases, with where the time went and
// how much of the machine's matmul rate the model's arithmetic used.

#include "model/modelconfig.h"
#include "model/modeltypes.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace plad {

/** A case: a model, its prompts as token ids and how to generate from them. */
struct GenerationBenchmarkCase
{
    std::string name;                    ///< "demo-teacher", "gpt2-small"
    std::string description;
    std::filesystem::path modelDirectory; ///< a Hugging Face directory (a scratch one for random weights)
    std::vector<std::vector<int64_t>> prompts;
    std::vector<int64_t> eosTokenIds;    ///< empty: every row runs to maxNewTokens
    int64_t maxNewTokens = 32;
    std::vector<int64_t> batchSizes{32};
    std::string dtype = "float32";
    bool continuousBatching = true;      ///< GenerationOptions::continuousBatching
};

/**
 * The demo teacher on the first `prompts` test prompts of the embedded demo (formatted with its
 * template, as the demo does), greedy, up to 32 new tokens, batches of 32.
 */
GenerationBenchmarkCase demoTeacherGenerationCase(const std::filesystem::path &demoDirectory, int64_t prompts = 256);

/**
 * A GPT-2-small-shaped model (124M parameters) with random weights, saved as a checkpoint
 * under `scratch`; 32-token prompts, 128 new tokens with no EOS, batches of 1 and 8.
 */
GenerationBenchmarkCase gpt2SmallGenerationCase(const std::filesystem::path &scratch);

/** Model FLOPs of generating `generated` tokens after each prompt: real tokens only, no padding. */
double generationFlops(const ModelConfig &config, const std::vector<int64_t> &promptLengths, const std::vector<int64_t> &generated);

struct GenerationBenchmarkRun
{
    int64_t batchSize = 0;
    double seconds = 0;              ///< the fastest run's
    std::vector<double> allSeconds;  ///< every run's, in order
    int64_t prompts = 0;
    int64_t newTokens = 0;
    double promptsPerSecond = 0;
    double tokensPerSecond = 0;   ///< new tokens per second
    double modelGflops = 0;       ///< arithmetic of the real tokens
    double achievedGflops = 0;
    GenerationProfile profile;       ///< the fastest run's
    std::vector<std::vector<int64_t>> outputs;
};

/**
 * Runs the case at `batchSize` with plad's generator `repeats` times (after a warm-up batch);
 * figures are the fastest run's, since a shared machine only ever slows a run down.
 */
GenerationBenchmarkRun runGenerationBenchmark(const GenerationBenchmarkCase &c, int64_t batchSize, int repeats = 1);

/** Float32 GFLOPS of an n x n matmul on the current Torch threads: the best of three windows of about 0.4 s. */
double measureMatmulGflops(int64_t n);

/** How many of `a`'s outputs equal `b`'s, row by row. */
int64_t identicalOutputs(const std::vector<std::vector<int64_t>> &a, const std::vector<std::vector<int64_t>> &b);

} // namespace plad
