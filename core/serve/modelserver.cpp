#include "serve/modelserver.h"

#include "chat/chattemplate.h"
#include "common/error.h"
#include "model/languagemodel.h"
#include "model/stoptokens.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/textstream.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>

#include <sys/socket.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace plad {
namespace {

using nlohmann::json;

/** A request the client got wrong: answered with HTTP `status` and OpenAI's error shape. */
struct RequestError
{
    RequestError(int status, std::string message, std::string type = "invalid_request_error", std::string param = {}, int retryAfterSeconds = 0)
        : status(status)
        , message(std::move(message))
        , type(std::move(type))
        , param(std::move(param))
        , retryAfterSeconds(retryAfterSeconds)
    {}
    int status;
    std::string message;
    std::string type;
    std::string param;
    int retryAfterSeconds; ///< sent as Retry-After when > 0 (429, 503)
};

std::string dumpJson(const json &j)
{
    // Token texts may be cut UTF-8 characters: replaced, never a failed response.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void sendError(httplib::Response &res, const RequestError &e)
{
    res.status = e.status;
    if (e.retryAfterSeconds > 0)
        res.set_header("Retry-After", std::to_string(e.retryAfterSeconds));
    res.set_content(dumpJson({{"error", {{"message", e.message}, {"type", e.type}, {"param", e.param.empty() ? json() : json(e.param)}, {"code", nullptr}}}}),
                    "application/json");
}

std::string formatSeconds(double seconds)
{
    char text[32];
    std::snprintf(text, sizeof text, "%g s", seconds);
    return text;
}

bool absent(const json &body, const char *name)
{
    return !body.contains(name) || body[name].is_null();
}

[[noreturn]] void wrongType(const json &body, const char *name, const char *expected)
{
    throw RequestError{400, std::string("\"") + name + "\" must be " + expected + ", found " + body[name].dump(), "invalid_request_error", name};
}

int64_t integerField(const json &body, const char *name, int64_t fallback)
{
    if (absent(body, name))
        return fallback;
    if (!body[name].is_number_integer())
        wrongType(body, name, "an integer");
    return body[name].get<int64_t>();
}

double numberField(const json &body, const char *name, double fallback)
{
    if (absent(body, name))
        return fallback;
    if (!body[name].is_number())
        wrongType(body, name, "a number");
    return body[name].get<double>();
}

bool boolField(const json &body, const char *name, bool fallback)
{
    if (absent(body, name))
        return fallback;
    if (!body[name].is_boolean())
        wrongType(body, name, "true or false");
    return body[name].get<bool>();
}

std::string stringField(const json &body, const char *name, const std::string &fallback)
{
    if (absent(body, name))
        return fallback;
    if (!body[name].is_string())
        wrongType(body, name, "a string");
    return body[name].get<std::string>();
}

std::vector<std::string> stopStrings(const json &body)
{
    if (absent(body, "stop"))
        return {};
    if (body["stop"].is_string())
        return {body["stop"].get<std::string>()};
    if (body["stop"].is_array() && body["stop"].size() <= 16) {
        std::vector<std::string> out;
        for (const auto &s : body["stop"]) {
            if (!s.is_string())
                wrongType(body, "stop", "a string or a list of at most 16 strings");
            if (!s.get<std::string>().empty())
                out.push_back(s.get<std::string>());
        }
        return out;
    }
    wrongType(body, "stop", "a string or a list of at most 16 strings");
}

/** A validated request: the prompts in tokens and how to generate. */
struct Request
{
    bool chat = false;
    std::vector<std::vector<int64_t>> prompts; ///< completions may send several; chat one
    int64_t maxTokens = 16;
    int64_t n = 1;
    SamplingOptions sampling;
    std::optional<uint64_t> seed;
    std::vector<std::string> stops;
    bool stream = false;
    bool includeUsage = false;
    bool logprobs = false;
    int64_t topLogprobs = 0;
};

/** One choice as it is generated: its text stream and the log-probs not yet sent. */
struct Choice
{
    size_t index = 0;
    size_t prompt = 0;
    TextStream text;
    std::string finishReason;
    int64_t tokens = 0;
    json pendingLogprobs = json::array(); ///< chat: entries of logprobs.content; completions: filled per token
    json tokenTexts = json::array(), tokenLogprobs = json::array(), topLogprobs = json::array(), textOffset = json::array();
    size_t offset = 0; ///< completions: text length so far, for text_offset
};

} // namespace

struct ModelServer::State
{
    ModelServerOptions options;
    LanguageModel model;
    Tokenizer tokenizer;
    PromptTemplate promptTemplate;   ///< how prompts are written for this model (docs/chat-templates.md)
    PromptTemplate serving;          ///< chat mode: the template that renders conversations
    GenerationDefaults defaults;
    std::vector<int64_t> endIds;
    std::timed_mutex modelMutex;
    httplib::Server server;
    int port = 0;
    int listenSocket = -1;
    std::atomic<uint64_t> requestCounter{0};
    // Admission: requests holding or waiting for the model, and what became of the others.
    std::atomic<int> admitted{0};
    std::atomic<uint64_t> completed{0}, rejectedFull{0}, timedOut{0}, clientErrors{0}, serverErrors{0};
    std::atomic<double> lastGenerationSeconds{1.0};

    /** A place in the queue, given back when the request's response is done with. */
    struct Ticket
    {
        std::atomic<int> &count;
        ~Ticket() { count.fetch_sub(1); }
    };

    int retryAfter() const
    {
        // About how long the queue ahead takes to clear, at least a second.
        return std::max(1, static_cast<int>(std::ceil(lastGenerationSeconds.load() * std::max(1, admitted.load()))));
    }

    std::shared_ptr<Ticket> admit()
    {
        const int before = admitted.fetch_add(1);
        if (before >= 1 + options.maxQueue) {
            admitted.fetch_sub(1);
            throw RequestError{429,
                               "the server is busy: " + std::to_string(before) + " requests are running or queued (at most "
                                   + std::to_string(1 + options.maxQueue) + ", serve --max-queue); retry later",
                               "rate_limit_exceeded", "", retryAfter()};
        }
        return std::shared_ptr<Ticket>(new Ticket{admitted}); // no temporary: its destructor would give the place back
    }

    State(const std::filesystem::path &dir, ModelServerOptions o)
        : options(std::move(o))
        , model(LanguageModel::load(dir, options.device))
        , tokenizer(Tokenizer::load(dir))
        , promptTemplate(PromptTemplate::resolve(std::nullopt, dir))
    {
        if (options.modelName.empty())
            options.modelName = std::filesystem::absolute(dir).lexically_normal().filename().string();
        if (options.modelName.empty())
            options.modelName = std::filesystem::absolute(dir).lexically_normal().parent_path().filename().string();
        defaults = model.config().generation;
        endIds = stopTokenIds(model.config(), tokenizer);
        // A model trained on a text format answers chat requests through the equivalent
        // template, the one export writes into tokenizer_config.json.
        serving = promptTemplate.forConversations();
        serving.chatFor(tokenizer); // a model without a template fails at start, not per request
    }

    std::vector<int64_t> chatPrompt(const json &body) const
    {
        if (absent(body, "messages") || !body["messages"].is_array() || body["messages"].empty())
            throw RequestError{400, "\"messages\" must be a non-empty list", "invalid_request_error", "messages"};
        size_t i = 0;
        for (const auto &m : body["messages"]) {
            const std::string where = "messages[" + std::to_string(i++) + "]";
            if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
                throw RequestError{400, where + " must be an object with a string \"role\"", "invalid_request_error", "messages"};
            const std::string role = m["role"].get<std::string>();
            if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool")
                throw RequestError{400, where + ": unknown role \"" + role + "\"", "invalid_request_error", "messages"};
            if (m.contains("content") && !m["content"].is_string() && !m["content"].is_array() && !m["content"].is_null())
                throw RequestError{400, where + ".content must be a string or a list of content parts", "invalid_request_error", "messages"};
        }
        std::string text;
        try {
            text = serving.renderConversation(tokenizer, serving.conversationJson(PromptInput("", body["messages"].dump())), true);
        } catch (const std::exception &e) {
            throw RequestError{400, std::string("the conversation does not fit the model's chat template: ") + e.what(), "invalid_request_error",
                               "messages"};
        }
        std::vector<int64_t> ids = tokenizer.encode(text, false);
        if (promptTemplate.addBos && tokenizer.specialTokens().bos && (ids.empty() || ids.front() != *tokenizer.specialTokens().bos))
            ids.insert(ids.begin(), *tokenizer.specialTokens().bos);
        return ids;
    }

    std::vector<std::vector<int64_t>> completionPrompts(const json &body) const
    {
        if (absent(body, "prompt"))
            throw RequestError{400, "\"prompt\" is required", "invalid_request_error", "prompt"};
        const json &p = body["prompt"];
        auto tokenList = [&](const json &list) {
            std::vector<int64_t> ids;
            for (const auto &t : list) {
                if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= tokenizer.vocabSize())
                    throw RequestError{400, "\"prompt\" token ids must be integers in [0, " + std::to_string(tokenizer.vocabSize()) + ")",
                                       "invalid_request_error", "prompt"};
                ids.push_back(t.get<int64_t>());
            }
            return ids;
        };
        if (p.is_string())
            return {tokenizer.encode(p.get<std::string>(), false)};
        if (p.is_array() && !p.empty() && p.size() <= 64) {
            if (p[0].is_number_integer())
                return {tokenList(p)};
            std::vector<std::vector<int64_t>> out;
            for (const auto &item : p) {
                if (item.is_string())
                    out.push_back(tokenizer.encode(item.get<std::string>(), false));
                else if (item.is_array())
                    out.push_back(tokenList(item));
                else
                    throw RequestError{400, "\"prompt\" must be a string, a list of strings or token ids", "invalid_request_error", "prompt"};
            }
            return out;
        }
        throw RequestError{400, "\"prompt\" must be a string, a list of at most 64 strings, or token ids", "invalid_request_error", "prompt"};
    }

    Request parse(const json &body, bool chat) const
    {
        Request r;
        r.chat = chat;
        r.prompts = chat ? std::vector<std::vector<int64_t>>{chatPrompt(body)} : completionPrompts(body);
        const int64_t context = model.config().maxPositions;
        size_t longest = 0;
        for (const auto &p : r.prompts) {
            if (p.empty())
                throw RequestError{400, "the prompt is empty", "invalid_request_error", "prompt"};
            longest = std::max(longest, p.size());
        }
        if (static_cast<int64_t>(longest) >= context)
            throw RequestError{400, "the prompt (" + std::to_string(longest) + " tokens) leaves no room in the model's context of "
                                        + std::to_string(context) + " tokens", "invalid_request_error", "messages"};
        const int64_t room = std::min<int64_t>(options.maxTokensLimit, context - static_cast<int64_t>(longest));
        // Chat: up to the context (or generation_config's max_new_tokens); completions: 16, as OpenAI's API.
        const int64_t fallback = chat ? std::min(room, defaults.maxNewTokens.value_or(room)) : 16;
        r.maxTokens = integerField(body, "max_tokens", fallback);
        r.maxTokens = integerField(body, "max_completion_tokens", r.maxTokens); // the newer name wins
        if (r.maxTokens < 1 || r.maxTokens > options.maxTokensLimit)
            throw RequestError{400, "\"max_tokens\" must be in [1, " + std::to_string(options.maxTokensLimit) + "]", "invalid_request_error", "max_tokens"};
        if (static_cast<int64_t>(longest) + r.maxTokens > context)
            throw RequestError{400, "the prompt (" + std::to_string(longest) + " tokens) plus max_tokens (" + std::to_string(r.maxTokens)
                                        + ") exceeds the model's context of " + std::to_string(context) + " tokens", "invalid_request_error", "max_tokens"};

        // Sampling: the request, else generation_config.json, else OpenAI's defaults (temperature 1).
        const SamplingOptions fromModel = defaults.sampling();
        const bool modelGreedy = !defaults.empty() && fromModel.greedy;
        const double temperature = numberField(body, "temperature", modelGreedy ? 0.0 : (fromModel.greedy ? 1.0 : fromModel.temperature));
        const double topP = numberField(body, "top_p", fromModel.greedy ? 1.0 : fromModel.topP);
        const int64_t topK = integerField(body, "top_k", fromModel.greedy ? 0 : fromModel.topK);
        if (temperature < 0 || temperature > 2)
            throw RequestError{400, "\"temperature\" must be in [0, 2]", "invalid_request_error", "temperature"};
        if (!(topP > 0 && topP <= 1))
            throw RequestError{400, "\"top_p\" must be in (0, 1]", "invalid_request_error", "top_p"};
        if (topK < 0)
            throw RequestError{400, "\"top_k\" must not be negative", "invalid_request_error", "top_k"};
        r.sampling.greedy = temperature == 0;
        r.sampling.temperature = temperature > 0 ? temperature : 1.0;
        r.sampling.topP = topP;
        r.sampling.topK = topK;
        r.sampling.repetitionPenalty = numberField(body, "repetition_penalty", fromModel.repetitionPenalty);
        if (r.sampling.repetitionPenalty <= 0)
            throw RequestError{400, "\"repetition_penalty\" must be positive", "invalid_request_error", "repetition_penalty"};
        if (!absent(body, "seed")) {
            if (!body["seed"].is_number_integer())
                wrongType(body, "seed", "an integer");
            r.seed = static_cast<uint64_t>(body["seed"].get<int64_t>());
        }
        r.n = integerField(body, "n", 1);
        if (r.n < 1 || r.n > 16)
            throw RequestError{400, "\"n\" must be in [1, 16]", "invalid_request_error", "n"};
        r.stops = stopStrings(body);
        r.stream = boolField(body, "stream", false);
        if (!absent(body, "stream_options")) {
            if (!body["stream_options"].is_object())
                wrongType(body, "stream_options", "an object");
            r.includeUsage = boolField(body["stream_options"], "include_usage", false);
        }
        if (chat) {
            r.logprobs = boolField(body, "logprobs", false);
            r.topLogprobs = integerField(body, "top_logprobs", 0);
            if (r.topLogprobs < 0 || r.topLogprobs > 20)
                throw RequestError{400, "\"top_logprobs\" must be in [0, 20]", "invalid_request_error", "top_logprobs"};
            if (r.topLogprobs > 0 && !r.logprobs)
                throw RequestError{400, "\"top_logprobs\" needs \"logprobs\": true", "invalid_request_error", "top_logprobs"};
        } else if (!absent(body, "logprobs")) {
            r.logprobs = true;
            r.topLogprobs = integerField(body, "logprobs", 0);
            if (r.topLogprobs < 0 || r.topLogprobs > 5)
                throw RequestError{400, "\"logprobs\" must be in [0, 5]", "invalid_request_error", "logprobs"};
        }
        return r;
    }

    std::string tokenText(int64_t id) const { return tokenizer.decode({id}, false); }

    json bytesOf(int64_t id) const
    {
        const std::string raw = tokenizer.tokenBytes(id);
        json out = json::array();
        for (const unsigned char c : raw)
            out.push_back(static_cast<int>(c));
        return out;
    }

    /** Records the log-probs of `row`'s last token on `c`. */
    void noteLogprobs(const Request &r, Choice &c, const GenerationResult &row) const
    {
        if (!r.logprobs || row.logprobs.empty())
            return;
        const int64_t id = row.ids.back();
        const std::string text = tokenText(id);
        const float lp = row.logprobs.back();
        if (r.chat) {
            json top = json::array();
            if (r.topLogprobs > 0 && !row.topLogprobs.empty())
                for (const auto &[tid, tlp] : row.topLogprobs.back()) {
                    const std::string t = tokenText(tid);
                    top.push_back({{"token", t}, {"logprob", tlp}, {"bytes", bytesOf(tid)}});
                }
            c.pendingLogprobs.push_back({{"token", text}, {"logprob", lp}, {"bytes", bytesOf(id)}, {"top_logprobs", top}});
        } else {
            c.tokenTexts.push_back(text);
            c.tokenLogprobs.push_back(lp);
            json top = json::object();
            if (r.topLogprobs > 0 && !row.topLogprobs.empty())
                for (const auto &[tid, tlp] : row.topLogprobs.back())
                    top[tokenText(tid)] = tlp;
            c.topLogprobs.push_back(r.topLogprobs > 0 ? top : json());
            c.textOffset.push_back(c.offset);
            c.offset += text.size();
        }
    }

    json takeLogprobs(const Request &r, Choice &c) const
    {
        if (!r.logprobs)
            return nullptr;
        if (r.chat) {
            json out = {{"content", c.pendingLogprobs}, {"refusal", nullptr}};
            c.pendingLogprobs = json::array();
            return out;
        }
        json out = {{"tokens", c.tokenTexts}, {"token_logprobs", c.tokenLogprobs}, {"top_logprobs", c.topLogprobs}, {"text_offset", c.textOffset}};
        c.tokenTexts = c.tokenLogprobs = c.topLogprobs = c.textOffset = json::array();
        return out;
    }

    /**
     * Generates every choice of `r`; `onDelta(choice, text)` is called as text becomes safe to
     * show (streaming) and may return false to stop (the client left). Returns the choices.
     */
    std::vector<Choice> generate(const Request &r, const std::function<bool(Choice &, const std::string &)> &onDelta)
    {
        std::vector<Choice> choices;
        std::vector<std::vector<int64_t>> batch;
        for (size_t p = 0; p < r.prompts.size(); ++p)
            for (int64_t j = 0; j < r.n; ++j) {
                choices.push_back({choices.size(), p, TextStream(tokenizer, r.stops, endIds)});
                batch.push_back(r.prompts[p]);
            }
        GenerationOptions gen;
        gen.maxNewTokens = r.maxTokens;
        gen.sampling = r.sampling;
        // Without a seed each request samples differently; with one, the same request repeats.
        gen.sampling.seed = r.seed ? *r.seed : requestCounter.fetch_add(1) + 0x9e3779b97f4a7c15ULL;
        gen.eosTokenIds = endIds;
        gen.logprobs = r.logprobs;
        gen.topLogprobs = r.topLogprobs;
        bool clientGone = false;
        std::vector<GenerationResult> results;
        gen.onToken = [&](size_t row, int64_t token, const GenerationResult &result) {
            Choice &c = choices[row];
            if (clientGone)
                return false;
            const bool end = std::find(endIds.begin(), endIds.end(), token) != endIds.end();
            if (!end) {
                ++c.tokens;
                noteLogprobs(r, c, result);
            }
            const std::string delta = c.text.push(token);
            if ((!delta.empty() || (r.logprobs && !c.pendingLogprobs.empty() && r.chat)) && onDelta && !onDelta(c, delta))
                clientGone = true;
            return !c.text.stopped() && !clientGone;
        };
        {
            std::unique_lock lock(modelMutex, std::defer_lock);
            if (!lock.try_lock_for(std::chrono::duration<double>(options.queueTimeoutSeconds)))
                throw RequestError{503,
                                   "the server is busy: the request waited " + formatSeconds(options.queueTimeoutSeconds)
                                       + " for the model (serve --queue-timeout); retry later",
                                   "server_error", "", retryAfter()};
            if (options.whileHoldingModel)
                options.whileHoldingModel();
            const auto started = std::chrono::steady_clock::now();
            results = model.generate(batch, gen);
            lastGenerationSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        }
        for (size_t i = 0; i < choices.size(); ++i) {
            Choice &c = choices[i];
            const std::string rest = c.text.finish();
            c.finishReason = results[i].finishReason == FinishReason::Length && !c.text.stopped() ? "length" : "stop";
            if (!rest.empty() && onDelta && !clientGone)
                onDelta(c, rest);
        }
        return choices;
    }

    json envelope(const char *object, const std::string &id, int64_t created) const
    {
        return {{"id", id}, {"object", object}, {"created", created}, {"model", options.modelName}, {"choices", json::array()}};
    }

    json usage(const Request &r, const std::vector<Choice> &choices) const
    {
        int64_t promptTokens = 0, completionTokens = 0;
        for (const auto &p : r.prompts)
            promptTokens += static_cast<int64_t>(p.size());
        for (const auto &c : choices)
            completionTokens += c.tokens;
        return {{"prompt_tokens", promptTokens}, {"completion_tokens", completionTokens}, {"total_tokens", promptTokens + completionTokens}};
    }

    json complete(const Request &r)
    {
        auto choices = generate(r, nullptr);
        const auto created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        const std::string id = (r.chat ? "chatcmpl-" : "cmpl-") + std::to_string(requestCounter.fetch_add(1));
        json out = envelope(r.chat ? "chat.completion" : "text_completion", id, created);
        for (auto &c : choices) {
            if (r.chat)
                out["choices"].push_back({{"index", c.index},
                                          {"message", {{"role", "assistant"}, {"content", c.text.text()}, {"refusal", nullptr}}},
                                          {"logprobs", takeLogprobs(r, c)},
                                          {"finish_reason", c.finishReason}});
            else
                out["choices"].push_back({{"index", c.index}, {"text", c.text.text()}, {"logprobs", takeLogprobs(r, c)}, {"finish_reason", c.finishReason}});
        }
        out["usage"] = usage(r, choices);
        return out;
    }

    /** Server-sent events as OpenAI streams them: chunks, a final chunk per choice with finish_reason, then [DONE]. */
    void stream(const Request &r, httplib::DataSink &sink)
    {
        const auto created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        const std::string id = (r.chat ? "chatcmpl-" : "cmpl-") + std::to_string(requestCounter.fetch_add(1));
        const char *object = r.chat ? "chat.completion.chunk" : "text_completion";
        auto send = [&](const json &chunk) {
            const std::string event = "data: " + dumpJson(chunk) + "\n\n";
            return sink.write(event.data(), event.size());
        };
        auto chunkOf = [&](json choice) {
            json chunk = envelope(object, id, created);
            chunk["choices"].push_back(std::move(choice));
            if (r.includeUsage)
                chunk["usage"] = nullptr;
            return chunk;
        };
        bool ok = true;
        if (r.chat)
            for (int64_t i = 0; i < static_cast<int64_t>(r.prompts.size()) * r.n && ok; ++i)
                ok = send(chunkOf({{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}));
        if (!ok)
            return;
        auto choices = generate(r, [&](Choice &c, const std::string &delta) {
            if (r.chat)
                return send(chunkOf({{"index", c.index}, {"delta", {{"content", delta}}}, {"logprobs", takeLogprobs(r, c)}, {"finish_reason", nullptr}}));
            return send(chunkOf({{"index", c.index}, {"text", delta}, {"logprobs", takeLogprobs(r, c)}, {"finish_reason", nullptr}}));
        });
        for (auto &c : choices) {
            json last = r.chat ? json{{"index", c.index}, {"delta", json::object()}, {"logprobs", nullptr}, {"finish_reason", c.finishReason}}
                               : json{{"index", c.index}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", c.finishReason}};
            if (r.logprobs && (r.chat ? !c.pendingLogprobs.empty() : !c.tokenTexts.empty()))
                last["logprobs"] = takeLogprobs(r, c);
            if (!send(chunkOf(last)))
                return;
        }
        if (r.includeUsage) {
            json chunk = envelope(object, id, created);
            chunk["usage"] = usage(r, choices);
            if (!send(chunk))
                return;
        }
        const std::string done = "data: [DONE]\n\n";
        sink.write(done.data(), done.size());
    }

    /** Throws a 401 unless the request carries the key (compared in time independent of where it differs). */
    void authorize(const httplib::Request &req) const
    {
        if (options.apiKey.empty())
            return;
        const std::string given = req.get_header_value("Authorization"), wanted = "Bearer " + options.apiKey;
        unsigned char difference = given.size() == wanted.size() ? 0 : 1;
        for (size_t i = 0; i < wanted.size(); ++i)
            difference |= static_cast<unsigned char>(wanted[i] ^ (i < given.size() ? given[i] : 0));
        if (difference != 0)
            throw RequestError{401, "invalid or missing API key", "authentication_error"};
    }

    json parseBody(const httplib::Request &req) const
    {
        authorize(req);
        json body;
        try {
            body = json::parse(req.body);
        } catch (const json::exception &e) { // parse_error, or out_of_range for 1e999
            throw RequestError{400, std::string("the request body is not JSON: ") + e.what()};
        }
        if (!body.is_object())
            throw RequestError{400, "the request body must be a JSON object"};
        const std::string model = stringField(body, "model", options.modelName);
        if (model != options.modelName)
            throw RequestError{404, "the model \"" + model + "\" does not exist; this server has \"" + options.modelName + "\"",
                               "invalid_request_error", "model"};
        return body;
    }

    void countError(int status)
    {
        if (status == 429)
            ++rejectedFull;
        else if (status == 503)
            ++timedOut;
        else if (status >= 500)
            ++serverErrors;
        else
            ++clientErrors;
    }

    void handle(const httplib::Request &req, httplib::Response &res, bool chat)
    {
        try {
            const Request r = parse(parseBody(req), chat);
            auto ticket = admit();
            if (!r.stream) {
                res.set_content(dumpJson(complete(r)), "application/json");
                ++completed;
                return;
            }
            res.set_header("Cache-Control", "no-cache");
            // The ticket lives as long as the provider: the stream's generation holds its place.
            res.set_chunked_content_provider("text/event-stream", [this, r, ticket](size_t, httplib::DataSink &sink) {
                try {
                    stream(r, sink);
                    ++completed;
                } catch (const RequestError &e) {
                    countError(e.status);
                    const std::string event = "data: " + dumpJson({{"error", {{"message", e.message}, {"type", e.type}}}}) + "\n\n";
                    sink.write(event.data(), event.size());
                } catch (const std::exception &e) {
                    ++serverErrors;
                    const std::string event = "data: " + dumpJson({{"error", {{"message", e.what()}, {"type", "server_error"}}}}) + "\n\n";
                    sink.write(event.data(), event.size());
                }
                sink.done();
                return true;
            });
        } catch (const RequestError &e) {
            countError(e.status);
            sendError(res, e);
        } catch (const std::exception &e) {
            ++serverErrors;
            sendError(res, {500, e.what(), "server_error"});
        }
    }
};

ModelServer::ModelServer(const std::filesystem::path &modelDirectory, ModelServerOptions options)
    : d(std::make_unique<State>(modelDirectory, std::move(options)))
{
    auto *s = d.get();
    s->server.Get("/v1/models", [s](const httplib::Request &req, httplib::Response &res) {
        try {
            s->authorize(req);
        } catch (const RequestError &e) {
            sendError(res, e);
            return;
        }
        res.set_content(json{{"object", "list"}, {"data", {{{"id", s->options.modelName}, {"object", "model"}, {"owned_by", "plad"}}}}}.dump(),
                        "application/json");
    });
    s->server.Post("/v1/completions", [s](const httplib::Request &req, httplib::Response &res) { s->handle(req, res, false); });
    s->server.Post("/v1/chat/completions", [s](const httplib::Request &req, httplib::Response &res) { s->handle(req, res, true); });
    // Errors the HTTP layer answers itself (413 for a body over the limit, 404 for an unknown
    // path, 400 for a malformed request line) get OpenAI's error shape too.
    s->server.set_error_handler([s](const httplib::Request &req, httplib::Response &res) {
        if (!res.body.empty())
            return;
        s->countError(res.status);
        if (res.status == 413)
            sendError(res, {413, "the request body is larger than " + std::to_string(s->options.maxBodyBytes) + " bytes (serve --max-body)"});
        else if (res.status == 404)
            sendError(res, {404, "no such endpoint: " + req.method + " " + req.path + " (this server has /v1/models, /v1/completions, /v1/chat/completions)"});
        else
            sendError(res, {res.status, "the request could not be read (HTTP " + std::to_string(res.status) + ")"});
    });
    const size_t threads = static_cast<size_t>(std::max(1, s->options.connectionThreads));
    s->server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    s->server.set_payload_max_length(s->options.maxBodyBytes);
    auto seconds = [](double value, auto &&set) {
        const auto whole = static_cast<time_t>(value);
        set(whole, static_cast<time_t>((value - static_cast<double>(whole)) * 1e6));
    };
    seconds(s->options.readTimeoutSeconds, [s](time_t sec, time_t usec) { s->server.set_read_timeout(sec, usec); });
    seconds(s->options.writeTimeoutSeconds, [s](time_t sec, time_t usec) { s->server.set_write_timeout(sec, usec); });
    // The listening socket: SO_REUSEADDR only (no SO_REUSEPORT, so a second server on a port
    // in use fails to bind instead of sharing it), and remembered so that bind() can give it a
    // real backlog (the HTTP library listens with a backlog of 5, which resets connections
    // when many clients connect at once).
    s->server.set_socket_options([s](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        s->listenSocket = sock;
    });
    // An idle kept-alive connection gives its thread back soon, so waiting clients get served.
    s->server.set_keep_alive_timeout(2);
    s->server.set_keep_alive_max_count(1000);
}

ModelServer::~ModelServer()
{
    stop();
}

int ModelServer::bind()
{
    const int port = d->options.port == 0 ? d->server.bind_to_any_port(d->options.host)
                                          : (d->server.bind_to_port(d->options.host, d->options.port) ? d->options.port : -1);
    if (port <= 0)
        throw Error("cannot listen on " + d->options.host + ":" + std::to_string(d->options.port)
                    + " (the port is in use or the address is not local); choose another with --port");
    d->port = port;
    if (d->listenSocket >= 0)
        ::listen(d->listenSocket, SOMAXCONN);
    return port;
}

int ModelServer::port() const
{
    return d->port;
}

void ModelServer::run()
{
    if (d->port == 0)
        bind();
    d->server.listen_after_bind();
}

void ModelServer::stop()
{
    if (d->server.is_running())
        d->server.stop();
}

bool ModelServer::isRunning() const
{
    return d->server.is_running();
}

ModelServerStats ModelServer::stats() const
{
    return {d->completed.load(), d->rejectedFull.load(), d->timedOut.load(), d->clientErrors.load(), d->serverErrors.load(), d->admitted.load()};
}

} // namespace plad
