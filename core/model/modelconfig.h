#pragma once

#include "model/generationconfig.h"
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plad {

/** Rotary position scaling from config.json's `rope_scaling` (types `linear` and `llama3`). */
struct RopeScaling
{
    std::string type;                        ///< "linear" or "llama3"
    double factor = 1.0;
    double lowFreqFactor = 1.0;              ///< llama3 only
    double highFreqFactor = 4.0;             ///< llama3 only
    int64_t originalMaxPositionEmbeddings = 8192; ///< llama3 only
};

/**
 * A causal LM's architecture as read from a Hugging Face `config.json`, normalised across
 * model types. Torch-free so the GUI's pre-flight checks can use it.
 */
struct ModelConfig
{
    std::string modelType;       ///< "gpt2", "llama", "mistral", "qwen2", "qwen3"
    int64_t vocabSize = 0;
    int64_t hiddenSize = 0;
    int64_t numLayers = 0;
    int64_t numHeads = 0;
    int64_t numKeyValueHeads = 0;
    int64_t headDim = 0;
    int64_t intermediateSize = 0;
    int64_t maxPositions = 0;    ///< context length
    double normEps = 1e-5;
    std::string activation;      ///< Hugging Face activation name
    bool tieWordEmbeddings = false;

    // Rotary architectures (llama family).
    double ropeTheta = 10000.0;
    std::optional<RopeScaling> ropeScaling;
    bool qkvBias = false;        ///< biases on q/k/v projections
    bool outputBias = false;     ///< bias on the attention output projection
    bool mlpBias = false;
    bool qkNorm = false;         ///< per-head RMSNorm on queries and keys (qwen3)
    std::optional<int64_t> slidingWindow;

    // GPT-2.
    bool scaleAttnWeights = true;
    bool scaleAttnByInverseLayerIdx = false;

    std::optional<int64_t> bosTokenId;
    std::vector<int64_t> eosTokenIds;
    std::optional<int64_t> padTokenId;
    std::string torchDtype;      ///< dtype the checkpoint declares, informational
    /** generation_config.json beside config.json (loadModelConfig reads it): eos ids, sampling defaults. */
    GenerationDefaults generation;

    nlohmann::json raw;          ///< the original document, written back on save

    /** Number of trainable parameters implied by the shapes (tied head counted once). */
    int64_t parameterCount() const;
};

/**
 * Parses a config.json document. `source` names the file in error messages. Throws
 * ConfigError naming the field for missing or ill-typed values, and for a `model_type` that is
 * not supported (listing the supported ones).
 */
ModelConfig parseModelConfig(const nlohmann::json &doc, const std::string &source);

/** Reads and parses `path` (a config.json file). */
ModelConfig loadModelConfig(const std::filesystem::path &path);

/** The model types this build can load. */
std::vector<std::string> supportedModelTypes();

/**
 * Reads typed fields of a JSON object with messages that name the source and field. Used by
 * every config parser so that errors read the same everywhere.
 */
class JsonFieldReader
{
public:
    JsonFieldReader(const nlohmann::json &doc, std::string source);
    /** The file (and section) errors name. */
    const std::string &source() const { return mSource; }

    bool has(const std::string &field) const;
    int64_t positiveInt(const std::string &field) const;
    int64_t positiveInt(const std::string &field, int64_t fallback) const;
    double positiveNumber(const std::string &field, double fallback) const;
    bool boolean(const std::string &field, bool fallback) const;
    std::string string(const std::string &field, const std::string &fallback) const;
    std::optional<int64_t> optionalInt(const std::string &field) const;
    /** An int or a list of ints (as `eos_token_id` may be); empty when absent or null. */
    std::vector<int64_t> intOrIntList(const std::string &field) const;

    [[noreturn]] void fail(const std::string &field, const std::string &problem) const;

private:
    const nlohmann::json &mDoc;
    std::string mSource;
};

} // namespace plad
