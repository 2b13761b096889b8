#include "train/sftdata.h"

#include "common/error.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"

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

} // namespace

std::vector<int64_t> encodePromptWithin(const std::string &prompt, const Tokenizer &tokenizer, const PromptTemplate &t,
                                        const EncodingLimits &limits, int64_t responseBudget, bool *truncated)
{
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
    auto body = tokenizer.encode(prompt);
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
        pair.prompt = encodePromptWithin(r.prompt, tokenizer, t, limits, static_cast<int64_t>(pair.response.size()), &cut);
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
