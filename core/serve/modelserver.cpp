#include "serve/modelserver.h"

#include "common/error.h"
#include "model/languagemodel.h"
#include "model/stoptokens.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"

#include <atomic>
#include <chrono>
#include <mutex>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace plad {
namespace {

/** A request the client got wrong: answered with HTTP `status` and OpenAI's error shape. */
struct RequestError
{
    int status;
    std::string message;
    std::string type = "invalid_request_error";
};

void sendError(httplib::Response &res, const RequestError &e)
{
    res.status = e.status;
    res.set_content(nlohmann::json{{"error", {{"message", e.message}, {"type", e.type}, {"code", nullptr}}}}.dump(),
                    "application/json");
}

template<typename T>
T field(const nlohmann::json &body, const char *name, T fallback)
{
    if (!body.contains(name) || body[name].is_null())
        return fallback;
    try {
        return body[name].get<T>();
    } catch (const nlohmann::json::exception &) {
        throw RequestError{400, std::string("\"") + name + "\" has the wrong type: " + body[name].dump()};
    }
}

std::vector<std::string> stopStrings(const nlohmann::json &body)
{
    if (!body.contains("stop") || body["stop"].is_null())
        return {};
    if (body["stop"].is_string())
        return {body["stop"].get<std::string>()};
    if (body["stop"].is_array()) {
        std::vector<std::string> out;
        for (const auto &s : body["stop"]) {
            if (!s.is_string())
                throw RequestError{400, "\"stop\" must be a string or a list of strings"};
            if (!s.get<std::string>().empty())
                out.push_back(s.get<std::string>());
        }
        return out;
    }
    throw RequestError{400, "\"stop\" must be a string or a list of strings"};
}

} // namespace

struct ModelServer::State
{
    ModelServerOptions options;
    LanguageModel model;
    Tokenizer tokenizer;
    PromptTemplate chatTemplate;
    std::mutex modelMutex;
    httplib::Server server;
    int port = 0;
    std::atomic<uint64_t> requestCounter{0};

    State(const std::filesystem::path &dir, ModelServerOptions o)
        : options(std::move(o))
        , model(LanguageModel::load(dir, options.device))
        , tokenizer(Tokenizer::load(dir))
        , chatTemplate(PromptTemplate::loadFrom(dir).value_or(PromptTemplate::preset("plain")))
    {
        if (options.modelName.empty())
            options.modelName = std::filesystem::absolute(dir).lexically_normal().filename().string();
        if (options.modelName.empty())
            options.modelName = std::filesystem::absolute(dir).lexically_normal().parent_path().filename().string();
    }

    struct Completion
    {
        std::string text;
        std::string finishReason;
        int64_t promptTokens = 0, completionTokens = 0;
    };

    std::vector<Completion> complete(const std::vector<int64_t> &promptIds, const nlohmann::json &body)
    {
        const int64_t maxTokens = field<int64_t>(body, "max_tokens", 16);
        if (maxTokens < 1 || maxTokens > options.maxTokensLimit)
            throw RequestError{400, "\"max_tokens\" must be in [1, " + std::to_string(options.maxTokensLimit) + "]"};
        const double temperature = field<double>(body, "temperature", 1.0);
        const double topP = field<double>(body, "top_p", 1.0);
        const int64_t n = field<int64_t>(body, "n", 1);
        if (temperature < 0 || temperature > 2)
            throw RequestError{400, "\"temperature\" must be in [0, 2]"};
        if (!(topP > 0 && topP <= 1))
            throw RequestError{400, "\"top_p\" must be in (0, 1]"};
        if (n < 1 || n > 16)
            throw RequestError{400, "\"n\" must be in [1, 16]"};
        const auto stops = stopStrings(body);
        const int64_t context = model.config().maxPositions;
        if (static_cast<int64_t>(promptIds.size()) + maxTokens > context)
            throw RequestError{400, "the prompt (" + std::to_string(promptIds.size()) + " tokens) plus max_tokens (" + std::to_string(maxTokens)
                                        + ") exceeds the model's context of " + std::to_string(context) + " tokens"};
        if (promptIds.empty())
            throw RequestError{400, "the prompt is empty"};

        GenerationOptions gen;
        gen.maxNewTokens = maxTokens;
        gen.sampling.greedy = temperature == 0;
        gen.sampling.temperature = temperature > 0 ? temperature : 1.0;
        gen.sampling.topP = topP;
        // Without a seed each request samples differently; with one, the same request repeats.
        gen.sampling.seed = body.contains("seed") && !body["seed"].is_null() ? field<uint64_t>(body, "seed", 0)
                                                                            : requestCounter.fetch_add(1) + 0x9e3779b97f4a7c15ULL;
        gen.eosTokenIds = stopTokenIds(model.config(), tokenizer);

        const std::vector<std::vector<int64_t>> batch(static_cast<size_t>(n), promptIds);
        std::vector<GenerationResult> results;
        {
            std::lock_guard lock(modelMutex);
            results = model.generate(batch, gen);
        }
        std::vector<Completion> out;
        for (const auto &r : results) {
            Completion c;
            c.promptTokens = static_cast<int64_t>(promptIds.size());
            c.completionTokens = static_cast<int64_t>(r.ids.size());
            std::vector<int64_t> ids = r.ids;
            if (r.finishReason == FinishReason::Eos && !ids.empty())
                ids.pop_back();
            c.text = tokenizer.decode(ids, true);
            c.finishReason = r.finishReason == FinishReason::Length ? "length" : "stop";
            size_t cut = std::string::npos;
            for (const auto &s : stops)
                cut = std::min(cut, c.text.find(s));
            if (cut != std::string::npos) {
                c.text.resize(cut);
                c.finishReason = "stop";
            }
            out.push_back(std::move(c));
        }
        return out;
    }

    nlohmann::json envelope(const char *object, const std::vector<Completion> &completions) const
    {
        int64_t promptTokens = completions.empty() ? 0 : completions.front().promptTokens, completionTokens = 0;
        for (const auto &c : completions)
            completionTokens += c.completionTokens;
        const auto created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        return {{"id", std::string(object) + "-" + std::to_string(created)},
                {"object", object},
                {"created", created},
                {"model", options.modelName},
                {"choices", nlohmann::json::array()},
                {"usage", {{"prompt_tokens", promptTokens}, {"completion_tokens", completionTokens},
                           {"total_tokens", promptTokens + completionTokens}}}};
    }

    nlohmann::json parseRequest(const httplib::Request &req) const
    {
        if (!options.apiKey.empty() && req.get_header_value("Authorization") != "Bearer " + options.apiKey)
            throw RequestError{401, "invalid or missing API key", "authentication_error"};
        nlohmann::json body;
        try {
            body = nlohmann::json::parse(req.body);
        } catch (const nlohmann::json::parse_error &e) {
            throw RequestError{400, std::string("the request body is not JSON: ") + e.what()};
        }
        if (!body.is_object())
            throw RequestError{400, "the request body must be a JSON object"};
        const std::string model = field<std::string>(body, "model", options.modelName);
        if (model != options.modelName)
            throw RequestError{404, "the model \"" + model + "\" does not exist; this server has \"" + options.modelName + "\""};
        return body;
    }

    void handle(httplib::Response &res, const std::function<nlohmann::json()> &work)
    {
        try {
            res.set_content(work().dump(), "application/json");
        } catch (const RequestError &e) {
            sendError(res, e);
        } catch (const std::exception &e) {
            sendError(res, {500, e.what(), "server_error"});
        }
    }
};

ModelServer::ModelServer(const std::filesystem::path &modelDirectory, ModelServerOptions options)
    : d(std::make_unique<State>(modelDirectory, std::move(options)))
{
    auto *s = d.get();
    s->server.Get("/v1/models", [s](const httplib::Request &, httplib::Response &res) {
        res.set_content(nlohmann::json{{"object", "list"},
                                       {"data", {{{"id", s->options.modelName}, {"object", "model"}, {"owned_by", "plad"}}}}}
                            .dump(),
                        "application/json");
    });
    s->server.Post("/v1/completions", [s](const httplib::Request &req, httplib::Response &res) {
        s->handle(res, [&] {
            const auto body = s->parseRequest(req);
            if (!body.contains("prompt") || !body["prompt"].is_string())
                throw RequestError{400, "\"prompt\" must be a string"};
            const auto completions = s->complete(s->tokenizer.encode(body["prompt"].get<std::string>()), body);
            auto out = s->envelope("text_completion", completions);
            for (size_t i = 0; i < completions.size(); ++i)
                out["choices"].push_back(
                    {{"index", i}, {"text", completions[i].text}, {"finish_reason", completions[i].finishReason}, {"logprobs", nullptr}});
            return out;
        });
    });
    s->server.Post("/v1/chat/completions", [s](const httplib::Request &req, httplib::Response &res) {
        s->handle(res, [&] {
            const auto body = s->parseRequest(req);
            if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
                throw RequestError{400, "\"messages\" must be a non-empty list"};
            PromptTemplate t = s->chatTemplate;
            std::string user;
            for (const auto &m : body["messages"]) {
                const std::string role = field<std::string>(m, "role", "");
                const std::string content = field<std::string>(m, "content", "");
                if (role == "system")
                    t.system = content;
                else if (role == "user")
                    user = content;
                else if (role != "assistant")
                    throw RequestError{400, "unknown message role \"" + role + "\""};
            }
            if (user.empty())
                throw RequestError{400, "no user message"};
            const auto completions = s->complete(t.encodePrompt(s->tokenizer, user), body);
            auto out = s->envelope("chat.completion", completions);
            for (size_t i = 0; i < completions.size(); ++i)
                out["choices"].push_back({{"index", i},
                                          {"message", {{"role", "assistant"}, {"content", completions[i].text}}},
                                          {"finish_reason", completions[i].finishReason}});
            return out;
        });
    });
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

} // namespace plad
