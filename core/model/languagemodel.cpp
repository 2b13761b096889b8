#include "model/languagemodel.h"

#include "common/error.h"
#include "model/generator.h"
#include "model/modelloader.h"
#include "model/sequencescorer.h"

#include <torch/torch.h>

namespace plad {

namespace {

// Torch reports failures as c10::Error with a C++ backtrace; callers of this Torch-free API
// get a plad::Error with just the message.
template<typename F>
auto translatingTorchErrors(F &&f) -> decltype(f())
{
    try {
        return f();
    } catch (const c10::Error &e) {
        throw Error(e.what_without_backtrace());
    }
}

} // namespace

struct LanguageModel::State
{
    CausalLM model;
    std::vector<std::string> storedDtypes;
    std::vector<std::string> unexpectedTensors;
};

LanguageModel::LanguageModel(std::shared_ptr<State> state)
    : d(std::move(state))
{}

LanguageModel LanguageModel::load(const std::filesystem::path &directory, const std::string &device, const std::string &dtype)
{
    LoadOptions options;
    options.device = device;
    options.dtype = parseDtype(dtype);
    LoadedModel loaded = translatingTorchErrors([&] { return loadModel(directory, options); });
    auto state = std::make_shared<State>();
    state->model = loaded.model;
    state->storedDtypes = loaded.storedDtypes;
    state->unexpectedTensors = loaded.unexpectedTensors;
    return LanguageModel(state);
}

LanguageModel LanguageModel::create(const ModelConfig &config, uint64_t seed, const std::string &dtype)
{
    auto state = std::make_shared<State>();
    const auto type = parseDtype(dtype);
    checkComputeDtype("cpu", type);
    state->model = createModel(config, seed);
    state->model->to(type);
    return LanguageModel(state);
}

const ModelConfig &LanguageModel::config() const
{
    return d->model->config();
}

ModelSummary LanguageModel::summary() const
{
    const auto &c = config();
    ModelSummary s;
    s.modelType = c.modelType;
    int64_t count = 0;
    for (const auto &p : d->model->parameters())
        count += p.numel();
    s.parameterCount = count;
    const auto first = d->model->parameters().front();
    s.computeDtype = dtypeName(first.scalar_type());
    s.device = first.device().str();
    s.storedDtypes = d->storedDtypes;
    s.vocabSize = c.vocabSize;
    s.contextLength = c.maxPositions;
    s.layers = c.numLayers;
    s.hiddenSize = c.hiddenSize;
    s.heads = c.numHeads;
    s.keyValueHeads = c.numKeyValueHeads;
    s.tiedEmbeddings = c.tieWordEmbeddings;
    s.unexpectedTensors = d->unexpectedTensors;
    return s;
}

std::vector<std::vector<float>> LanguageModel::logits(const std::vector<int64_t> &ids)
{
    return translatingTorchErrors([&] { return logitsOf(ids); });
}

std::vector<std::vector<float>> LanguageModel::logitsOf(const std::vector<int64_t> &ids)
{
    c10::InferenceMode inference;
    const auto device = d->model->parameters().front().device();
    const int64_t T = static_cast<int64_t>(ids.size());
    auto input = torch::tensor(ids, torch::kInt64).view({1, T}).to(device);
    auto positions = torch::arange(T, input.options()).view({1, T});
    auto out = d->model->forward(input, positions, torch::Tensor(), nullptr)[0].to(torch::kCPU).to(torch::kFloat32).contiguous(); // [T, V]
    std::vector<std::vector<float>> rows(static_cast<size_t>(T));
    const float *data = out.data_ptr<float>();
    const int64_t V = out.size(1);
    for (int64_t t = 0; t < T; ++t)
        rows[static_cast<size_t>(t)].assign(data + t * V, data + (t + 1) * V);
    return rows;
}

std::vector<SequenceScore> LanguageModel::score(const std::vector<ScoreRequest> &requests, int64_t batchSize)
{
    return translatingTorchErrors([&] { return scoreSequences(*d->model, requests, batchSize); });
}

std::vector<GenerationResult> LanguageModel::generate(const std::vector<std::vector<int64_t>> &prompts,
                                                      const GenerationOptions &options, JobContext *context)
{
    return translatingTorchErrors([&] { return plad::generate(*d->model, prompts, options, context); });
}

void LanguageModel::save(const std::filesystem::path &directory, const std::string &dtype)
{
    translatingTorchErrors([&] { saveModel(*d->model, directory, parseDtype(dtype)); });
}

std::shared_ptr<CausalLMImpl> LanguageModel::module() const
{
    return d->model;
}

} // namespace plad
