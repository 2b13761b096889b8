// plad model info|logits|score and plad generate.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "common/error.h"
#include "model/languagemodel.h"

#include <memory>

namespace plad::cli {

namespace {

struct ModelArgs
{
    std::string directory;
    std::string device = "cpu";
    std::string dtype = "float32";
};

void addModelArgs(CLI::App *cmd, ModelArgs &args)
{
    cmd->add_option("DIR", args.directory, "Hugging Face model directory (config.json + model.safetensors)")->required();
    cmd->add_option("--device", args.device, "cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--dtype", args.dtype, "compute dtype: float32, float16 or bfloat16")->capture_default_str();
}

LanguageModel load(const ModelArgs &args)
{
    return LanguageModel::load(args.directory, args.device, args.dtype);
}

} // namespace

void addModelCommands(CLI::App &app)
{
    auto *model = app.add_subcommand("model", "Inspect and run a Hugging Face causal LM");
    model->require_subcommand(1);

    auto infoArgs = std::make_shared<ModelArgs>();
    auto *info = model->add_subcommand("info", "Print architecture, parameter count, dtype, vocabulary and context length");
    addModelArgs(info, *infoArgs);
    info->callback([infoArgs] {
        const auto summary = load(*infoArgs).summary();
        nlohmann::json out = {
            {"architecture", summary.modelType},
            {"parameters", summary.parameterCount},
            {"dtype", summary.computeDtype},
            {"stored_dtypes", summary.storedDtypes},
            {"vocab_size", summary.vocabSize},
            {"context_length", summary.contextLength},
            {"layers", summary.layers},
            {"hidden_size", summary.hiddenSize},
            {"heads", summary.heads},
            {"kv_heads", summary.keyValueHeads},
            {"tied_embeddings", summary.tiedEmbeddings},
            {"device", summary.device},
        };
        if (!summary.unexpectedTensors.empty())
            out["unused_tensors"] = summary.unexpectedTensors;
        printJson(out);
    });

    auto logitsArgs = std::make_shared<ModelArgs>();
    auto ids = std::make_shared<std::string>();
    auto *logits = model->add_subcommand("logits", "Print the logits at every input position as JSON");
    addModelArgs(logits, *logitsArgs);
    logits->add_option("--ids", *ids, "comma-separated token ids")->required();
    logits->callback([logitsArgs, ids] {
        auto lm = load(*logitsArgs);
        nlohmann::json out;
        out["logits"] = lm.logits(parseIdList(*ids, "--ids"));
        printJson(out);
    });

    auto scoreArgs = std::make_shared<ModelArgs>();
    auto promptIds = std::make_shared<std::string>();
    auto completionIds = std::make_shared<std::string>();
    auto *score = model->add_subcommand("score", "Print log p(completion | prompt) per token, summed and length-normalised");
    addModelArgs(score, *scoreArgs);
    score->add_option("--prompt-ids", *promptIds, "comma-separated prompt token ids")->required();
    score->add_option("--completion-ids", *completionIds, "comma-separated completion token ids")->required();
    score->callback([scoreArgs, promptIds, completionIds] {
        auto lm = load(*scoreArgs);
        ScoreRequest request{parseIdList(*promptIds, "--prompt-ids"), parseIdList(*completionIds, "--completion-ids")};
        const auto result = lm.score({request}).front();
        printJson({{"token_logprobs", result.tokenLogprobs}, {"sum_logprob", result.sumLogprob}, {"mean_logprob", result.meanLogprob}});
    });
}

void addGenerateCommand(CLI::App &app)
{
    struct GenerateArgs
    {
        ModelArgs model;
        std::string ids;
        int64_t maxNewTokens = 32;
        bool greedy = false;
        double temperature = 1.0;
        int64_t topK = 0;
        double topP = 1.0;
        uint64_t seed = 0;
        double repetitionPenalty = 1.0;
        bool ignoreEos = false;
        std::vector<std::string> stops;
    };
    auto args = std::make_shared<GenerateArgs>();
    auto *cmd = app.add_subcommand("generate", "Generate a continuation of token ids (greedy unless sampling options are given)");
    addModelArgs(cmd, args->model);
    cmd->add_option("--ids", args->ids, "comma-separated prompt token ids")->required();
    cmd->add_option("--max-new-tokens", args->maxNewTokens, "tokens to generate at most")->capture_default_str();
    auto *greedy = cmd->add_flag("--greedy", args->greedy, "pick the most likely token each step (the default)");
    auto *temperature = cmd->add_option("--temperature", args->temperature, "sample with this temperature (> 0)");
    auto *topK = cmd->add_option("--top-k", args->topK, "sample among the K most likely tokens (0 = off)");
    auto *topP = cmd->add_option("--top-p", args->topP, "sample from the smallest set with this total probability");
    auto *seed = cmd->add_option("--seed", args->seed, "random seed; the same seed gives the same sample");
    for (auto *option : {temperature, topK, topP, seed})
        option->excludes(greedy);
    cmd->add_option("--repetition-penalty", args->repetitionPenalty, "penalise tokens already present (> 1)");
    cmd->add_flag("--ignore-eos", args->ignoreEos, "keep generating after the model's EOS token");
    cmd->add_option("--stop", args->stops, "stop after this comma-separated id sequence (repeatable)");
    cmd->callback([args, temperature, topK, topP, seed] {
        auto lm = load(args->model);
        GenerationOptions options;
        options.maxNewTokens = args->maxNewTokens;
        options.sampling.greedy = !(temperature->count() || topK->count() || topP->count() || seed->count());
        options.sampling.temperature = args->temperature;
        options.sampling.topK = args->topK;
        options.sampling.topP = args->topP;
        options.sampling.seed = args->seed;
        options.sampling.repetitionPenalty = args->repetitionPenalty;
        if (!args->ignoreEos)
            options.eosTokenIds = lm.config().eosTokenIds;
        for (const auto &stop : args->stops)
            options.stopSequences.push_back(parseIdList(stop, "--stop"));
        const auto result = lm.generate({parseIdList(args->ids, "--ids")}, options).front();
        printJson({{"ids", result.ids}, {"finish_reason", toString(result.finishReason)}});
    });
}

} // namespace plad::cli
