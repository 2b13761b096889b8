#include "train/sftdata.h"

#include "common/error.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

namespace plad {

namespace {

// The template's text before and after {prompt}, rendered with an empty prompt split at a marker.
std::pair<std::string, std::string> templateAround(const PromptTemplate &t)
{
    static const std::string marker = "\x01\x02PLAD-PROMPT\x02\x01";
    const std::string rendered = t.render(marker);
    const auto pos = rendered.find(marker);
    return {rendered.substr(0, pos), rendered.substr(pos + marker.size())};
}

// Chat mode: renders the conversation; when too long, cuts the last message's content to fit.
std::vector<int64_t> encodeChatPromptWithin(const PromptInput &prompt, const Tokenizer &tokenizer, const PromptTemplate &t,
                                            const EncodingLimits &limits, int64_t responseBudget, bool *truncated)
{
    auto messages = nlohmann::ordered_json::parse(t.conversationJson(prompt));
    auto encode = [&](const nlohmann::ordered_json &m) {
        std::vector<int64_t> ids = tokenizer.encode(t.renderConversation(tokenizer, m.dump(), true), false);
        if (t.addBos && tokenizer.specialTokens().bos && (ids.empty() || ids.front() != *tokenizer.specialTokens().bos))
            ids.insert(ids.begin(), *tokenizer.specialTokens().bos);
        return ids;
    };
    std::vector<int64_t> ids = encode(messages);
    const int64_t limit = std::min<int64_t>(limits.maxPromptTokens, limits.contextLength - responseBudget);
    if (truncated)
        *truncated = false;
    if (static_cast<int64_t>(ids.size()) <= limit)
        return ids;
    auto &last = messages.back();
    if (!last.contains("content") || !last["content"].is_string())
        throw ConfigError("the conversation (" + std::to_string(ids.size()) + " tokens) exceeds the prompt limit of " + std::to_string(limit)
                          + " tokens and its last message has no text content to cut");
    const auto content = tokenizer.encode(last["content"].get<std::string>(), false);
    last["content"] = "";
    const int64_t fixed = static_cast<int64_t>(encode(messages).size());
    int64_t room = limit - fixed;
    if (room <= 0)
        throw ConfigError("the chat template and the earlier turns alone (" + std::to_string(fixed) + " tokens) leave no room for the prompt within "
                          + std::to_string(limit) + " tokens");
    // Decoding a cut token sequence and encoding it again can merge differently: shrink until it fits.
    for (int attempt = 0; attempt < 8 && room > 0; ++attempt) {
        std::vector<int64_t> kept = limits.promptKeep == PromptKeep::End
                                        ? std::vector<int64_t>(content.end() - std::min<int64_t>(room, static_cast<int64_t>(content.size())), content.end())
                                        : std::vector<int64_t>(content.begin(), content.begin() + std::min<int64_t>(room, static_cast<int64_t>(content.size())));
        last["content"] = tokenizer.decode(kept);
        ids = encode(messages);
        if (static_cast<int64_t>(ids.size()) <= limit) {
            if (truncated)
                *truncated = true;
            return ids;
        }
        room -= static_cast<int64_t>(ids.size()) - limit;
    }
    throw ConfigError("could not cut the conversation's last message to fit " + std::to_string(limit) + " tokens");
}

} // namespace

std::vector<int64_t> encodePromptWithin(const PromptInput &prompt, const Tokenizer &tokenizer, const PromptTemplate &t,
                                        const EncodingLimits &limits, int64_t responseBudget, bool *truncated)
{
    if (t.isChat())
        return encodeChatPromptWithin(prompt, tokenizer, t, limits, responseBudget, truncated);
    if (prompt.isConversational())
        (void)t.render(prompt); // throws: a conversation needs a chat template
    const auto [before, after] = templateAround(t);
    std::vector<int64_t> ids;
    if (t.addBos) {
        const auto bos = tokenizer.specialTokens().bos;
        if (!bos)
            throw ConfigError("prompt template asks for a BOS token but the tokenizer defines none");
        ids.push_back(*bos);
    }
    const auto head = tokenizer.encode(before);
    const auto tail = tokenizer.encode(after);
    auto body = tokenizer.encode(prompt.text);
    const int64_t fixed = static_cast<int64_t>(ids.size() + head.size() + tail.size());
    const int64_t room = std::min<int64_t>(limits.maxPromptTokens, limits.contextLength - fixed - responseBudget);
    if (room <= 0)
        throw ConfigError("the prompt template alone (" + std::to_string(fixed) + " tokens) leaves no room for the prompt within "
                          + std::to_string(limits.contextLength) + " tokens of context");
    const bool cut = static_cast<int64_t>(body.size()) > room;
    if (cut) {
        if (limits.promptKeep == PromptKeep::End)
            body.erase(body.begin(), body.end() - room);
        else
            body.resize(static_cast<size_t>(room));
    }
    if (truncated)
        *truncated = cut;
    ids.insert(ids.end(), head.begin(), head.end());
    ids.insert(ids.end(), body.begin(), body.end());
    ids.insert(ids.end(), tail.begin(), tail.end());
    return ids;
}

EncodedExamples encodeExamples(const std::vector<DatasetRecord> &records, const Tokenizer &tokenizer, const PromptTemplate &t,
                               const EncodingLimits &limits)
{
    if (limits.maxResponseTokens <= 0 || limits.maxPromptTokens <= 0 || limits.contextLength <= 1)
        throw ConfigError("token limits must be positive");
    EncodedExamples out;
    for (const auto &r : records) {
        SequencePair pair;
        pair.response = t.encodeResponse(tokenizer, r.reference);
        if (static_cast<int64_t>(pair.response.size()) > limits.maxResponseTokens) {
            pair.response.resize(static_cast<size_t>(limits.maxResponseTokens));
            ++out.truncatedResponses;
        }
        bool cut = false;
        try {
            pair.prompt = encodePromptWithin(PromptInput(r.prompt, r.messages), tokenizer, t, limits, static_cast<int64_t>(pair.response.size()), &cut);
        } catch (const ConfigError &e) {
            throw ConfigError("record \"" + r.id + "\": " + e.what());
        } catch (const FormatError &e) {
            throw FormatError("record \"" + r.id + "\": " + e.what());
        } catch (const Error &e) {
            throw Error("record \"" + r.id + "\": " + e.what()); // a chat template that cannot render this conversation
        }
        out.truncatedPrompts += cut ? 1 : 0;
        out.examples.push_back(std::move(pair));
    }
    return out;
}

void toLanguageModelling(std::vector<SequencePair> &examples)
{
    for (auto &e : examples) {
        std::vector<int64_t> text = std::move(e.prompt);
        text.insert(text.end(), e.response.begin(), e.response.end());
        e.prompt.assign(text.begin(), text.begin() + std::min<std::ptrdiff_t>(1, static_cast<std::ptrdiff_t>(text.size())));
        e.response.assign(text.begin() + static_cast<std::ptrdiff_t>(e.prompt.size()), text.end());
    }
}

} // namespace plad
