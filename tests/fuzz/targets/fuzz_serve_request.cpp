// What clients send `plad serve`: raw HTTP requests (request line, headers, sized or chunked
// bodies, malformed or hostile JSON, wrong types, huge values) written to a socket of an
// in-process ModelServer serving the demo's student. Every answer must be a well-formed HTTP
// response; a 500 (an internal error) is a finding, as is a server that stops answering.
#include "fuzzsupport.h"

#include "common/error.h"
#include "serve/modelserver.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PLAD_FUZZ_MODEL
#error "PLAD_FUZZ_MODEL: the model directory the harness serves"
#endif

namespace {

struct Served
{
    std::unique_ptr<plad::ModelServer> server;
    std::thread thread;
    int port = 0;
    Served()
    {
        plad::ModelServerOptions options;
        options.port = 0;
        options.modelName = "student";
        options.maxTokensLimit = 4; // short generations: the fuzzing is of the request handling
        options.readTimeoutSeconds = 0.05; // a request that never completes ends soon
        server = std::make_unique<plad::ModelServer>(PLAD_FUZZ_MODEL, options);
        port = server->bind();
        thread = std::thread([this] { server->run(); });
        thread.detach();
        while (!server->isRunning())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
};

/** Whether `answer` holds a whole final response (by its Content-Length, or its last chunk). */
bool complete(const std::string &answer)
{
    const size_t head = answer.find("\r\n\r\n");
    if (head == std::string::npos || answer.rfind("HTTP/1.1 1", 0) == 0)
        return false;
    std::string headers = answer.substr(0, head);
    std::transform(headers.begin(), headers.end(), headers.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (const size_t at = headers.find("\r\ncontent-length: "); at != std::string::npos)
        return answer.size() - head - 4 >= std::strtoull(headers.c_str() + at + 18, nullptr, 10);
    if (headers.find("\r\ntransfer-encoding: chunked") != std::string::npos)
        return answer.size() >= 5 && answer.compare(answer.size() - 5, 5, "0\r\n\r\n") == 0;
    return false;
}

/** Sends `request` and reads the answer. */
std::string exchange(int port, const std::string &request)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(uint16_t(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0)
        plad::fuzz::defect("the server does not accept connections any more");
    size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break; // the server may close early on a bad request: its answer is still there
        sent += size_t(n);
    }
    // No half-close: the HTTP library drops a request whose sender has shut down its side.
    // The answer is complete when the server closes, or once it has gone quiet for 300 ms after
    // it began (a keep-alive connection stays open); a request it cannot read ends with its
    // read timeout (50 ms here) and no answer.
    std::string answer;
    char buffer[8192];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, answer.empty() ? 1000 : 300) == 0) {
            if (!answer.empty())
                break;
            if (std::chrono::steady_clock::now() > deadline)
                plad::fuzz::defect("no answer after 20 s");
            continue;
        }
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0)
            break;
        answer.append(buffer, size_t(n));
        if (complete(answer))
            break;
    }
    ::close(fd);
    return answer;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Served served;
    const std::string request(reinterpret_cast<const char *>(data), size);
    std::string answer = exchange(served.port, request);
    // Interim answers ("Expect: 100-continue" gets "100 Continue") come before the final one.
    while (answer.rfind("HTTP/1.1 1", 0) == 0 && answer.find("\r\n\r\n") != std::string::npos)
        answer.erase(0, answer.find("\r\n\r\n") + 4);
    // An empty answer is how the server treats a request it cannot even read (no request line).
    if (answer.empty())
        return 0;
    if (answer.rfind("HTTP/1.1 ", 0) != 0 || answer.size() < 12)
        plad::fuzz::defect("not an HTTP response: " + answer.substr(0, 80));
    const int status = std::atoi(answer.c_str() + 9);
    if (std::getenv("PLAD_FUZZ_VERBOSE"))
        std::fprintf(stderr, "%d %s\n", status, answer.substr(answer.find("\r\n\r\n") + 4, 160).c_str());
    if (status < 200 || status > 599)
        plad::fuzz::defect("status " + std::to_string(status));
    if (status == 500)
        plad::fuzz::defect("an internal error: " + answer.substr(0, 400));
    return 0;
}

// Keeps the request's shape: mutates its JSON body (fixing Content-Length, mostly), the path,
// a header, or the raw bytes.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize, unsigned int seed)
{
    plad::fuzz::Random random(seed);
    static const plad::fuzz::Dictionary dict{
        {"model", "prompt", "messages", "role", "content", "max_tokens", "max_completion_tokens", "temperature", "top_p",
         "top_k", "n", "stop", "seed", "stream", "stream_options", "include_usage", "logprobs", "top_logprobs",
         "repetition_penalty", "type", "text"},
        {"student", "user", "system", "assistant", "tool", 0, 16, 17, 1e9, -1, true, nlohmann::json::array({1, 2, 3}),
         nlohmann::json::array({{{"type", "text"}, {"text", "hi"}}}), nlohmann::json{{"include_usage", true}}}};
    std::string bytes(reinterpret_cast<char *>(data), size);
    const size_t head = bytes.find("\r\n\r\n");
    if (head == std::string::npos || random.chance(15))
        return plad::fuzz::store(plad::fuzz::mutateBytes(bytes, maxSize), data, maxSize);
    std::string headers = bytes.substr(0, head + 4), body = bytes.substr(head + 4);
    switch (random.below(6)) {
    case 0: { // another path or method
        static const char *lines[] = {"POST /v1/completions HTTP/1.1", "POST /v1/chat/completions HTTP/1.1", "GET /v1/models HTTP/1.1",
                                      "GET /v1/completions HTTP/1.1", "POST /v1/../../etc HTTP/1.1", "PUT /v1/models HTTP/1.0",
                                      "POST /v1/chat/completions?x=%ff%00 HTTP/1.1"};
        headers = lines[random.below(std::size(lines))] + headers.substr(headers.find("\r\n"));
        break;
    }
    case 1: { // a header added
        static const char *extra[] = {"Transfer-Encoding: chunked\r\n", "Content-Length: 99999999999\r\n", "Content-Length: -4\r\n",
                                      "Authorization: Bearer x\r\n", "Expect: 100-continue\r\n", "Content-Type: text/plain\r\n",
                                      "Connection: keep-alive\r\n", "Accept-Encoding: gzip\r\n"};
        headers.insert(headers.size() - 2, extra[random.below(std::size(extra))]);
        break;
    }
    default:
        body = plad::fuzz::mutateJson(body, maxSize, random, dict);
        break;
    }
    const size_t cl = headers.find("Content-Length: ");
    if (cl != std::string::npos && random.chance(85)) {
        const size_t end = headers.find("\r\n", cl);
        headers = headers.substr(0, cl) + "Content-Length: " + std::to_string(body.size()) + headers.substr(end);
    }
    return plad::fuzz::store(headers + body, data, maxSize);
}
