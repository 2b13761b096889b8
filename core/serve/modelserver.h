#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
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
    // Limits under load. One generation runs at a time; up to maxQueue more wait for the model
    // (a request beyond that is answered 429 at once, with Retry-After), and one that waits
    // longer than queueTimeoutSeconds is answered 503. Bodies over maxBodyBytes get 413.
    int maxQueue = 8;
    double queueTimeoutSeconds = 60;
    size_t maxBodyBytes = 1 << 20;
    int connectionThreads = 16;       ///< connections served at once (the others wait to be read)
    double readTimeoutSeconds = 10;   ///< a client that sends nothing for this long is dropped
    double writeTimeoutSeconds = 30;  ///< a client that reads nothing for this long is dropped
    /** Called with the model held, before each generation (tests hold the model busy with it). */
    std::function<void()> whileHoldingModel;
};

/** What the server has done so far (counts since start). */
struct ModelServerStats
{
    uint64_t completed = 0;   ///< answered 200
    uint64_t rejectedFull = 0; ///< 429: the queue was full
    uint64_t timedOut = 0;    ///< 503: waited longer than the queue timeout
    uint64_t clientErrors = 0; ///< other 4xx
    uint64_t serverErrors = 0; ///< 5xx other than 503
    int queued = 0;           ///< requests waiting for or holding the model now
};

/**
 * Serves a local Hugging Face model over the OpenAI-compatible API: GET /v1/models,
 * POST /v1/completions and POST /v1/chat/completions (the last user message, with an optional
 * system message, rendered through the model's prompt_template.json). temperature 0 is greedy;
 * seed, top_p, stop and n are honoured. Requests are answered one generation at a time (the
 * model is not shared between threads) behind a bounded queue (ModelServerOptions); errors use
 * OpenAI's {"error": {"message", "type"}} form.
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
    ModelServerStats stats() const;

private:
    struct State;
    std::unique_ptr<State> d;
};

} // namespace plad
