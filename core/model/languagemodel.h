#pragma once

#include "common/jobcontext.h"
#include "model/modelconfig.h"
#include "model/modeltypes.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace plad {

class CausalLMImpl;

/** What `plad model info` and the GUI show about a loaded model. */
struct ModelSummary
{
    std::string modelType;
    int64_t parameterCount = 0;
    std::string computeDtype;                    ///< dtype the weights are held in for compute
    std::vector<std::string> storedDtypes;       ///< dtypes found in the checkpoint files
    int64_t vocabSize = 0;
    int64_t contextLength = 0;
    int64_t layers = 0, hiddenSize = 0, heads = 0, keyValueHeads = 0;
    bool tiedEmbeddings = false;
    std::string device;
    std::vector<std::string> unexpectedTensors;
};

/**
 * A loaded causal LM behind a Torch-free interface: the CLI and the GUI use this, core code
 * that needs tensors uses module() and the functions in generator.h / sequencescorer.h.
 *
 * Not thread-safe: use one instance from one thread at a time (a GUI worker thread owns it).
 */
class LanguageModel
{
public:
    /** Loads a Hugging Face directory; see loadModel() for the checks. */
    static LanguageModel load(const std::filesystem::path &directory, const std::string &device = "cpu",
                              const std::string &dtype = "float32");
    /** A randomly initialised model of the given architecture (benchmarks, from-scratch training). */
    static LanguageModel create(const ModelConfig &config, uint64_t seed = 0, const std::string &dtype = "float32");

    const ModelConfig &config() const;
    ModelSummary summary() const;

    /** Logits for every position of one sequence: [tokens][vocab]. */
    std::vector<std::vector<float>> logits(const std::vector<int64_t> &ids);
    /** log p(completion | prompt) per request; see scoreSequences(). */
    std::vector<SequenceScore> score(const std::vector<ScoreRequest> &requests, int64_t batchSize = 8);
    /** Batched generation with the KV cache; see generate(). */
    std::vector<GenerationResult> generate(const std::vector<std::vector<int64_t>> &prompts,
                                           const GenerationOptions &options, JobContext *context = nullptr);
    /** Writes config.json + model.safetensors in Hugging Face layout. */
    void save(const std::filesystem::path &directory, const std::string &dtype = "float32");

    /** The Torch module, for core code that trains or inspects it. */
    std::shared_ptr<CausalLMImpl> module() const;

private:
    struct State;
    explicit LanguageModel(std::shared_ptr<State> state);
    std::vector<std::vector<float>> logitsOf(const std::vector<int64_t> &ids);
    std::shared_ptr<State> d;
};

} // namespace plad
