#pragma once

#include "model/causallm.h"

#include <filesystem>
#include <string>
#include <vector>

#include <torch/types.h>

namespace plad {

/** Where and in which dtype to materialise a model. */
struct LoadOptions
{
    std::string device = "cpu";                  ///< "cpu", "cuda", "cuda:N"
    torch::ScalarType dtype = torch::kFloat32;   ///< compute dtype; stored tensors are converted
};

/** A model loaded from a Hugging Face directory, with what the loader noticed. */
struct LoadedModel
{
    CausalLM model;
    std::filesystem::path directory;
    std::vector<std::string> storedDtypes;       ///< distinct dtypes of the stored weights
    std::vector<std::string> unexpectedTensors;  ///< tensors in the files that map to no parameter
};

/**
 * Loads `config.json` + `model.safetensors` (or sharded safetensors) from `directory`.
 * Refuses pickle checkpoints (`*.bin`, `*.pt`, ...) with an explanation. A missing tensor, a
 * tensor of the wrong shape or a non-float tensor where a weight is expected is an Error
 * naming the tensor and file. The model is returned in eval mode.
 */
LoadedModel loadModel(const std::filesystem::path &directory, const LoadOptions &options = {});

/** A randomly initialised model for `config` (normal(0, 0.02) weights from `seed`). */
CausalLM createModel(const ModelConfig &config, uint64_t seed = 0);

/**
 * Writes `config.json` and `model.safetensors` in Hugging Face layout (the tensor names and
 * layouts transformers expects) into `directory`, creating it if needed. Weights are written in
 * `dtype` (F32, F16 or BF16). Each file is replaced atomically.
 */
void saveModel(CausalLMImpl &model, const std::filesystem::path &directory, torch::ScalarType dtype = torch::kFloat32);

/** Throws ConfigError when `dtype` cannot be computed in on `device` (float16 on the CPU). */
void checkComputeDtype(const std::string &device, torch::ScalarType dtype);

/** "float32", "float16", "bfloat16" -> ScalarType; throws ConfigError otherwise. */
torch::ScalarType parseDtype(const std::string &name);
std::string dtypeName(torch::ScalarType dtype);

} // namespace plad
