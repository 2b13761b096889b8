#pragma once

// `plad bench pairs`: pair generation end to end (teacher, student, scores, judge, labelling,
// store writes) on the embedded demo, into a scratch workspace.

#include "plad/pairgeneration.h"

#include <cstdint>
#include <filesystem>
#include <string>

namespace plad {

struct PairsBenchmarkOptions
{
    std::filesystem::path demoDirectory;
    std::filesystem::path workspace;  ///< scratch: a new workspace is created here
    int64_t prompts = 1000;           ///< training prompts of the demo run
    int64_t batchSize = -1;           ///< pairs.batch_size (0 = from each model's shape and memory); -1 = the demo's
};

struct PairsBenchmarkResult
{
    std::string runId;
    int64_t batchSize = 0;
    PairGenerationReport report;      ///< the training prompts' generation, with its profile
    double promptsPerSecond = 0;
    double teacherAloneSeconds = 0;   ///< the same teacher samples generated alone, same batches
    GenerationProfile teacherAlone;
    std::string settings;             ///< the demo's pair settings measured, in words ("teacher T=0.7, ...")
};

/**
 * Creates the demo's PLaD run for the first `prompts` training prompts (no held-out pairs),
 * generates its pairs as `plad run` does, then times the teacher generating the same samples
 * alone with the same batches.
 */
PairsBenchmarkResult runPairsBenchmark(const PairsBenchmarkOptions &options, const std::function<void(const std::string &)> &log = {});

} // namespace plad
