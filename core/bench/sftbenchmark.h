#pragma once

#include "train/synthetictask.h"

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** One model shape and batch for `plad bench sft`. */
struct SftBenchmarkCase
{
    std::string name;            ///< "demo-teacher", "gpt2-small"
    ScratchModelSpec spec;       ///< vocabSize must be set
    int64_t batchSize = 8;
    int64_t promptTokens = 96;   ///< context tokens per sequence (no loss)
    int64_t responseTokens = 32; ///< learned tokens per sequence
    int64_t steps = 5;           ///< timed optimiser steps
    int64_t warmupSteps = 1;     ///< untimed steps first (allocator, thread pool)
};

/** The built-in cases: the demo teacher's shape and GPT-2 small's, each at its stated batch. */
std::vector<SftBenchmarkCase> builtInSftBenchmarkCases();

struct SftBenchmarkResult
{
    int64_t parameters = 0;
    double flopsPerStep = 0;        ///< model FLOPs of one step (see sftStepFlops)
    std::vector<double> stepSeconds; ///< each timed step
    double medianStepSeconds = 0;
    double tokensPerSecond = 0;     ///< batch x (prompt + response) tokens / median step
    double achievedGflops = 0;      ///< flopsPerStep / median step
};

/**
 * Model FLOPs of one SFT step (forward + backward = 3x forward): per token, 6 x the block
 * parameters (matrices in attention and MLP) plus 12 x layers x hidden x sequence for attention
 * scores and values; per response token, 6 x hidden x vocab for the output head (the head runs
 * only where the loss is). Embedding lookups, norms and the optimiser are not counted.
 */
double sftStepFlops(const ScratchModelSpec &spec, int64_t batch, int64_t promptTokens, int64_t responseTokens);

/**
 * Times the training step `plad sft` runs (SftTrainer: forward, response-only cross-entropy,
 * backward, clipping, AdamW) on random token sequences of fixed length, with checkpoints off.
 */
SftBenchmarkResult runSftBenchmark(const SftBenchmarkCase &benchmarkCase);

/** The figures of `c` from its measured step times (the same derivation for every implementation). */
SftBenchmarkResult sftBenchmarkResult(const SftBenchmarkCase &c, int64_t parameters, std::vector<double> stepSeconds);

/** The JSON shape tools/bench/sft_step.py reads for the same case (threads as given). */
nlohmann::json pythonSpec(const SftBenchmarkCase &benchmarkCase, int threads);

/** Median of `values` (0 for none). */
double median(std::vector<double> values);

} // namespace plad
