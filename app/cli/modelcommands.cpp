// plad model info|logits|score and plad generate.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "common/error.h"
#include "common/fileio.h"
#include "model/languagemodel.h"
#include "serve/textgenerator.h"

#include <iostream>
#include <unistd.h>

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

namespace {

struct GenerateArgs
{
    ModelArgs model;
    std::string ids, prompt, messagesFile, templateText, system;
    bool raw = false;
    int64_t maxNewTokens = 0;
    bool greedy = false;
    double temperature = 1.0;
    int64_t topK = 0;
    double topP = 1.0;
    uint64_t seed = 0;
    double repetitionPenalty = 1.0;
    bool ignoreEos = false;
    std::vector<std::string> stops;
    std::vector<std::string> stopTexts;
};

struct SamplingFlags
{
    CLI::Option *greedy, *temperature, *topK, *topP, *seed, *penalty;
};

SamplingFlags addSamplingArgs(CLI::App *cmd, GenerateArgs &a)
{
    SamplingFlags f;
    f.greedy = cmd->add_flag("--greedy", a.greedy, "pick the most likely token each step");
    f.temperature = cmd->add_option("--temperature", a.temperature, "sample with this temperature (> 0)");
    f.topK = cmd->add_option("--top-k", a.topK, "sample among the K most likely tokens (0 = off)");
    f.topP = cmd->add_option("--top-p", a.topP, "sample from the smallest set with this total probability");
    f.seed = cmd->add_option("--seed", a.seed, "random seed; the same seed gives the same sample");
    for (auto *option : {f.temperature, f.topK, f.topP, f.seed})
        option->excludes(f.greedy);
    f.penalty = cmd->add_option("--repetition-penalty", a.repetitionPenalty, "penalise tokens already present (> 1)");
    cmd->add_option("--max-new-tokens", a.maxNewTokens, "tokens to generate at most (default: generation_config.json's max_new_tokens, else 256; 32 with --ids)");
    cmd->add_option("--stop-text", a.stopTexts, "end the output before this text (repeatable)");
    cmd->add_option("--template", a.templateText,
                    "prompt format instead of the model's own: a preset (plain, tldr, chatml, llama2, alpaca, chat), a format holding "
                    "{prompt}, a .jinja chat template or a JSON object");
    cmd->add_option("--system", a.system, "system prompt (when the conversation has none)");
    return f;
}

/** Sampling from the options given; unset when none is (generation_config.json's defaults then apply). */
std::optional<SamplingOptions> samplingFrom(const GenerateArgs &a, const SamplingFlags &f, const GenerationDefaults &defaults)
{
    const bool sampled = f.temperature->count() || f.topK->count() || f.topP->count() || f.seed->count();
    if (!sampled && !f.greedy->count() && !f.penalty->count())
        return std::nullopt;
    SamplingOptions s = defaults.sampling(); // what the options leave unsaid comes from the model
    if (f.greedy->count())
        s.greedy = true;
    if (sampled) {
        s.greedy = false;
        if (f.temperature->count() || defaults.temperature.value_or(0) <= 0)
            s.temperature = a.temperature;
        if (f.topK->count() || !defaults.doSample.value_or(false))
            s.topK = a.topK;
        if (f.topP->count() || !defaults.doSample.value_or(false))
            s.topP = a.topP;
        s.seed = a.seed;
    }
    if (f.penalty->count())
        s.repetitionPenalty = a.repetitionPenalty;
    return s;
}

std::optional<PromptTemplate> formatFrom(const GenerateArgs &a, const std::string &directory)
{
    if (a.templateText.empty() && a.system.empty())
        return std::nullopt;
    PromptTemplate t = a.templateText.empty() ? PromptTemplate::resolve(std::nullopt, directory) : PromptTemplate::fromOption(a.templateText, directory, "--template");
    if (!a.system.empty())
        t.system = a.system;
    return t;
}

} // namespace

void addGenerateCommand(CLI::App &app)
{
    auto args = std::make_shared<GenerateArgs>();
    auto *cmd = app.add_subcommand("generate", "Generate from a prompt, a conversation or token ids, through the model's prompt format "
                                               "(greedy unless generation_config.json or the sampling options say otherwise)");
    addModelArgs(cmd, args->model);
    auto *ids = cmd->add_option("--ids", args->ids, "comma-separated prompt token ids, used as they are");
    auto *prompt = cmd->add_option("--prompt", args->prompt, "prompt text, rendered through the model's format (its chat template or prompt_template.json)");
    auto *messages = cmd->add_option("--messages", args->messagesFile, "a JSON file with a list of {\"role\", \"content\"} messages");
    cmd->add_flag("--raw", args->raw, "with --prompt: tokenize the text as it is, without the model's format");
    ids->excludes(prompt)->excludes(messages);
    prompt->excludes(messages);
    const auto flags = addSamplingArgs(cmd, *args);
    cmd->add_flag("--ignore-eos", args->ignoreEos, "keep generating after the model's end tokens");
    cmd->add_option("--stop", args->stops, "stop after this comma-separated id sequence (repeatable; with --ids)");
    cmd->callback([args, ids, prompt, messages, flags] {
        if (!ids->count() && !prompt->count() && !messages->count())
            throw UsageError("give the prompt: --prompt TEXT, --messages FILE.json or --ids 1,2,3");
        if (ids->count()) {
            // Token ids in, token ids out, as the model's own eos_token_id decides.
            auto lm = load(args->model);
            GenerationOptions options;
            options.maxNewTokens = args->maxNewTokens > 0 ? args->maxNewTokens : 32;
            options.sampling = samplingFrom(*args, flags, lm.config().generation).value_or(SamplingOptions{});
            if (!args->ignoreEos)
                options.eosTokenIds = lm.config().eosTokenIds;
            for (const auto &stop : args->stops)
                options.stopSequences.push_back(parseIdList(stop, "--stop"));
            const auto result = lm.generate({parseIdList(args->ids, "--ids")}, options).front();
            printJson({{"ids", result.ids}, {"finish_reason", toString(result.finishReason)}});
            return;
        }
        TextGenerator generator(args->model.directory, args->model.device, formatFrom(*args, args->model.directory));
        TextRequest request;
        request.prompt = args->prompt;
        request.raw = args->raw;
        if (messages->count()) {
            const auto doc = readJsonFile(args->messagesFile);
            if (!doc.is_array())
                throw FormatError(args->messagesFile + ": expected a JSON list of messages");
            request.messages = doc.dump();
        }
        request.maxNewTokens = args->maxNewTokens;
        request.sampling = samplingFrom(*args, flags, generator.config().generation);
        request.stops = args->stopTexts;
        request.ignoreEos = args->ignoreEos;
        const auto r = generator.generate(request);
        printJson({{"text", r.text},
                   {"ids", r.ids},
                   {"finish_reason", r.finishReason},
                   {"logprobs", r.logprobs},
                   {"prompt", r.renderedPrompt},
                   {"prompt_tokens", r.promptIds.size()},
                   {"completion_tokens", r.ids.size()},
                   {"seconds", r.seconds}});
    });
}

void addChatCommand(CLI::App &app)
{
    auto args = std::make_shared<GenerateArgs>();
    auto *cmd = app.add_subcommand("chat", "Chat with a model in the terminal: multi-turn, through the model's chat template (or its "
                                           "prompt format); Ctrl-D leaves, /reset starts over");
    addModelArgs(cmd, args->model);
    const auto flags = addSamplingArgs(cmd, *args);
    cmd->callback([args, flags] {
        TextGenerator generator(args->model.directory, args->model.device, formatFrom(*args, args->model.directory));
        const bool terminal = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        const auto sampling = samplingFrom(*args, flags, generator.config().generation);
        std::cerr << "chatting with " << args->model.directory << " ("
                  << (generator.promptFormat().isChat() ? "its chat template" : "its prompt format \"" + generator.promptFormat().format + "\"")
                  << "); Ctrl-D leaves, /reset starts over\n";
        nlohmann::ordered_json conversation = nlohmann::ordered_json::array();
        for (;;) {
            if (terminal)
                std::cout << "> " << std::flush;
            std::string line;
            if (!std::getline(std::cin, line))
                break;
            if (line == "/reset") {
                conversation = nlohmann::ordered_json::array();
                std::cerr << "(a new conversation)\n";
                continue;
            }
            if (line.empty())
                continue;
            conversation.push_back({{"role", "user"}, {"content", line}});
            TextRequest request;
            request.messages = conversation.dump();
            request.maxNewTokens = args->maxNewTokens;
            request.sampling = sampling;
            request.stops = args->stopTexts;
            try {
                const auto r = generator.generate(request, [](const TextDelta &d) {
                    std::cout << d.text << std::flush;
                    return true;
                });
                std::cout << "\n" << std::flush;
                if (r.finishReason == "length")
                    std::cerr << "(stopped at " << r.ids.size() << " tokens; --max-new-tokens raises the limit)\n";
                conversation.push_back({{"role", "assistant"}, {"content", r.text}});
            } catch (const ConfigError &e) {
                conversation.erase(conversation.size() - 1);
                std::cerr << "error: " << e.what() << "\n";
            }
        }
        if (terminal)
            std::cout << "\n";
    });
}

} // namespace plad::cli
