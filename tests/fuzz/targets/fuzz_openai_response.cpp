// What a teacher or judge endpoint answers: the raw HTTP response (status line, headers,
// chunked or sized bodies, truncated, malformed or huge JSON, wrong shapes) sent by a local
// socket to requestCompletions. A "X-Fuzz-Delay-Ms: N" header makes the server wait N ms
// (at most 400) before answering, past the client's 250 ms timeout: a slow server.
#include "fuzzsupport.h"

#include "common/error.h"
#include "openai/openaiclient.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

/** A one-connection-at-a-time server that answers every request with the current input. */
class RawServer
{
public:
    RawServer()
    {
        mListener = ::socket(AF_INET, SOCK_STREAM, 0);
        const int yes = 1;
        ::setsockopt(mListener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(mListener, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 || ::listen(mListener, 16) != 0)
            plad::fuzz::defect("cannot listen on loopback");
        socklen_t length = sizeof address;
        ::getsockname(mListener, reinterpret_cast<sockaddr *>(&address), &length);
        mPort = ntohs(address.sin_port);
        std::thread([this] { serve(); }).detach();
    }
    int port() const { return mPort; }
    void setResponse(std::string response)
    {
        std::lock_guard lock(mMutex);
        mResponse = std::move(response);
    }

private:
    void serve()
    {
        for (;;) {
            const int client = ::accept(mListener, nullptr, nullptr);
            if (client < 0)
                continue;
            // Read the request head and its body (Content-Length), then answer.
            std::string request;
            char buffer[4096];
            size_t want = std::string::npos;
            while (request.size() < want) {
                const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
                if (n <= 0)
                    break;
                request.append(buffer, size_t(n));
                const size_t head = request.find("\r\n\r\n");
                if (head != std::string::npos && want == std::string::npos) {
                    const size_t cl = request.find("Content-Length: ");
                    want = head + 4 + (cl != std::string::npos && cl < head ? std::stoul(request.substr(cl + 16)) : 0);
                }
            }
            std::string response;
            {
                std::lock_guard lock(mMutex);
                response = mResponse;
            }
            const size_t delay = response.find("X-Fuzz-Delay-Ms: ");
            if (delay != std::string::npos) {
                const long ms = std::strtol(response.c_str() + delay + 17, nullptr, 10);
                std::this_thread::sleep_for(std::chrono::milliseconds(std::clamp(ms, 0L, 400L)));
            }
            size_t sent = 0;
            while (sent < response.size()) {
                const ssize_t n = ::send(client, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
                if (n <= 0)
                    break;
                sent += size_t(n);
            }
            ::shutdown(client, SHUT_RDWR);
            ::close(client);
        }
    }
    int mListener = -1;
    int mPort = 0;
    std::mutex mMutex;
    std::string mResponse;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace plad;
    static RawServer server;
    if (size < 1)
        return 0;
    const bool chat = data[0] & 1;
    server.setResponse(std::string(reinterpret_cast<const char *>(data) + 1, size - 1));
    OpenAiEndpoint endpoint;
    endpoint.baseUrl = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1";
    endpoint.model = "teacher";
    endpoint.chat = chat;
    endpoint.concurrency = 1;
    endpoint.maxRetries = 0;
    endpoint.timeoutSeconds = 0.25;
    CompletionSettings settings;
    settings.maxTokens = 8;
    int results = 0;
    try {
        requestCompletions(endpoint, settings, {"Summarize: a b c"}, [&](const CompletionResult &r) {
            ++results;
            if (!r.error.empty())
                fuzz::expectCleanRejection(r.error, endpoint.baseUrl);
        });
    } catch (const Error &e) {
        fuzz::expectCleanRejection(e.what(), endpoint.baseUrl);
        return 0;
    }
    if (results != 1)
        fuzz::defect("requestCompletions delivered " + std::to_string(results) + " results for one prompt");
    return 0;
}

// Keeps the response's shape: mutates the JSON body (and fixes Content-Length, mostly), a
// header, the status code, or the raw bytes.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize, unsigned int seed)
{
    plad::fuzz::Random random(seed);
    static const plad::fuzz::Dictionary dict{
        {"choices", "text", "message", "content", "role", "finish_reason", "index", "error", "usage", "id", "object"},
        {"stop", "length", nullptr, "assistant", nlohmann::json::array(),
         nlohmann::json{{"message", "overloaded"}, {"type", "server_error"}}}};
    std::string bytes(reinterpret_cast<char *>(data), size);
    const size_t head = bytes.find("\r\n\r\n");
    if (size < 2 || head == std::string::npos || random.chance(15))
        return plad::fuzz::store(plad::fuzz::mutateBytes(bytes, maxSize), data, maxSize);
    std::string flag = bytes.substr(0, 1), headers = bytes.substr(1, head + 4 - 1), body = bytes.substr(head + 4);
    switch (random.below(6)) {
    case 0: { // another status
        static const char *codes[] = {"200", "201", "204", "301", "400", "401", "404", "429", "500", "503", "999", "-1", ""};
        const size_t sp = headers.find(' ');
        const size_t end = sp == std::string::npos ? sp : headers.find_first_of(" \r", sp + 1);
        if (end != std::string::npos)
            headers = headers.substr(0, sp + 1) + codes[random.below(std::size(codes))] + headers.substr(end);
        break;
    }
    case 1: { // a header added
        static const char *extra[] = {"Retry-After: 0\r\n", "Retry-After: -5\r\n", "Retry-After: abc\r\n", "Retry-After: 1e308\r\n",
                                      "Transfer-Encoding: chunked\r\n", "Content-Encoding: gzip\r\n", "X-Fuzz-Delay-Ms: 300\r\n",
                                      "Content-Length: 99999999\r\n", "Content-Length: -1\r\n", "Connection: close\r\n"};
        headers.insert(headers.size() - 2, extra[random.below(std::size(extra))]);
        break;
    }
    case 2:
        flag[0] = char(flag[0] ^ 1);
        break;
    default:
        body = plad::fuzz::mutateJson(body, maxSize, random, dict);
        break;
    }
    const size_t cl = headers.find("Content-Length: ");
    if (cl != std::string::npos && random.chance(85)) {
        const size_t end = headers.find("\r\n", cl);
        headers = headers.substr(0, cl) + "Content-Length: " + std::to_string(body.size()) + headers.substr(end);
    }
    return plad::fuzz::store(flag + headers + body, data, maxSize);
}
