#include "bench/generationbenchmark.h"

#include "common/error.h"
#include "data/dataset.h"
#include "model/generator.h"
#include "model/modelloader.h"
#include "model/stoptokens.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"
#include "train/sftdata.h"

#include <chrono>

#include <torch/torch.h>

namespace plad {

namespace fs = std::filesystem;

namespace {

double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

GenerationBenchmarkCase demoTeacherGenerationCase(const fs::path &demo, int64_t prompts)
{
    GenerationBenchmarkCase c;
    c.name = "demo-teacher";
    c.modelDirectory = demo / "teacher";
    const fs::path testFile = demo / "data" / "test.jsonl.lz4";
    if (!fs::exists(c.modelDirectory / "config.json") || !fs::exists(testFile))
        throw Error("bench generate demo-teacher: the embedded demo is not at " + demo.string() + " (its teacher and data/test.jsonl.lz4)");
    const Tokenizer tokenizer = Tokenizer::load(c.modelDirectory);
    const PromptTemplate promptTemplate = PromptTemplate::resolve(std::nullopt, c.modelDirectory);
    const ModelConfig config = loadModelConfig(c.modelDirectory / "config.json");
    ImportOptions import;
    import.fields = {"prompt", "reference", "id", "group"};
    auto records = importDataset(testFile, import).records;
    if (prompts > 0 && static_cast<size_t>(prompts) < records.size())
        records.resize(static_cast<size_t>(prompts));
    EncodingLimits limits;
    limits.maxPromptTokens = 224; // as the demo evaluates
    limits.contextLength = config.maxPositions;
    int64_t tokens = 0;
    for (const auto &r : records) {
        c.prompts.push_back(encodePromptWithin(r.input(), tokenizer, promptTemplate, limits, c.maxNewTokens));
        tokens += static_cast<int64_t>(c.prompts.back().size());
    }
    c.eosTokenIds = stopTokenIds(config, tokenizer);
    c.description = "demo teacher (" + std::to_string(config.numLayers) + " layers, " + std::to_string(config.hiddenSize) + " channels, "
                    + std::to_string(config.parameterCount() / 1000) + "k parameters), first " + std::to_string(c.prompts.size())
                    + " test prompts (" + std::to_string(tokens / std::max<int64_t>(1, static_cast<int64_t>(c.prompts.size())))
                    + " tokens on average), greedy, up to " + std::to_string(c.maxNewTokens) + " new tokens";
    return c;
}

GenerationBenchmarkCase gpt2SmallGenerationCase(const fs::path &scratch)
{
    GenerationBenchmarkCase c;
    c.name = "gpt2-small";
    c.modelDirectory = scratch / "gpt2-small-random";
    const nlohmann::json doc = {
        {"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"vocab_size", 50257}, {"n_positions", 1024},
        {"n_embd", 768}, {"n_layer", 12}, {"n_head", 12}, {"activation_function", "gelu_new"},
        {"layer_norm_epsilon", 1e-5}, {"tie_word_embeddings", true}, {"bos_token_id", 50256}, {"eos_token_id", 50256},
    };
    const ModelConfig config = parseModelConfig(doc, "GPT-2 small benchmark config");
    if (!fs::exists(c.modelDirectory / "model.safetensors")) {
        auto model = createModel(config, /*seed=*/1);
        saveModel(*model, c.modelDirectory);
    }
    for (int64_t b = 0; b < 8; ++b) {
        auto &prompt = c.prompts.emplace_back();
        for (int64_t t = 0; t < 32; ++t)
            prompt.push_back((b * 7919 + t * 104729) % 50000);
    }
    c.maxNewTokens = 128;
    c.batchSizes = {1, 8};
    c.description = "GPT-2 small shape (12 layers, 768 channels, 124M parameters), random weights, 8 prompts of 32 tokens, "
                    "128 new tokens each (no EOS)";
    return c;
}

double generationFlops(const ModelConfig &config, const std::vector<int64_t> &promptLengths, const std::vector<int64_t> &generated)
{
    const double C = static_cast<double>(config.hiddenSize), I = static_cast<double>(config.intermediateSize);
    const double HD = static_cast<double>(config.numHeads * config.headDim), KD = static_cast<double>(config.numKeyValueHeads * config.headDim);
    const double L = static_cast<double>(config.numLayers);
    const double mlp = config.modelType == "gpt2" ? 2 * C * I : 3 * C * I;
    const double perToken = 2 * L * (C * HD + 2 * C * KD + HD * C + mlp); // the weight matmuls
    const double attention = 4 * L * HD;                                  // q.k and p.v per key attended to
    const double head = 2 * C * static_cast<double>(config.vocabSize);
    double flops = 0;
    for (size_t i = 0; i < promptLengths.size(); ++i) {
        const double P = static_cast<double>(promptLengths[i]);
        const double G = static_cast<double>(generated.at(i));
        flops += P * perToken + attention * P * (P + 1) / 2 + head; // prefill: the head only on the last position
        if (G > 1) {
            // Tokens 1..G-1 each need a pass over the previous one, at positions P..P+G-2.
            const double passes = G - 1;
            flops += passes * (perToken + head) + attention * (passes * (P + 1) + passes * (passes - 1) / 2);
        }
    }
    return flops;
}

double measureMatmulGflops(int64_t n)
{
    c10::InferenceMode inference;
    auto a = torch::randn({n, n});
    auto b = torch::randn({n, n});
    torch::mm(a, b); // warm-up: thread pool, BLAS buffers
    double best = 0;
    for (int window = 0; window < 3; ++window) {
        int runs = 0;
        const auto start = std::chrono::steady_clock::now();
        do {
            torch::mm(a, b);
            ++runs;
        } while (secondsSince(start) < 0.4);
        best = std::max(best, 2.0 * static_cast<double>(n) * n * n * runs / secondsSince(start) / 1e9);
    }
    return best;
}

GenerationBenchmarkRun runGenerationBenchmark(const GenerationBenchmarkCase &c, int64_t batchSize, int repeats)
{
    if (c.prompts.empty() || batchSize <= 0)
        throw ConfigError("bench generate " + c.name + ": needs prompts and a positive batch size");
    LoadOptions load;
    load.dtype = parseDtype(c.dtype);
    auto loaded = loadModel(c.modelDirectory, load);
    auto &model = *loaded.model;
    model.eval();

    GenerationOptions options;
    options.maxNewTokens = c.maxNewTokens;
    options.eosTokenIds = c.eosTokenIds;
    options.batchSize = batchSize;
    options.continuousBatching = c.continuousBatching;
    {
        GenerationOptions warm = options;
        warm.maxNewTokens = 2;
        const std::vector<std::vector<int64_t>> first(c.prompts.begin(), c.prompts.begin() + std::min<long>(batchSize, static_cast<long>(c.prompts.size())));
        generate(model, first, warm);
    }
    GenerationBenchmarkRun run;
    run.batchSize = batchSize;
    std::vector<GenerationResult> results;
    for (int r = 0; r < std::max(1, repeats); ++r) {
        GenerationProfile profile;
        const auto start = std::chrono::steady_clock::now();
        results = generate(model, c.prompts, options, nullptr, &profile);
        run.allSeconds.push_back(secondsSince(start));
        if (r == 0 || run.allSeconds.back() < run.seconds) {
            run.seconds = run.allSeconds.back();
            run.profile = profile;
        }
    }
    std::vector<int64_t> promptLengths, generated;
    for (size_t i = 0; i < results.size(); ++i) {
        promptLengths.push_back(static_cast<int64_t>(c.prompts[i].size()));
        generated.push_back(static_cast<int64_t>(results[i].ids.size()));
        run.newTokens += generated.back();
        run.outputs.push_back(results[i].ids);
    }
    run.prompts = static_cast<int64_t>(c.prompts.size());
    run.promptsPerSecond = static_cast<double>(run.prompts) / run.seconds;
    run.tokensPerSecond = static_cast<double>(run.newTokens) / run.seconds;
    run.modelGflops = generationFlops(model.config(), promptLengths, generated) / 1e9;
    run.achievedGflops = run.modelGflops / run.seconds;
    return run;
}

int64_t identicalOutputs(const std::vector<std::vector<int64_t>> &a, const std::vector<std::vector<int64_t>> &b)
{
    int64_t same = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i)
        same += a[i] == b[i] ? 1 : 0;
    return same;
}

} // namespace plad
