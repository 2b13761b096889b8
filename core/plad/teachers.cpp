#include "plad/teachers.h"

#include "common/error.h"
#include "common/fileio.h"
#include "common/seeds.h"
#include "common/text.h"
#include "model/batchsizing.h"
#include "model/modelloader.h"
#include "model/sampling.h"
#include "model/sequencescorer.h"
#include "tokenizer/tokenizer.h"
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
    // A local teacher renders with its own format (docs/chat-templates.md); the student's is the fallback.
    return PromptTemplate::resolve(configured, modelDir, fallback);
}

/** A teacher that is a local checkpoint with its own tokenizer. */
class LocalTeacher : public TeacherSource
{
public:
    LocalTeacher(const TeacherConfig &config, const SideSampling &side, int64_t maxNewTokens, const PromptTemplate &fallback,
                 const EncodingLimits &limits, const std::string &device, int64_t batchRows)
        : mDirectory(config.model)
        , mSide(side)
        , mMaxNewTokens(maxNewTokens)
        , mBatchRows(batchRows)
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

    std::vector<std::vector<TeacherText>> generate(const std::vector<PromptRecord> &prompts, int64_t k, const std::vector<uint64_t> &promptSeeds,
                                                   JobContext *context, GenerationProfile *profile) override
    {
        std::vector<std::vector<int64_t>> encoded;
        for (const auto &p : prompts)
            encoded.push_back(encodePromptWithin(p.input(), mTokenizer, mTemplate, mLimits, mMaxNewTokens));
        LocalSampling draw;
        draw.sampling = mSide.sampling;
        draw.maxNewTokens = mMaxNewTokens;
        draw.samples = k;
        draw.batchSize = resolveGenerationRows(mBatchRows, mModel->config(),
                                               std::min(mLimits.contextLength, mLimits.maxPromptTokens + mMaxNewTokens));
        draw.logprobs = mScore; // the teacher's own log-probs come with its tokens: no second pass
        for (const uint64_t seed : promptSeeds)
            draw.promptSeeds.push_back(deriveSeed(mSide.sampling.seed, seed));
        const auto samples = sampleLocal(*mModel, mTokenizer, encoded, draw, context, profile);
        std::vector<std::vector<TeacherText>> out(samples.size());
        for (size_t i = 0; i < samples.size(); ++i)
            for (const auto &s : samples[i]) {
                std::optional<std::vector<float>> logprobs;
                if (mScore && !s.ids.empty())
                    logprobs = s.logprobs;
                out[i].push_back({s.text, std::move(logprobs), s.finishReason, s.seconds, {}});
            }
        return out;
    }

    bool canScore() const override { return true; }

    std::vector<std::vector<float>> scoreTexts(const std::vector<std::string> &prompts, const std::vector<std::string> &texts) override
    {
        if (prompts.size() != texts.size())
            throw Error("teacher scoring: one prompt per text is needed");
        std::vector<ScoreRequest> requests;
        std::vector<size_t> owner;
        std::vector<std::vector<float>> out(texts.size());
        for (size_t i = 0; i < texts.size(); ++i) {
            auto response = mTemplate.encodeResponse(mTokenizer, texts[i]);
            if (static_cast<int64_t>(response.size()) > mMaxNewTokens)
                response.resize(static_cast<size_t>(mMaxNewTokens));
            if (response.empty())
                continue;
            requests.push_back({encodePromptWithin(prompts[i], mTokenizer, mTemplate, mLimits, mMaxNewTokens), std::move(response)});
            owner.push_back(i);
        }
        const auto scores = scoreSequences(*mModel, requests, 32);
        for (size_t r = 0; r < scores.size(); ++r)
            out[owner[r]].assign(scores[r].tokenLogprobs.begin(), scores[r].tokenLogprobs.end());
        return out;
    }

private:
    fs::path mDirectory;
    SideSampling mSide;
    int64_t mMaxNewTokens;
    int64_t mBatchRows; // rows decoded together (0: chosen from the model's shape and memory)
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
        if (!mEndpoint.chat && mTemplate.isChat() && !mTemplate.compiledChat)
            throw ConfigError("teacher: a completions endpoint needs the prompt as text, and the model's own chat template is the "
                              "server's, unknown here: set \"chat\": true (the server applies its template), or give the teacher "
                              "a \"template\" (a text format or {\"chat_template\": FILE.jinja})");
        mSettings.maxTokens = maxNewTokens;
        mSettings.temperature = side.sampling.greedy ? 0.0 : side.sampling.temperature;
        mSettings.topP = side.sampling.greedy ? 1.0 : side.sampling.topP;
        mBaseSeed = side.sampling.seed;
        mGreedy = side.sampling.greedy;
    }

    std::string describe() const override { return "http model \"" + mEndpoint.model + "\" at " + mEndpoint.baseUrl; }

    std::vector<std::vector<TeacherText>> generate(const std::vector<PromptRecord> &prompts, int64_t k, const std::vector<uint64_t> &promptSeeds,
                                                   JobContext *context, GenerationProfile *) override
    {
        std::vector<std::vector<TeacherText>> out(prompts.size(), std::vector<TeacherText>(static_cast<size_t>(k)));
        for (int64_t s = 0; s < k; ++s) {
            std::vector<std::string> texts;
            CompletionSettings settings = mSettings;
            for (const auto &p : prompts) {
                // A chat server gets the conversation (with the configured system prompt) and applies its own template.
                texts.push_back(mEndpoint.chat ? p.prompt : mTemplate.render(p.input()));
                if (mEndpoint.chat)
                    settings.conversations.push_back(mTemplate.conversationJson(p.input()));
            }
            if (!mGreedy)
                for (size_t i = 0; i < prompts.size(); ++i) // 31 bits: what every server accepts as an integer seed
                    settings.seeds.push_back(deriveSeed(deriveSeed(mBaseSeed, promptSeeds.at(i)), static_cast<uint64_t>(s)) & 0x7fffffffu);
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
            } catch (const nlohmann::json::exception &e) { // parse_error, or out_of_range for 1e999
                throw Error(where + "not valid JSON (" + jsonErrorText(e) + ")");
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

    std::vector<std::vector<TeacherText>> generate(const std::vector<PromptRecord> &prompts, int64_t k, const std::vector<uint64_t> &,
                                                   JobContext *, GenerationProfile *) override
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

} // namespace

std::vector<std::vector<float>> TeacherSource::scoreTexts(const std::vector<std::string> &, const std::vector<std::string> &)
{
    throw Error("the teacher (" + describe() + ") cannot score texts: only a local teacher's likelihood is known "
                "(labeling.policy \"teacher-likelihood\" needs teacher.type \"local\")");
}

std::unique_ptr<TeacherSource> makeTeacher(const TeacherConfig &config, const SideSampling &side, int64_t maxNewTokens,
                                           const PromptTemplate &fallbackTemplate, const EncodingLimits &limits, const std::string &device,
                                           int64_t batchRows)
{
    switch (config.type) {
    case TeacherKind::Local:
        return std::make_unique<LocalTeacher>(config, side, maxNewTokens, fallbackTemplate, limits, device, batchRows);
    case TeacherKind::Http:
        return std::make_unique<HttpTeacher>(config, side, maxNewTokens, fallbackTemplate);
    case TeacherKind::Jsonl:
        break;
    }
    return std::make_unique<JsonlTeacher>(config);
}

} // namespace plad
