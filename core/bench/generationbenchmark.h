#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace plad {

/** One measured configuration of `plad bench generate`. */
struct GenerationBenchmarkRow
{
    int64_t batchSize = 0;
    bool kvCache = true;
    int64_t newTokens = 0;      ///< per row
    double seconds = 0;
    double tokensPerSecond = 0; ///< new tokens over all rows per second
};

struct GenerationBenchmarkOptions
{
    int64_t promptTokens = 32;
    int64_t newTokens = 128;
    std::vector<int64_t> batchSizes{1, 8};
    bool includeRecompute = true;
    int64_t matmulSize = 2048;
};

struct GenerationBenchmarkReport
{
    std::string model;          ///< description of the benchmark model
    int64_t parameters = 0;
    int threads = 0;
    std::string blas;
    double matmulGflops = 0;    ///< float32 square matmul of matmulSize
    std::vector<GenerationBenchmarkRow> rows;
};

/** Float32 GFLOPS of an n x n matmul on the current Torch threads, timed over about a second. */
double measureMatmulGflops(int64_t n);

/**
 * Measures greedy generation on a randomly initialised GPT-2-small-shaped model (124M
 * parameters): tokens/s with the KV cache and with full recomputation, at each batch size,
 * plus the machine's matmul GFLOPS. `log` receives a line per finished measurement.
 */
GenerationBenchmarkReport runGenerationBenchmark(const GenerationBenchmarkOptions &options,
                                                 const std::function<void(const std::string &)> &log = {});

} // namespace plad
