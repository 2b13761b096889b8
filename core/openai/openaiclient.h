#pragma once

#include "common/error.h"
#include "common/jobcontext.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace plad {

class ConfigReader;

/** An endpoint failed in a way retrying will not fix (bad key, unknown model, bad request). */
class EndpointError : public Error
{
public:
    using Error::Error;
};

/**
 * Where and how to reach an OpenAI-compatible server (vLLM, llama.cpp's server, Ollama,
 * `plad serve`, a hosted API).
 */
struct OpenAiEndpoint
{
    std::string baseUrl;            ///< up to and including /v1, e.g. "http://127.0.0.1:8000/v1"
    std::string model;              ///< the "model" field of each request
    std::string apiKeyEnv;          ///< name of the environment variable with the key; empty: no key
    bool chat = false;              ///< /chat/completions (the conversation, or the prompt as one user message) instead of /completions
    int concurrency = 4;            ///< requests in flight
    double timeoutSeconds = 60;     ///< per request: connecting and each read
    int maxRetries = 4;             ///< for connection failures, timeouts, 429 and 5xx
    double backoffSeconds = 1.0;    ///< first wait; doubles each retry (or the server's Retry-After)

    /** Throws ConfigError naming the field (`where`.field) when a value is unusable. */
    void validate(const std::string &where) const;

    /**
     * Reads base_url (required), model, api_key_env, chat, concurrency, timeout_seconds,
     * max_retries and backoff_seconds from the reader's object and validates them; the caller
     * decides which other fields the object may hold.
     */
    static OpenAiEndpoint fromConfig(const ConfigReader &reader);
    /** The fields above (the key itself is never stored: only the name of its variable). */
    nlohmann::json toJson() const;
};

/** Sampling settings sent with every request. */
struct CompletionSettings
{
    int64_t maxTokens = 64;
    double temperature = 1.0;
    double topP = 1.0;
    std::optional<uint64_t> seed;   ///< sent as "seed" (servers that support it become repeatable)
    std::vector<uint64_t> seeds;    ///< one per prompt, sent instead of `seed` when given
    std::vector<std::string> stop;
    /** Chat endpoints: one JSON list of messages per prompt, sent as "messages" instead of the
     *  prompt as one user message (empty entries, or none: the prompt text). */
    std::vector<std::string> conversations;
};

struct CompletionResult
{
    size_t index = 0;               ///< position of the prompt in the request list
    std::string text;
    std::string finishReason;       ///< "stop", "length", ... as the server said
    double seconds = 0;             ///< wall time of the successful request
    int attempts = 0;
    std::string error;              ///< non-empty when this prompt failed after all retries
};

/**
 * Sends `prompts` to the endpoint with up to `concurrency` requests in flight and retries with
 * exponential backoff on connection failures, timeouts, 429 and 5xx. `onResult` is called on
 * the calling thread as each prompt finishes (successfully or not), in completion order, so the
 * caller can store results at once. Cancellation through `context` stops sending new requests;
 * requests in flight finish first. A response that no retry can fix (401, 403, 404, other 4xx)
 * stops the whole call with EndpointError after the finished results were delivered.
 */
void requestCompletions(const OpenAiEndpoint &endpoint, const CompletionSettings &settings, const std::vector<std::string> &prompts,
                        const std::function<void(const CompletionResult &)> &onResult, JobContext *context = nullptr);

} // namespace plad
