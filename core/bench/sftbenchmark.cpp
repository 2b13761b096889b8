#include "bench/sftbenchmark.h"

#include "common/error.h"
#include "model/modelloader.h"
#include "train/sfttrainer.h"

#include <algorithm>
#include <filesystem>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace plad {

std::vector<SftBenchmarkCase> builtInSftBenchmarkCases()
{
    SftBenchmarkCase teacher;
    teacher.name = "demo-teacher";
    teacher.spec.style = "llama";
    teacher.spec.vocabSize = 4096;
    teacher.spec.hiddenSize = 256;
    teacher.spec.layers = 6;
    teacher.spec.heads = 8;
    teacher.spec.contextLength = 256;
    teacher.batchSize = 32;
    teacher.steps = 8;

    SftBenchmarkCase gpt2;
    gpt2.name = "gpt2-small";
    gpt2.spec.style = "gpt2";
    gpt2.spec.vocabSize = 50257;
    gpt2.spec.hiddenSize = 768;
    gpt2.spec.layers = 12;
    gpt2.spec.heads = 12;
    gpt2.spec.contextLength = 1024;
    gpt2.spec.bosTokenId = gpt2.spec.eosTokenId = 50256;
    gpt2.batchSize = 8;
    gpt2.steps = 3;
    return {teacher, gpt2};
}

double sftStepFlops(const ScratchModelSpec &spec, int64_t batch, int64_t promptTokens, int64_t responseTokens)
{
    const ModelConfig config = scratchModelConfig(spec);
    const double C = static_cast<double>(config.hiddenSize);
    const double I = static_cast<double>(config.intermediateSize);
    const double H = static_cast<double>(config.numHeads), K = static_cast<double>(config.numKeyValueHeads);
    const double D = static_cast<double>(config.headDim);
    const double attention = C * (H * D) + 2 * C * (K * D) + (H * D) * C;
    const double mlp = spec.style == "gpt2" ? 2 * C * I : 3 * C * I;
    const double blockParameters = static_cast<double>(config.numLayers) * (attention + mlp);
    const double T = static_cast<double>(promptTokens + responseTokens);
    const double B = static_cast<double>(batch);
    const double perToken = 6 * blockParameters + 12 * static_cast<double>(config.numLayers) * C * T;
    const double head = 6 * C * static_cast<double>(config.vocabSize);
    return B * (T * perToken + static_cast<double>(responseTokens) * head);
}

double median(std::vector<double> values)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

SftBenchmarkResult runSftBenchmark(const SftBenchmarkCase &c)
{
    if (c.batchSize <= 0 || c.promptTokens <= 0 || c.responseTokens <= 0 || c.steps <= 0 || c.warmupSteps < 0)
        throw ConfigError("bench sft " + c.name + ": batch, prompt, response and steps must be positive");
    if (c.promptTokens + c.responseTokens > c.spec.contextLength)
        throw ConfigError("bench sft " + c.name + ": prompt + response exceed the context length");
    auto model = createModel(scratchModelConfig(c.spec), /*seed=*/1);

    // Random sequences of one fixed length, enough for every step without reuse.
    const int64_t total = c.steps + c.warmupSteps;
    torch::manual_seed(1);
    auto ids = torch::randint(0, c.spec.vocabSize, {total * c.batchSize, c.promptTokens + c.responseTokens}, torch::kInt64);
    auto acc = ids.accessor<int64_t, 2>();
    std::vector<SequencePair> train;
    for (int64_t row = 0; row < ids.size(0); ++row) {
        SequencePair pair;
        for (int64_t t = 0; t < c.promptTokens + c.responseTokens; ++t)
            (t < c.promptTokens ? pair.prompt : pair.response).push_back(acc[row][t]);
        train.push_back(std::move(pair));
    }

    TrainingOptions options;
    options.maxSteps = total;
    options.batchSize = c.batchSize;
    options.warmupSteps = 0;
    options.schedule = LrSchedule::Constant;
    options.evalEvery = 0;
    options.groupByLength = false;
    options.saveCheckpoints = false;
    const auto directory = std::filesystem::temp_directory_path() / ("plad-bench-sft-" + std::to_string(::getpid()));
    int64_t parameters = 0;
    for (const auto &p : model->parameters())
        parameters += p.numel();
    std::vector<double> stepSeconds;
    {
        SftTrainer trainer(model, std::move(train), {}, options, directory);
        const auto run = trainer.run();
        for (const auto &point : run.history)
            if (point.step > c.warmupSteps && point.tokensPerSecond > 0)
                stepSeconds.push_back(static_cast<double>(c.batchSize * (c.promptTokens + c.responseTokens)) / point.tokensPerSecond);
    }
    std::error_code ec;
    std::filesystem::remove_all(directory, ec);
    return sftBenchmarkResult(c, parameters, std::move(stepSeconds));
}

SftBenchmarkResult sftBenchmarkResult(const SftBenchmarkCase &c, int64_t parameters, std::vector<double> stepSeconds)
{
    SftBenchmarkResult result;
    result.parameters = parameters;
    result.stepSeconds = std::move(stepSeconds);
    result.flopsPerStep = sftStepFlops(c.spec, c.batchSize, c.promptTokens, c.responseTokens);
    result.medianStepSeconds = median(result.stepSeconds);
    if (result.medianStepSeconds > 0) {
        result.tokensPerSecond = static_cast<double>(c.batchSize * (c.promptTokens + c.responseTokens)) / result.medianStepSeconds;
        result.achievedGflops = result.flopsPerStep / result.medianStepSeconds / 1e9;
    }
    return result;
}

nlohmann::json pythonSpec(const SftBenchmarkCase &c, int threads)
{
    const ModelConfig config = scratchModelConfig(c.spec);
    return {{"style", c.spec.style},          {"vocab", config.vocabSize},
            {"hidden", config.hiddenSize},    {"layers", config.numLayers},
            {"heads", config.numHeads},       {"kv_heads", config.numKeyValueHeads},
            {"intermediate", config.intermediateSize}, {"context", config.maxPositions},
            {"batch", c.batchSize},           {"prompt", c.promptTokens},
            {"response", c.responseTokens},   {"steps", c.steps},
            {"warmup", c.warmupSteps},        {"threads", threads},
            {"seed", 1}};
}

} // namespace plad
