#pragma once

// What one distillation step reports: plain values (no Torch), for the run store, the CLI's
// progress lines and the workbench's live charts.

#include "store/records.h"
#include "train/trainingprogress.h"

#include <optional>
#include <vector>

namespace plad {

/** What one optimiser step did. */
struct DistillStep
{
    TrainingPoint point;
    std::optional<double> rankingAccuracy;  ///< pair methods: share of pairs with s(y+) > s(y-) in the step
    std::optional<double> meanMargin;       ///< pair methods: mean s(y+) - s(y-)
    std::vector<PairProgress> pairs;        ///< margin and loss of each pair the step trained on
    /** Several processes: each rank's own throughput (its tokens over its step time), by rank; empty for one process. */
    std::vector<double> rankTokensPerSecond;
};

} // namespace plad
