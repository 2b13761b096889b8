#include "train/optimization.h"

#include "common/crashpoint.h"
#include "common/error.h"
#include "common/fileio.h"
#include "model/modelloader.h"
#include "model/safetensors.h"

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include <torch/torch.h>

namespace plad {

namespace fs = std::filesystem;

std::shared_ptr<torch::optim::AdamW> makeAdamW(CausalLMImpl &model, const TrainingOptions &o)
{
    std::vector<torch::Tensor> decay, noDecay;
    for (auto &p : model.parameters())
        (p.dim() >= 2 ? decay : noDecay).push_back(p);
    auto opts = [&](double wd) {
        return std::make_unique<torch::optim::AdamWOptions>(
            torch::optim::AdamWOptions(o.learningRate).betas({o.beta1, o.beta2}).eps(o.epsilon).weight_decay(wd));
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, opts(o.weightDecay));
    groups.emplace_back(noDecay, opts(0.0));
    return std::make_shared<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(o.learningRate));
}

void setLearningRate(torch::optim::AdamW &optimizer, double learningRate)
{
    for (auto &group : optimizer.param_groups())
        static_cast<torch::optim::AdamWOptions &>(group.options()).lr(learningRate);
}

double clipGradients(CausalLMImpl &model, double maxNorm)
{
    if (maxNorm > 0)
        return torch::nn::utils::clip_grad_norm_(model.parameters(), maxNorm);
    double sq = 0;
    for (const auto &p : model.parameters())
        if (p.grad().defined())
            sq += p.grad().pow(2).sum().item<double>();
    return std::sqrt(sq);
}

namespace {

fs::path sibling(const fs::path &directory, const char *suffix)
{
    return directory.parent_path() / (directory.filename().string() + suffix);
}

} // namespace

void saveCheckpoint(const fs::path &directory, CausalLMImpl &model, torch::optim::AdamW &optimizer, const nlohmann::json &state)
{
    const fs::path fresh = sibling(directory, ".new");
    const fs::path old = sibling(directory, ".old");
    fs::remove_all(fresh);
    fs::create_directories(fresh);
    saveModel(model, fresh);
    crashPoint("checkpoint.partial");
    // Serialised in memory and written by writeFileAtomically: Torch's own file writer throws
    // from its destructor when the disk fills, which ends the program instead of the step.
    std::ostringstream optimizerBytes;
    torch::save(optimizer, optimizerBytes);
    writeFileAtomically(fresh / "optimizer.pt", std::move(optimizerBytes).str());
    writeFileAtomically(fresh / "trainer_state.json", state.dump(2) + "\n");
    fs::remove_all(old);
    if (fs::exists(directory))
        fs::rename(directory, old);
    crashPoint("checkpoint.swapping");
    fs::rename(fresh, directory);
    fs::remove_all(old);
}

std::optional<nlohmann::json> loadCheckpoint(const fs::path &directory, CausalLMImpl &model, torch::optim::AdamW &optimizer)
{
    // A crash between the two renames leaves no directory but a complete fresh (or old) one.
    if (!fs::exists(directory / "trainer_state.json")) {
        for (const char *suffix : {".new", ".old"}) {
            const fs::path candidate = sibling(directory, suffix);
            if (fs::exists(candidate / "trainer_state.json")) {
                fs::remove_all(directory);
                fs::rename(candidate, directory);
                break;
            }
        }
    }
    if (!fs::exists(directory / "trainer_state.json"))
        return std::nullopt;
    const nlohmann::json state = readJsonFile(directory / "trainer_state.json");
    SafetensorsFile weights(directory / "model.safetensors");
    torch::NoGradGuard noGrad;
    for (auto &item : model.named_parameters()) {
        if (!weights.contains(item.key()))
            throw Error(directory.string() + ": checkpoint lacks tensor \"" + item.key() + "\"");
        item.value().copy_(weights.read(item.key()));
    }
    torch::load(optimizer, (directory / "optimizer.pt").string());
    return state;
}

} // namespace plad
