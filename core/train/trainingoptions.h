#pragma once

#include "common/enumnames.h"

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** The learning rate after warm-up. */
enum class LrSchedule {
    Cosine,   ///< "cosine": down to min_lr_ratio x the peak
    Linear,   ///< "linear": down to 0
    Constant, ///< "constant": the peak
};
inline constexpr EnumName<LrSchedule> lrScheduleNames[] = {{LrSchedule::Cosine, "cosine"}, {LrSchedule::Linear, "linear"}, {LrSchedule::Constant, "constant"}};

/** Optimisation settings shared by SFT and the preference losses. Units are stated per field. */
struct TrainingOptions
{
    double learningRate = 3e-4;   ///< peak learning rate
    double weightDecay = 0.1;     ///< AdamW decoupled decay, applied to matrices only (not norms, biases)
    double beta1 = 0.9, beta2 = 0.95, epsilon = 1e-8;
    int64_t warmupSteps = 100;    ///< linear warm-up from 0 to the peak
    LrSchedule schedule = LrSchedule::Cosine;
    double minLrRatio = 0.1;
    int64_t maxSteps = 1000;      ///< optimiser steps
    int64_t batchSize = 16;       ///< sequences per micro-batch
    int64_t gradAccumulation = 1; ///< micro-batches per optimiser step
    bool groupByLength = true;    ///< batch examples of similar length together (less padding); order stays seeded
    double maxGradNorm = 1.0;     ///< clip the global gradient norm; 0 = off
    int64_t evalEvery = 100;      ///< steps between validation evaluations; 0 = only at the end
    int64_t evalBatches = 0;      ///< validation micro-batches per evaluation; 0 = the whole split
    int64_t checkpointEvery = 0;  ///< steps between checkpoints; 0 = only at the end
    uint64_t seed = 0;            ///< model init, data order and sampling
    int threads = 0;              ///< Torch intra-op threads; 0 = default
    bool saveCheckpoints = true;  ///< not in the JSON: benchmarks turn checkpoints off

    /** Reads an object where every field is optional; unknown or ill-typed fields are ConfigErrors naming `where`.field. */
    static TrainingOptions fromJson(const nlohmann::json &doc, const std::string &where);
    nlohmann::json toJson() const;
    void validate(const std::string &where) const;
};

/** Learning rate at optimiser step `step` (0-based): warm-up, then the schedule. */
double learningRateAt(const TrainingOptions &options, int64_t step);

} // namespace plad
