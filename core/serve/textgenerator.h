#pragma once

// Text in, text out with a local model: what `plad generate`, `plad chat` and the workbench's
// Playground run. The prompt goes through the model's prompt format (docs/chat-templates.md):
// a conversation through its chat template (or, for a model trained on a text format, the
// equivalent template export writes), a text prompt through the format; generation stops at
// the model's end ids (config.json, generation_config.json, the tokenizer's EOS), and sampling
// defaults come from generation_config.json unless given.

#include "common/jobcontext.h"
#include "model/languagemodel.h"
#include "model/modeltypes.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace plad {

struct TextRequest
{
    std::string prompt;                  ///< text, through the model's format unless `raw`
    std::string messages;                ///< a JSON list of messages; used instead of `prompt` when set
    std::vector<int64_t> ids;            ///< token ids as they are; used instead of both when set
    bool raw = false;                    ///< `prompt` is tokenized as it is
    int64_t maxNewTokens = 0;            ///< 0: generation_config.json's max_new_tokens, else 256 (within the context)
    std::optional<SamplingOptions> sampling; ///< unset: generation_config.json's defaults (greedy without one)
    std::vector<std::string> stops;      ///< the output ends before the first of these
    bool ignoreEos = false;
};

struct TextResult
{
    std::string text;                    ///< the output, end token and stop string left out
    std::vector<int64_t> ids;            ///< the generated ids, with the end token that ended the output
    std::vector<float> logprobs;         ///< the model's log-prob of each id
    std::string finishReason;            ///< "stop" (end token or stop string), "length", "cancelled"
    std::string renderedPrompt;          ///< the prompt as the model saw it, special tokens as text
    std::vector<int64_t> promptIds;
    double seconds = 0;
};

/** One streamed piece: the text it released (may be empty), the token and its log-prob. */
struct TextDelta
{
    std::string text;
    int64_t token = 0;
    float logprob = 0;
    bool end = false;                    ///< the token is an end token (not part of the text)
};

class TextGenerator
{
public:
    /** Loads the model directory (with its tokenizer); `promptFormat` overrides the model's own. */
    explicit TextGenerator(const std::filesystem::path &modelDirectory, const std::string &device = "cpu",
                           const std::optional<PromptTemplate> &promptFormat = std::nullopt);

    const PromptTemplate &promptFormat() const { return mFormat; }
    const Tokenizer &tokenizer() const { return mTokenizer; }
    const ModelConfig &config() const { return mModel.config(); }
    const std::vector<int64_t> &endIds() const { return mEndIds; }
    const std::filesystem::path &directory() const { return mDirectory; }

    /** The prompt of `request` as ids, and as text in `rendered`. Throws ConfigError for a conversation the template refuses. */
    std::vector<int64_t> encode(const TextRequest &request, std::string *rendered = nullptr) const;
    /** Renders a conversation (JSON list) with add_generation_prompt, as the model sees it. */
    std::string renderConversation(const std::string &messagesJson) const;

    /**
     * Generates one output. `onDelta` is called on this thread after every token; returning
     * false stops (finish reason "cancelled"), as does `context`.
     */
    TextResult generate(const TextRequest &request, const std::function<bool(const TextDelta &)> &onDelta = {},
                        JobContext *context = nullptr);

private:
    std::filesystem::path mDirectory;
    LanguageModel mModel;
    Tokenizer mTokenizer;
    PromptTemplate mFormat;
    PromptTemplate mChat; ///< renders conversations (the model's chat template, or its text format's equivalent)
    std::vector<int64_t> mEndIds;
};

} // namespace plad
