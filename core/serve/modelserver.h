#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace plad {

struct ModelServerOptions
{
    std::string host = "127.0.0.1"; ///< loopback unless the user opens it up
    int port = 8000;                ///< 0 picks a free port (see ModelServer::port())
    std::string modelName;          ///< the id clients send as "model"; default: the directory's name
    std::string apiKey;             ///< when set, requests must carry "Authorization: Bearer KEY"
    int64_t maxTokensLimit = 1024;  ///< largest max_tokens accepted
    std::string device = "cpu";
};

/**
 * Serves a local Hugging Face model over the OpenAI-compatible API: GET /v1/models,
 * POST /v1/completions and POST /v1/chat/completions (the last user message, with an optional
 * system message, rendered through the model's prompt_template.json). temperature 0 is greedy;
 * seed, top_p, stop and n are honoured. Requests are answered one generation at a time (the
 * model is not shared between threads); errors use OpenAI's {"error": {"message", "type"}} form.
 */
class ModelServer
{
public:
    ModelServer(const std::filesystem::path &modelDirectory, ModelServerOptions options);
    ~ModelServer();
    ModelServer(const ModelServer &) = delete;
    ModelServer &operator=(const ModelServer &) = delete;

    /** Binds the socket; throws Error when the address is taken. Returns the port. */
    int bind();
    int port() const;
    /** Serves until stop() (from another thread or a signal handler's helper thread). */
    void run();
    void stop();
    bool isRunning() const;

private:
    struct State;
    std::unique_ptr<State> d;
};

} // namespace plad
