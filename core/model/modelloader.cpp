#include "model/modelloader.h"

#include "common/error.h"
#include "common/fileio.h"
#include "model/runtime.h"
#include "model/architectureregistry.h"
#include "model/safetensors.h"

#include <set>

#include <torch/torch.h>

namespace plad {

namespace fs = std::filesystem;

namespace {

std::string shapeText(c10::IntArrayRef shape)
{
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

void refusePickleCheckpoint(const fs::path &directory)
{
    static const std::set<std::string> pickleExtensions = {".bin", ".pt", ".pth", ".ckpt", ".pkl"};
    for (const auto &entry : fs::directory_iterator(directory)) {
        if (entry.is_regular_file() && pickleExtensions.count(entry.path().extension().string()))
            throw Error(directory.string() + ": the weights are in " + entry.path().filename().string()
                        + ", a PyTorch pickle file. Loading pickle files can execute arbitrary code, so they are not read. "
                          "Convert the checkpoint to safetensors with a tool you trust (for example transformers' "
                          "save_pretrained(..., safe_serialization=True)) and load that directory.");
    }
}

} // namespace

torch::ScalarType parseDtype(const std::string &name)
{
    if (name == "float32" || name == "f32" || name == "fp32")
        return torch::kFloat32;
    if (name == "float16" || name == "f16" || name == "fp16" || name == "half")
        return torch::kFloat16;
    if (name == "bfloat16" || name == "bf16")
        return torch::kBFloat16;
    throw ConfigError("unknown dtype \"" + name + "\" (use float32, float16 or bfloat16)");
}

std::string dtypeName(torch::ScalarType dtype)
{
    switch (dtype) {
    case torch::kFloat32: return "float32";
    case torch::kFloat16: return "float16";
    case torch::kBFloat16: return "bfloat16";
    default: return c10::toString(dtype);
    }
}

void checkComputeDtype(const std::string &device, torch::ScalarType dtype)
{
    if (dtype == torch::kFloat16 && c10::Device(device).is_cpu())
        throw ConfigError("float16 compute is not available on the CPU in this Torch build; use float32 or bfloat16 "
                          "(float16 checkpoints still load, converted to the compute dtype)");
    if (dtype != torch::kFloat32 && dtype != torch::kFloat16 && dtype != torch::kBFloat16)
        throw ConfigError("compute dtype must be float32, float16 or bfloat16");
}

CausalLM createModel(const ModelConfig &config, uint64_t seed)
{
    const Architecture *arch = findArchitecture(config.modelType);
    if (!arch)
        throw ConfigError("model_type \"" + config.modelType + "\" is not supported");
    auto model = arch->create(config);
    model->initializeWeights(seed);
    model->eval();
    return model;
}

LoadedModel loadModel(const fs::path &directory, const LoadOptions &options)
{
    std::error_code ec;
    if (!fs::exists(directory, ec))
        throw Error(directory.string() + ": no such model directory");
    if (!fs::is_directory(directory, ec))
        throw Error(directory.string() + ": expected a model directory (with config.json and model.safetensors), found a file");
    const fs::path configPath = directory / "config.json";
    const bool hasSafetensors = fs::exists(directory / "model.safetensors") || fs::exists(directory / "model.safetensors.index.json");
    if (!hasSafetensors)
        refusePickleCheckpoint(directory);
    if (!fs::exists(configPath))
        throw Error(directory.string() + ": no config.json; a model directory needs config.json and model.safetensors");

    const ModelConfig config = loadModelConfig(configPath);
    const SafetensorsCheckpoint checkpoint(directory);
    const std::string device = validateDevice(options.device);
    checkComputeDtype(device, options.dtype);

    LoadedModel loaded;
    loaded.directory = directory;
    loaded.model = findArchitecture(config.modelType)->create(config);
    auto params = loaded.model->named_parameters();

    // Map every stored tensor to a parameter before reading any of them.
    std::map<std::string, std::string> sourceOf; // parameter -> checkpoint tensor
    std::set<std::string> dtypes;
    for (const auto &name : checkpoint.names()) {
        const auto target = loaded.model->parameterNameFor(name);
        if (!target)
            continue;
        if (!params.contains(*target)) {
            loaded.unexpectedTensors.push_back(name);
            continue;
        }
        if (sourceOf.count(*target))
            throw FormatError(checkpoint.fileOf(name).string() + ": tensors \"" + sourceOf[*target] + "\" and \"" + name
                              + "\" both provide parameter \"" + *target + "\"");
        sourceOf[*target] = name;
    }

    torch::NoGradGuard noGrad;
    for (auto &item : params) {
        const std::string &param = item.key();
        const auto it = sourceOf.find(param);
        if (it == sourceOf.end()) {
            std::string hint;
            if (!loaded.unexpectedTensors.empty())
                hint = " (the checkpoint has " + std::to_string(loaded.unexpectedTensors.size())
                       + " tensors this architecture does not use, e.g. \"" + loaded.unexpectedTensors.front()
                       + "\"; is config.json's model_type right?)";
            throw FormatError(directory.string() + ": tensor \"" + param + "\" is missing from the checkpoint" + hint);
        }
        const auto &entry = checkpoint.entry(it->second);
        const std::string where = checkpoint.fileOf(it->second).string() + ": tensor \"" + it->second + "\"";
        if (c10::IntArrayRef(entry.shape) != item.value().sizes())
            throw FormatError(where + " has shape " + shapeText(entry.shape) + " but config.json implies "
                              + shapeText(item.value().sizes()));
        const auto stored = toScalarType(entry.dtype);
        if (!c10::isFloatingType(stored))
            throw FormatError(where + " is stored as " + toString(entry.dtype) + "; a weight must be F32, F16, BF16 or F64");
        dtypes.insert(toString(entry.dtype));
        item.value().copy_(checkpoint.read(it->second).to(torch::kFloat32));
    }
    loaded.storedDtypes.assign(dtypes.begin(), dtypes.end());
    loaded.model->to(torch::Device(device), options.dtype);
    loaded.model->eval();
    return loaded;
}

void saveModel(CausalLMImpl &model, const fs::path &directory, torch::ScalarType dtype)
{
    if (dtype != torch::kFloat32 && dtype != torch::kFloat16 && dtype != torch::kBFloat16)
        throw ConfigError("models are saved as float32, float16 or bfloat16");
    std::error_code ec;
    fs::create_directories(directory, ec);
    if (ec)
        throw Error(directory.string() + ": cannot create directory: " + ec.message());

    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto &item : model.named_parameters())
        tensors.emplace_back(item.key(), item.value().detach().to(torch::kCPU).to(dtype));
    writeSafetensors(directory / "model.safetensors", tensors);

    nlohmann::json config = model.config().raw;
    config["torch_dtype"] = dtypeName(dtype);
    writeFileAtomically(directory / "config.json", config.dump(2) + "\n");
    if (!model.config().generation.empty())
        writeFileAtomically(directory / "generation_config.json", model.config().generation.raw.dump(2) + "\n");
}

} // namespace plad
