#include "serve/textgenerator.h"

#include "chat/chattemplate.h"
#include "common/error.h"
#include "model/stoptokens.h"
#include "tokenizer/textstream.h"

#include <chrono>

namespace plad {

TextGenerator::TextGenerator(const std::filesystem::path &modelDirectory, const std::string &device,
                             const std::optional<PromptTemplate> &promptFormat)
    : mDirectory(modelDirectory)
    , mModel(LanguageModel::load(modelDirectory, device))
    , mTokenizer(Tokenizer::load(modelDirectory))
    , mFormat(PromptTemplate::resolve(promptFormat, modelDirectory))
    , mEndIds(stopTokenIds(mModel.config(), mTokenizer))
{
    mChat = mFormat.forConversations();
}

std::string TextGenerator::renderConversation(const std::string &messagesJson) const
{
    return mChat.renderConversation(mTokenizer, mChat.conversationJson(PromptInput("", messagesJson)), true);
}

std::vector<int64_t> TextGenerator::encode(const TextRequest &request, std::string *rendered) const
{
    if (!request.ids.empty()) {
        if (rendered)
            *rendered = mTokenizer.decode(request.ids);
        return request.ids;
    }
    std::string text;
    std::vector<int64_t> ids;
    if (!request.messages.empty()) {
        text = renderConversation(request.messages);
        ids = mTokenizer.encode(text, false);
        if (mFormat.addBos && mTokenizer.specialTokens().bos && (ids.empty() || ids.front() != *mTokenizer.specialTokens().bos))
            ids.insert(ids.begin(), *mTokenizer.specialTokens().bos);
    } else if (request.raw) {
        text = request.prompt;
        ids = mTokenizer.encode(text, false);
    } else {
        text = mFormat.render(request.prompt, &mTokenizer);
        ids = mFormat.encodePrompt(mTokenizer, request.prompt);
    }
    if (ids.empty())
        throw ConfigError("the prompt is empty");
    if (rendered)
        *rendered = text;
    return ids;
}

TextResult TextGenerator::generate(const TextRequest &request, const std::function<bool(const TextDelta &)> &onDelta, JobContext *context)
{
    const auto start = std::chrono::steady_clock::now();
    TextResult result;
    result.promptIds = encode(request, &result.renderedPrompt);
    const int64_t contextLength = mModel.config().maxPositions;
    const int64_t room = contextLength - static_cast<int64_t>(result.promptIds.size());
    if (room < 1)
        throw ConfigError("the prompt (" + std::to_string(result.promptIds.size()) + " tokens) fills the model's context of "
                          + std::to_string(contextLength) + " tokens");
    const auto &defaults = mModel.config().generation;
    GenerationOptions gen;
    gen.maxNewTokens = std::min(room, request.maxNewTokens > 0 ? request.maxNewTokens : defaults.maxNewTokens.value_or(256));
    gen.sampling = request.sampling ? *request.sampling : defaults.sampling();
    if (!request.ignoreEos)
        gen.eosTokenIds = mEndIds;
    gen.logprobs = true;
    TextStream stream(mTokenizer, request.stops, gen.eosTokenIds);
    bool stoppedByCaller = false;
    gen.onToken = [&](size_t, int64_t token, const GenerationResult &row) {
        TextDelta delta;
        delta.token = token;
        delta.logprob = row.logprobs.empty() ? 0.0f : row.logprobs.back();
        delta.end = std::find(gen.eosTokenIds.begin(), gen.eosTokenIds.end(), token) != gen.eosTokenIds.end();
        delta.text = stream.push(token);
        if (onDelta && !onDelta(delta)) {
            stoppedByCaller = true;
            return false;
        }
        return !stream.stopped();
    };
    const auto out = mModel.generate({result.promptIds}, gen, context).front();
    const std::string rest = stream.finish();
    if (!rest.empty() && onDelta && !stoppedByCaller) {
        TextDelta delta;
        delta.text = rest;
        onDelta(delta);
    }
    result.text = stream.text();
    result.ids = out.ids;
    result.logprobs = out.logprobs;
    result.finishReason = stoppedByCaller || out.finishReason == FinishReason::Cancelled ? "cancelled"
                          : out.finishReason == FinishReason::Length && !stream.stopped() ? "length"
                                                                                          : "stop";
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

} // namespace plad
