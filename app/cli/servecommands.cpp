// plad serve: a local model behind the OpenAI-compatible HTTP API.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "common/error.h"
#include "serve/modelserver.h"

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>

#include <unistd.h>

namespace plad::cli {
namespace {

// SIGINT/SIGTERM stop the server from a helper thread (stopping is not async-signal-safe).
int gSignalPipe[2] = {-1, -1};

void onSignal(int)
{
    const char byte = 1;
    [[maybe_unused]] const auto n = ::write(gSignalPipe[1], &byte, 1);
}

} // namespace

void addServeCommand(CLI::App &app)
{
    struct Args
    {
        std::string directory, apiKeyEnv;
        ModelServerOptions options;
    };
    auto a = std::make_shared<Args>();
    auto *serve = app.add_subcommand("serve", "Serve a local model over the OpenAI-compatible API (/v1/completions, "
                                              "/v1/chat/completions, /v1/models)");
    serve->add_option("MODEL_DIR", a->directory, "Hugging Face model directory with its tokenizer.json")->required();
    serve->add_option("--port", a->options.port, "TCP port (0: any free port, printed at start)")->capture_default_str();
    serve->add_option("--host", a->options.host, "address to listen on; keep 127.0.0.1 unless others must reach it")
        ->capture_default_str();
    serve->add_option("--model-name", a->options.modelName, "model id clients use (default: the directory's name)");
    serve->add_option("--api-key-env", a->apiKeyEnv, "require the key held in this environment variable as a Bearer token");
    serve->add_option("--max-tokens-limit", a->options.maxTokensLimit, "largest max_tokens a request may ask for")
        ->capture_default_str();
    serve->add_option("--max-queue", a->options.maxQueue, "requests that may wait for the model beside the one generating; more get 429")
        ->check(CLI::Range(0, 4096))
        ->capture_default_str();
    serve->add_option("--queue-timeout", a->options.queueTimeoutSeconds, "seconds a request may wait for the model before it gets 503")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    serve->add_option("--max-body", a->options.maxBodyBytes, "largest request body in bytes; larger ones get 413")
        ->check(CLI::Range(size_t(1024), size_t(1) << 30))
        ->capture_default_str();
    serve->add_option("--connections", a->options.connectionThreads, "connections served at once")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    serve->add_option("--read-timeout", a->options.readTimeoutSeconds, "seconds of silence from a client before it is dropped")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    serve->callback([a] {
        if (!a->apiKeyEnv.empty()) {
            const char *key = std::getenv(a->apiKeyEnv.c_str());
            if (!key || !*key)
                throw Error("--api-key-env: the environment variable " + a->apiKeyEnv + " is not set");
            a->options.apiKey = key;
        }
        ModelServer server(a->directory, a->options);
        const int port = server.bind();
        if (::pipe(gSignalPipe) != 0)
            throw Error("cannot create the signal pipe");
        std::signal(SIGINT, onSignal);
        std::signal(SIGTERM, onSignal);
        std::thread stopper([&server] {
            char byte = 0;
            if (::read(gSignalPipe[0], &byte, 1) == 1)
                server.stop();
        });
        // The first line on stdout tells scripts (and tests) where to connect.
        std::cout << nlohmann::json{{"listening", "http://" + a->options.host + ":" + std::to_string(port) + "/v1"}}.dump() << std::endl;
        server.run();
        onSignal(0); // release the stopper when the server ended on its own
        stopper.join();
    });
}

} // namespace plad::cli
