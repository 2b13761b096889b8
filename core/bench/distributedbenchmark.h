#pragma once

// `plad bench distributed`: what several processes buy. The demo's PLaD run (pair generation,
// then training) on one process with one thread, one process with two threads, and two
// processes with one thread each (torch.distributed over Gloo on loopback), each a real
// `plad run` into its own scratch workspace.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace plad {

struct DistributedBenchmarkOptions
{
    std::filesystem::path demoDirectory;
    std::filesystem::path workspace;      ///< scratch: one workspace per case is created under it
    std::filesystem::path program;        ///< the plad executable to run
    int64_t prompts = 256;                ///< training prompts whose pairs are generated
    int64_t steps = 40;                   ///< training steps (batch 16)
};

struct DistributedBenchmarkCase
{
    std::string name;                     ///< "1 process x 1 thread", ...
    int processes = 1, threads = 1;
    double generationSeconds = 0, promptsPerSecond = 0;
    double tokensPerSecond = 0;           ///< training: the median over steps of the global batch's tokens per second
    double stepSeconds = 0;               ///< training: the train stage's time per step (its start-up included)
    double wallSeconds = 0;               ///< the whole run, loading and exporting included
};

struct DistributedBenchmarkResult
{
    std::vector<DistributedBenchmarkCase> cases;
    int64_t parameters = 0;               ///< the student's
    int64_t gradientBytes = 0;            ///< what each step's allreduce sums (float32 gradients)
};

/** Runs the three cases one after another (the machine should be otherwise idle). */
DistributedBenchmarkResult runDistributedBenchmark(const DistributedBenchmarkOptions &options,
                                                   const std::function<void(const std::string &)> &log = {});

} // namespace plad
