#pragma once

// What training reports as it goes and why it stopped: plain values (no Torch), shared by the
// SFT and distillation trainers, the CLI and the workbench.

#include "common/enumnames.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace plad {

/** Why a trainer returned. */
enum class TrainStop {
    Completed, ///< reached the requested step
    Cancelled, ///< the job context was cancelled
    NonFinite, ///< the loss became NaN or infinite; the last checkpoint is kept
};
inline constexpr EnumName<TrainStop> trainStopNames[] = {
    {TrainStop::Completed, "completed"}, {TrainStop::Cancelled, "cancelled"}, {TrainStop::NonFinite, "non-finite loss"}};

/** One logged optimiser step. */
struct TrainingPoint
{
    int64_t step = 0;              ///< 1-based optimiser step
    double loss = 0;               ///< mean cross-entropy per response token (nats)
    double learningRate = 0;
    double gradNorm = 0;           ///< before clipping
    double tokensPerSecond = 0;    ///< response + prompt tokens processed per second, this step
    double etaSeconds = 0;
    std::optional<double> validationLoss;
};

struct TrainingResult
{
    int64_t steps = 0;
    TrainStop stop = TrainStop::Completed;
    std::string message;           ///< for a stop other than Completed: what happened and what was kept
    std::optional<double> validationLoss;
    std::vector<TrainingPoint> history;
};

} // namespace plad
