#include "eval/llmjudge.h"

#include "common/error.h"
#include "common/fileio.h"
#include "model/modelloader.h"
#include "model/sequencescorer.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"
#include "train/sftdata.h"

#include <cmath>
#include <optional>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace plad {

namespace fs = std::filesystem;

namespace {

std::string fillInstructions(const std::string &instructions, const JudgeCase &c, bool swapped)
{
    std::string out;
    for (size_t i = 0; i < instructions.size();) {
        if (instructions.compare(i, 8, "{prompt}") == 0) {
            out += c.prompt;
            i += 8;
        } else if (instructions.compare(i, 3, "{a}") == 0) {
            out += swapped ? c.second : c.first;
            i += 3;
        } else if (instructions.compare(i, 3, "{b}") == 0) {
            out += swapped ? c.first : c.second;
            i += 3;
        } else {
            out += instructions[i++];
        }
    }
    return out;
}

class LocalLlmJudge : public Judge
{
public:
    LocalLlmJudge(const LlmJudgeConfig &config, const std::string &device)
        : mConfig(config)
        , mTokenizer(Tokenizer::load(config.model))
    {
        LoadOptions options;
        options.device = device;
        mModel = loadModel(config.model, options).model;
        mModel->eval();
        // A chat model is asked in its own template, the question as the user's turn; its answer
        // then starts the assistant's turn ("A"), not a continuation of the text (" A").
        const auto own = PromptTemplate::ownOf(config.model);
        if (own && own->isChat())
            mChat = *own;
        mA = mTokenizer.encode(mChat ? "A" : " A");
        mB = mTokenizer.encode(mChat ? "B" : " B");
        if (mA.empty() || mB.empty() || mA == mB)
            throw Error("labeling.llm.model: the judge's tokenizer cannot tell \" A\" from \" B\"");
    }

    std::string name() const override { return "judge:llm:" + mConfig.model.filename().string(); }

    std::vector<JudgeVerdict> judge(const std::vector<JudgeCase> &cases, JobContext *) override
    {
        const int64_t context = mModel->config().maxPositions;
        std::vector<ScoreRequest> requests;
        for (const auto &c : cases)
            for (const bool swapped : {false, true}) {
                const std::string question = fillInstructions(mConfig.instructions, c, swapped);
                const auto room = static_cast<size_t>(std::max<int64_t>(1, context - 4));
                std::vector<int64_t> ids;
                if (mChat) {
                    EncodingLimits limits;
                    limits.contextLength = context;
                    limits.maxPromptTokens = static_cast<int64_t>(room);
                    limits.promptKeep = PromptKeep::End;
                    ids = encodePromptWithin(question, mTokenizer, *mChat, limits, 4);
                } else {
                    ids = mTokenizer.encode(question);
                    if (ids.size() > room) // keep the end: the answer slot follows the question's last words
                        ids.erase(ids.begin(), ids.end() - static_cast<long>(room));
                }
                requests.push_back({ids, mA});
                requests.push_back({ids, mB});
            }
        const auto scores = scoreSequences(*mModel, requests, 16);
        std::vector<JudgeVerdict> out;
        for (size_t i = 0; i < cases.size(); ++i) {
            auto shareOfA = [&](size_t order) {
                const double a = scores[4 * i + 2 * order].sumLogprob, b = scores[4 * i + 2 * order + 1].sumLogprob;
                return 1.0 / (1.0 + std::exp(b - a));
            };
            out.push_back(combineSwapped(shareOfA(0), 1.0 - shareOfA(1)));
        }
        return out;
    }

private:
    LlmJudgeConfig mConfig;
    Tokenizer mTokenizer;
    CausalLM mModel;
    std::optional<PromptTemplate> mChat;
    std::vector<int64_t> mA, mB;
};

class HttpLlmJudge : public Judge
{
public:
    explicit HttpLlmJudge(const LlmJudgeConfig &config)
        : mConfig(config)
    {}

    std::string name() const override { return "judge:llm:" + mConfig.endpoint.model; }

    std::vector<JudgeVerdict> judge(const std::vector<JudgeCase> &cases, JobContext *context) override
    {
        std::vector<std::string> prompts;
        for (const auto &c : cases)
            for (const bool swapped : {false, true})
                prompts.push_back(fillInstructions(mConfig.instructions, c, swapped));
        CompletionSettings settings;
        settings.temperature = 0;
        settings.maxTokens = 4;
        std::vector<double> firstShown(prompts.size(), 0.5); // share of "A" in each answer; 0.5 = no answer
        std::string lastError;
        requestCompletions(
            mConfig.endpoint, settings, prompts,
            [&](const CompletionResult &r) {
                if (!r.error.empty()) {
                    lastError = r.error;
                    return;
                }
                const auto pos = r.text.find_first_of("AB");
                if (pos != std::string::npos)
                    firstShown[r.index] = r.text[pos] == 'A' ? 1.0 : 0.0;
            },
            context);
        if (context && context->isCancelled())
            return {}; // unanswered requests are not ties
        if (!lastError.empty())
            throw Error("the LLM judge at " + mConfig.endpoint.baseUrl + " failed: " + lastError);
        std::vector<JudgeVerdict> out;
        for (size_t i = 0; i < cases.size(); ++i)
            out.push_back(combineSwapped(firstShown[2 * i], 1.0 - firstShown[2 * i + 1]));
        return out;
    }

private:
    LlmJudgeConfig mConfig;
};

} // namespace

LlmJudgeConfig LlmJudgeConfig::fromConfig(const ConfigReader &llm)
{
    LlmJudgeConfig config;
    config.type = parseEnum<JudgeBackend>(judgeBackendNames, llm.get<std::string>("type", "local"), llm.where("type"));
    llm.read("instructions", config.instructions);
    switch (config.type) {
    case JudgeBackend::Local:
        llm.allowOnly({"type", "model", "instructions"});
        config.model = llm.path("model", true);
        break;
    case JudgeBackend::Http:
        llm.allowOnly({"type", "base_url", "model", "api_key_env", "chat", "concurrency", "timeout_seconds", "max_retries",
                       "backoff_seconds", "instructions"});
        config.endpoint = OpenAiEndpoint::fromConfig(llm);
        break;
    }
    for (const char *slot : {"{prompt}", "{a}", "{b}"})
        if (config.instructions.find(slot) == std::string::npos)
            llm.fail("instructions", std::string("must contain ") + slot);
    return config;
}

LlmJudgeConfig LlmJudgeConfig::fromJson(const nlohmann::json &doc, const std::string &location, const fs::path &baseDirectory)
{
    return fromConfig(ConfigReader(doc, location, baseDirectory));
}

nlohmann::json LlmJudgeConfig::toJson() const
{
    nlohmann::json doc = type == JudgeBackend::Local
                             ? nlohmann::json{{"model", absolutePathText(model)}}
                             : endpoint.toJson();
    doc["type"] = enumName<JudgeBackend>(judgeBackendNames, type);
    doc["instructions"] = instructions;
    return doc;
}

std::unique_ptr<Judge> makeLlmJudge(const LlmJudgeConfig &config, const std::string &device)
{
    switch (config.type) {
    case JudgeBackend::Local:
        return std::make_unique<LocalLlmJudge>(config, device);
    case JudgeBackend::Http:
        break;
    }
    return std::make_unique<HttpLlmJudge>(config);
}

} // namespace plad
