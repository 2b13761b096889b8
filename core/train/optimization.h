#pragma once

// Pieces every trainer shares: AdamW set-up, the learning-rate update, gradient clipping, and
// crash-safe checkpoints (model + optimiser + trainer state).

#include "model/causallm.h"
#include "train/trainingoptions.h"

#include <filesystem>
#include <memory>
#include <optional>

#include <nlohmann/json_fwd.hpp>
#include <torch/optim/adamw.h>

namespace plad {

/** AdamW with decoupled weight decay on matrices only (norms and biases, all 1-D, are not decayed). */
std::shared_ptr<torch::optim::AdamW> makeAdamW(CausalLMImpl &model, const TrainingOptions &options);
void setLearningRate(torch::optim::AdamW &optimizer, double learningRate);
/** The global gradient norm before clipping; clips to `maxNorm` when it is positive. */
double clipGradients(CausalLMImpl &model, double maxNorm);

/**
 * Writes `directory` (model in Hugging Face layout, optimizer.pt, trainer_state.json = `state`)
 * through a fresh sibling directory and renames, so a crash at any moment leaves a complete
 * checkpoint: the old one, or the new one.
 */
void saveCheckpoint(const std::filesystem::path &directory, CausalLMImpl &model, torch::optim::AdamW &optimizer,
                    const nlohmann::json &state);
/**
 * Restores the model's weights, the optimiser and returns the trainer state; nothing when no
 * checkpoint exists. Completes a swap that a crash interrupted. Throws Error naming the
 * directory and the tensor when the checkpoint does not fit the model.
 */
std::optional<nlohmann::json> loadCheckpoint(const std::filesystem::path &directory, CausalLMImpl &model,
                                             torch::optim::AdamW &optimizer);

} // namespace plad
