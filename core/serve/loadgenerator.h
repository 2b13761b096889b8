#pragma once
// Many concurrent clients against an OpenAI-compatible server (plad serve, or any other), for a
// bounded time: what `plad bench serving` measures and the load test asserts.

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace plad {

struct ServeLoadOptions
{
    std::string host = "127.0.0.1";
    int port = 0;
    std::string apiKey;                      ///< sent as a Bearer token when set
    std::string path = "/v1/chat/completions";
    std::string body;                        ///< the request every client sends, JSON
    int clients = 64;                        ///< concurrent connections, each one request at a time
    double seconds = 10;                     ///< clients stop sending after this long
    double requestTimeoutSeconds = 120;      ///< a response slower than this counts as a transport error
    int backoffMilliseconds = 50;            ///< a client waits this long after a 429 or 503
};

struct ServeLoadResult
{
    int clients = 0;
    double seconds = 0;                      ///< wall time, until the last response
    uint64_t requests = 0;                   ///< responses and transport errors
    std::map<int, uint64_t> statuses;        ///< HTTP status -> count
    uint64_t transportErrors = 0;            ///< no HTTP response at all (refused, reset, timed out)
    std::string firstTransportError;
    double completedPerSecond = 0;           ///< 200 responses a second
    double p50Ms = 0, p90Ms = 0, p99Ms = 0, maxMs = 0; ///< latency of the 200 responses
    double rejectedP50Ms = 0;                ///< latency of the 429 responses (how fast a full server says so)
    bool healthyAfter = false;               ///< GET /v1/models answered 200 once the load ended
    std::string afterStatus;                 ///< what it answered otherwise

    uint64_t count(int status) const;
    nlohmann::json toJson() const;
};

/** Runs the load; throws Error when the options are unusable. */
ServeLoadResult runServeLoad(const ServeLoadOptions &options);

} // namespace plad
