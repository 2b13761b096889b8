#include "plad/teachers.h"

#include "common/error.h"
#include "common/fileio.h"
#include "common/text.h"
#include "eval/rouge.h"
#include "model/generator.h"
#include "model/modelloader.h"
#include "model/sequencescorer.h"
#include "model/stoptokens.h"
#include "train/sftdata.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <unordered_map>

#include <torch/torch.h>

namespace plad {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

PromptTemplate templateFor(const fs::path &modelDir, const std::optional<PromptTemplate> &configured, const PromptTemplate &fallback)
{
    if (configured)
        return *configured;
    if (auto own = PromptTemplate::loadFrom(modelDir))
        return *own;
    return fallback;
}

/** A teacher that is a local checkpoint with its own tokenizer. */
class LocalTeacher : public TeacherSource
{
public:
    LocalTeacher(const TeacherConfig &config, const SideSampling &side, int64_t maxNewTokens, const PromptTemplate &fallback,
                 const EncodingLimits &limits, const std::string &device)
        : mDirectory(config.model)
        , mSide(side)
        , mMaxNewTokens(maxNewTokens)
        , mScore(config.scoreOutputs)
        , mTokenizer(Tokenizer::load(config.model))
        , mTemplate(templateFor(config.model, config.promptTemplate, fallback))
        , mLimits(limits)
    {
        LoadOptions options;
        options.device = device;
        mModel = loadModel(config.model, options).model;
        mModel->eval();
        if (mLimits.contextLength <= 0 || mLimits.contextLength > mModel->config().maxPositions)
            mLimits.contextLength = mModel->config().maxPositions;
    }

    std::string describe() const override { return "local model " + mDirectory.string(); }

    std::vector<std::vector<TeacherText>> generate(const std::vector<PromptRecord> &prompts, int64_t k, uint64_t seed,
                                                   JobContext *context) override
    {
        std::vector<std::vector<int64_t>> encoded;
        for (const auto &p : prompts)
            encoded.push_back(encodePromptWithin(p.prompt, mTokenizer, mTemplate, mLimits, mMaxNewTokens));
        SamplingOptions sampling = mSide.sampling;
        sampling.seed += seed;
        const auto samples = sampleLocal(*mModel, mTokenizer, encoded, sampling, mMaxNewTokens, k, context);
        std::vector<std::vector<TeacherText>> out(samples.size());
        std::vector<ScoreRequest> requests;
        for (size_t i = 0; i < samples.size(); ++i)
            for (const auto &s : samples[i]) {
                out[i].push_back({s.text, std::nullopt, s.finishReason, s.seconds, {}});
                if (mScore && !s.ids.empty())
                    requests.push_back({encoded[i], s.ids});
            }
        if (mScore && !requests.empty()) {
            const auto scores = scoreSequences(*mModel, requests, 16);
            size_t next = 0;
            for (size_t i = 0; i < samples.size(); ++i)
                for (size_t j = 0; j < samples[i].size(); ++j)
                    if (!samples[i][j].ids.empty()) {
                        const auto &lp = scores[next++].tokenLogprobs;
                        out[i][j].logprobs = std::vector<float>(lp.begin(), lp.end());
                    }
        }
        return out;
    }

private:
    fs::path mDirectory;
    SideSampling mSide;
    int64_t mMaxNewTokens;
    bool mScore;
    Tokenizer mTokenizer;
    PromptTemplate mTemplate;
    EncodingLimits mLimits;
    CausalLM mModel;
};

/** A teacher behind an OpenAI-compatible endpoint. */
class HttpTeacher : public TeacherSource
{
public:
    HttpTeacher(const TeacherConfig &config, const SideSampling &side, int64_t maxNewTokens, const PromptTemplate &fallback)
        : mEndpoint(config.endpoint)
        , mTemplate(config.promptTemplate.value_or(fallback))
    {
        mSettings.maxTokens = maxNewTokens;
        mSettings.temperature = side.sampling.greedy ? 0.0 : side.sampling.temperature;
        mSettings.topP = side.sampling.greedy ? 1.0 : side.sampling.topP;
        mBaseSeed = side.sampling.seed;
        mGreedy = side.sampling.greedy;
    }

    std::string describe() const override { return "http model \"" + mEndpoint.model + "\" at " + mEndpoint.baseUrl; }

    std::vector<std::vector<TeacherText>> generate(const std::vector<PromptRecord> &prompts, int64_t k, uint64_t seed,
                                                   JobContext *context) override
    {
        std::vector<std::vector<TeacherText>> out(prompts.size(), std::vector<TeacherText>(static_cast<size_t>(k)));
        for (int64_t s = 0; s < k; ++s) {
            std::vector<std::string> texts;
            for (const auto &p : prompts)
                texts.push_back(mEndpoint.chat ? p.prompt : mTemplate.render(p.prompt));
            CompletionSettings settings = mSettings;
            if (!mGreedy)
                settings.seed = mBaseSeed + seed + static_cast<uint64_t>(s);
            for (auto &row : out)
                row[static_cast<size_t>(s)].error = "not requested (cancelled)";
            requestCompletions(
                mEndpoint, settings, texts,
                [&](const CompletionResult &r) {
                    auto &t = out[r.index][static_cast<size_t>(s)];
                    t.text = trimmed(r.text);
                    t.finishReason = r.finishReason;
                    t.seconds = r.seconds;
                    t.error = r.error;
                },
                context);
        }
        return out;
    }

private:
    OpenAiEndpoint mEndpoint;
    PromptTemplate mTemplate;
    CompletionSettings mSettings;
    uint64_t mBaseSeed = 0;
    bool mGreedy = false;
};

/** Teacher outputs generated elsewhere: JSONL lines {id_field: ID, output_field: TEXT or [TEXT, ...]}. */
class JsonlTeacher : public TeacherSource
{
public:
    explicit JsonlTeacher(const TeacherConfig &config)
        : mFile(config.file)
    {
        std::ifstream in(mFile);
        if (!in)
            throw Error("teacher.file: cannot read " + mFile.string() + " (no such file or not readable)");
        std::string line;
        for (int64_t number = 1; std::getline(in, line); ++number) {
            if (trimmed(line).empty())
                continue;
            const std::string where = mFile.string() + ":" + std::to_string(number) + ": ";
            nlohmann::json doc;
            try {
                doc = nlohmann::json::parse(line);
            } catch (const nlohmann::json::parse_error &e) {
                throw Error(where + "not valid JSON (" + e.what() + ")");
            }
            if (!doc.is_object() || !doc.contains(config.idField))
                throw Error(where + "missing field \"" + config.idField + "\"");
            const auto &idValue = doc[config.idField];
            const std::string id = idValue.is_string() ? idValue.get<std::string>() : idValue.dump();
            if (!doc.contains(config.outputField))
                throw Error(where + "missing field \"" + config.outputField + "\"");
            const auto &value = doc[config.outputField];
            auto &texts = mOutputs[id];
            if (value.is_string()) {
                texts.push_back(value.get<std::string>());
            } else if (value.is_array()) {
                for (const auto &v : value) {
                    if (!v.is_string())
                        throw Error(where + "\"" + config.outputField + "\" must hold strings");
                    texts.push_back(v.get<std::string>());
                }
            } else {
                throw Error(where + "\"" + config.outputField + "\" must be a string or an array of strings");
            }
        }
    }

    std::string describe() const override { return "jsonl " + mFile.string(); }

    void checkCoverage(const std::vector<PromptRecord> &prompts, int64_t k) const override
    {
        std::vector<std::string> missing, short_;
        for (const auto &p : prompts) {
            const auto it = mOutputs.find(p.id);
            if (it == mOutputs.end())
                missing.push_back(p.id);
            else if (static_cast<int64_t>(it->second.size()) < k)
                short_.push_back(p.id);
        }
        auto firstFew = [](const std::vector<std::string> &ids) {
            std::string text;
            for (size_t i = 0; i < ids.size() && i < 5; ++i)
                text += (i ? ", " : "") + ids[i];
            return text + (ids.size() > 5 ? ", ..." : "");
        };
        if (!missing.empty())
            throw Error("teacher file " + mFile.string() + " has no output for " + std::to_string(missing.size()) + " of the "
                        + std::to_string(prompts.size()) + " training prompts (first missing ids: " + firstFew(missing)
                        + "); add them, or lower pairs.prompts");
        if (!short_.empty())
            throw Error("teacher file " + mFile.string() + " has fewer than pairs.per_prompt = " + std::to_string(k) + " outputs for "
                        + std::to_string(short_.size()) + " prompts (first: " + firstFew(short_) + ")");
    }

    std::vector<std::vector<TeacherText>> generate(const std::vector<PromptRecord> &prompts, int64_t k, uint64_t, JobContext *) override
    {
        checkCoverage(prompts, k);
        std::vector<std::vector<TeacherText>> out;
        for (const auto &p : prompts) {
            auto &row = out.emplace_back();
            const auto &texts = mOutputs.at(p.id);
            for (int64_t s = 0; s < k; ++s)
                row.push_back({trimmed(texts[static_cast<size_t>(s)]), std::nullopt, "file", 0.0, {}});
        }
        return out;
    }

private:
    fs::path mFile;
    std::unordered_map<std::string, std::vector<std::string>> mOutputs;
};

class RougeJudge : public Judge
{
public:
    std::string name() const override { return "judge:rouge-l"; }
    std::vector<JudgeVerdict> judge(const std::vector<JudgeCase> &cases, JobContext *) override
    {
        std::vector<JudgeVerdict> out;
        for (const auto &c : cases) {
            JudgeVerdict v;
            v.firstScore = mScorer.score(c.reference, c.first).rougeL.f1;
            v.secondScore = mScorer.score(c.reference, c.second).rougeL.f1;
            const double diff = v.firstScore - v.secondScore;
            v.preferred = std::abs(diff) <= 1e-12 ? 0 : (diff > 0 ? 1 : -1);
            out.push_back(v);
        }
        return out;
    }

private:
    RougeScorer mScorer{false};
};

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
        mA = mTokenizer.encode(" A");
        mB = mTokenizer.encode(" B");
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
                auto ids = mTokenizer.encode(fillInstructions(mConfig.instructions, c, swapped));
                const auto room = static_cast<size_t>(std::max<int64_t>(1, context - 4));
                if (ids.size() > room) // keep the end: the answer slot follows the question's last words
                    ids.erase(ids.begin(), ids.end() - static_cast<long>(room));
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

std::vector<std::vector<LocalSample>> sampleLocal(CausalLMImpl &model, const Tokenizer &tokenizer,
                                                  const std::vector<std::vector<int64_t>> &prompts, const SamplingOptions &sampling,
                                                  int64_t maxNewTokens, int64_t k, JobContext *context)
{
    std::vector<std::vector<LocalSample>> out(prompts.size());
    if (prompts.empty())
        return out;
    GenerationOptions options;
    options.maxNewTokens = maxNewTokens;
    options.sampling = sampling;
    options.eosTokenIds = stopTokenIds(model.config(), tokenizer);
    torch::NoGradGuard noGrad;
    const bool wasTraining = model.is_training();
    model.eval();
    for (int64_t s = 0; s < k; ++s) {
        options.sampling.seed = sampling.seed + static_cast<uint64_t>(s);
        const auto start = Clock::now();
        const auto results = plad::generate(model, prompts, options, context);
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(prompts.size());
        if (context && context->isCancelled()) {
            if (wasTraining)
                model.train();
            return {};
        }
        for (size_t i = 0; i < results.size(); ++i) {
            LocalSample sample;
            sample.ids = results[i].ids;
            std::vector<int64_t> textIds = sample.ids;
            if (!textIds.empty() && std::find(options.eosTokenIds.begin(), options.eosTokenIds.end(), textIds.back()) != options.eosTokenIds.end())
                textIds.pop_back();
            sample.text = trimmed(tokenizer.decode(textIds, true));
            sample.finishReason = toString(results[i].finishReason);
            sample.seconds = seconds;
            out[i].push_back(std::move(sample));
        }
    }
    if (wasTraining)
        model.train();
    return out;
}

std::unique_ptr<TeacherSource> makeTeacher(const TeacherConfig &config, const SideSampling &side, int64_t maxNewTokens,
                                           const PromptTemplate &fallbackTemplate, const EncodingLimits &limits, const std::string &device)
{
    if (config.type == "local")
        return std::make_unique<LocalTeacher>(config, side, maxNewTokens, fallbackTemplate, limits, device);
    if (config.type == "http")
        return std::make_unique<HttpTeacher>(config, side, maxNewTokens, fallbackTemplate);
    if (config.type == "jsonl")
        return std::make_unique<JsonlTeacher>(config);
    throw ConfigError("teacher.type: unknown type \"" + config.type + "\"");
}

std::unique_ptr<Judge> makeRougeJudge()
{
    return std::make_unique<RougeJudge>();
}

std::unique_ptr<Judge> makeLlmJudge(const LlmJudgeConfig &config, const std::string &device)
{
    if (config.type == "local")
        return std::make_unique<LocalLlmJudge>(config, device);
    return std::make_unique<HttpLlmJudge>(config);
}

JudgeVerdict combineSwapped(double firstWinsInOrder1, double firstWinsInOrder2)
{
    JudgeVerdict v;
    v.firstScore = (firstWinsInOrder1 + firstWinsInOrder2) / 2;
    v.secondScore = 1.0 - v.firstScore;
    if (firstWinsInOrder1 > 0.5 && firstWinsInOrder2 > 0.5)
        v.preferred = 1;
    else if (firstWinsInOrder1 < 0.5 && firstWinsInOrder2 < 0.5)
        v.preferred = -1;
    return v;
}

} // namespace plad
