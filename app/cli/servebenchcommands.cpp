// plad bench serving: plad serve under many concurrent clients on loopback.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "common/error.h"
#include "model/runtime.h"
#include "plad/demostudy.h"
#include "serve/loadgenerator.h"
#include "serve/modelserver.h"

#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

namespace plad::cli {

namespace {

/** Resident memory of this process in MiB (VmRSS), 0 when /proc cannot say. */
double residentMiB()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stod(line.substr(6)) / 1024.0;
    return 0;
}

} // namespace

void addServeBenchmark(CLI::App &bench)
{
    struct Args
    {
        std::string model;
        int clients = 64;
        double seconds = 20;
        int64_t maxTokens = 16;
        ModelServerOptions server;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    a->server.port = 0;
    auto *command = bench.add_subcommand("serving", "plad serve under concurrent clients on loopback for a bounded time: requests/s, "
                                                  "latency percentiles, statuses (200, 429 queue full, 503 waited too long), memory");
    command->add_option("MODEL_DIR", a->model, "the model to serve (default: the demo's student)");
    command->add_option("--clients", a->clients, "concurrent clients, each one request at a time")->check(CLI::Range(1, 1024))->capture_default_str();
    command->add_option("--seconds", a->seconds, "how long the clients send")->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--max-tokens", a->maxTokens, "max_tokens of each request")->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--max-queue", a->server.maxQueue, "the server's --max-queue")->capture_default_str();
    command->add_option("--queue-timeout", a->server.queueTimeoutSeconds, "the server's --queue-timeout")->capture_default_str();
    command->add_option("--connections", a->server.connectionThreads, "the server's --connections")->capture_default_str();
    command->add_flag("--json", a->json, "print one JSON document instead of the table");
    command->callback([a] {
        const std::filesystem::path model = a->model.empty() ? defaultDemoDirectory() / "student" : std::filesystem::path(a->model);
        ModelServer server(model, a->server);
        const int port = server.bind();
        std::thread serving([&server] { server.run(); });
        struct Stop
        {
            ModelServer &server;
            std::thread &thread;
            ~Stop()
            {
                server.stop();
                thread.join();
            }
        } stop{server, serving};

        ServeLoadOptions load;
        load.port = port;
        load.clients = a->clients;
        load.body = nlohmann::json{{"messages", {{{"role", "user"},
                                                  {"content", "abGate is a LV2 noise gate plugin in the LV2 format to manage noise. A noise gate "
                                                              "attenuates an audio signal when it falls below a set threshold."}}}},
                                   {"max_tokens", a->maxTokens},
                                   {"temperature", 0}}
                        .dump();
        {
            // One request first: the model's first forward pass allocates its caches.
            ServeLoadOptions warm = load;
            warm.clients = 1;
            warm.seconds = 0.001;
            runServeLoad(warm);
        }
        const double rssBefore = residentMiB();
        load.seconds = a->seconds;
        const ServeLoadResult r = runServeLoad(load);
        const double rssAfter = residentMiB();
        const ModelServerStats s = server.stats();
        const RuntimeInfo info = runtimeInfo();
        nlohmann::json doc = r.toJson();
        doc["model"] = model.string();
        doc["max_tokens"] = a->maxTokens;
        doc["server"] = {{"max_queue", a->server.maxQueue},
                         {"queue_timeout_seconds", a->server.queueTimeoutSeconds},
                         {"connections", a->server.connectionThreads},
                         {"completed", s.completed},
                         {"rejected_queue_full", s.rejectedFull},
                         {"timed_out", s.timedOut},
                         {"client_errors", s.clientErrors},
                         {"server_errors", s.serverErrors}};
        doc["resident_mib"] = {{"before", rssBefore}, {"after", rssAfter}};
        doc["threads"] = info.intraOpThreads;
        doc["blas"] = info.blasName;
        if (a->json) {
            printJson(doc);
        } else {
            std::cout << "plad serve " << model.string() << " (max queue " << a->server.maxQueue << ", queue timeout "
                      << fixed(a->server.queueTimeoutSeconds, 1) << " s, " << a->server.connectionThreads << " connections, "
                      << info.intraOpThreads << " Torch threads)\n"
                      << r.clients << " clients for " << fixed(r.seconds, 1) << " s, max_tokens " << a->maxTokens << ": " << r.requests
                      << " requests, " << fixed(r.completedPerSecond, 1) << " completed/s\n"
                      << "  latency of 200s: p50 " << fixed(r.p50Ms, 0) << " ms, p90 " << fixed(r.p90Ms, 0) << " ms, p99 "
                      << fixed(r.p99Ms, 0) << " ms, max " << fixed(r.maxMs, 0) << " ms; a 429 takes " << fixed(r.rejectedP50Ms, 1)
                      << " ms (p50)\n  statuses:";
            for (const auto &[status, n] : r.statuses)
                std::cout << ' ' << status << " x" << n;
            std::cout << "; transport errors " << r.transportErrors
                      << (r.firstTransportError.empty() ? "" : " (first: " + r.firstTransportError + ")") << '\n'
                      << "  afterwards: " << (r.healthyAfter ? "healthy" : "NOT healthy") << " (" << r.afterStatus
                      << "); resident memory " << fixed(rssBefore, 0) << " MiB before, " << fixed(rssAfter, 0) << " MiB after\n";
        }
        if (!r.healthyAfter || r.transportErrors > 0 || s.serverErrors > 0)
            throw Error("the server did not stay healthy under load (see above)");
    });
}

} // namespace plad::cli
