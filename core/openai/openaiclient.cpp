#include "openai/openaiclient.h"

#include "common/configreader.h"
#include "common/text.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace plad {
namespace {

using Clock = std::chrono::steady_clock;

struct ParsedUrl
{
    std::string schemeHostPort; ///< "http://127.0.0.1:8000"
    std::string pathPrefix;     ///< "/v1"
};

ParsedUrl parseBaseUrl(const std::string &url)
{
    const auto scheme = url.find("://");
    if (scheme == std::string::npos || (url.compare(0, scheme, "http") != 0 && url.compare(0, scheme, "https") != 0))
        throw ConfigError("base_url: expected http://HOST[:PORT]/PATH or https://..., found \"" + url + "\"");
    const auto slash = url.find('/', scheme + 3);
    ParsedUrl p;
    p.schemeHostPort = url.substr(0, slash);
    p.pathPrefix = slash == std::string::npos ? "" : url.substr(slash);
    while (!p.pathPrefix.empty() && p.pathPrefix.back() == '/')
        p.pathPrefix.pop_back();
    if (p.schemeHostPort.size() <= scheme + 3)
        throw ConfigError("base_url: no host in \"" + url + "\"");
    return p;
}

std::string serverMessage(const std::string &body)
{
    try {
        const auto doc = nlohmann::json::parse(body);
        if (doc.contains("error")) {
            const auto &e = doc["error"];
            if (e.is_object() && e.contains("message") && e["message"].is_string())
                return oneLine(e["message"].get<std::string>(), 400);
            if (e.is_string())
                return oneLine(e.get<std::string>(), 400);
        }
    } catch (const nlohmann::json::exception &) {
    }
    return oneLine(body);
}

/** One request's outcome: a result, a retryable failure, or a fatal one. */
struct Attempt
{
    enum Kind { Ok, Retry, Fatal } kind = Ok;
    std::string text, finishReason, error;
    double retryAfter = -1; ///< seconds the server asked for, when it did
};

// The most a server may send for one completion: a real answer is a few KiB; a server that
// keeps sending is cut off instead of filling the memory.
constexpr size_t kMaxResponseBytes = 16u << 20;

Attempt sendOnce(httplib::Client &client, const std::string &path, const std::string &body, bool chat, const std::string &url,
                 double timeoutSeconds)
{
    Attempt a;
    httplib::Request request;
    request.method = "POST";
    request.path = path;
    request.body = body;
    request.set_header("Content-Type", "application/json");
    // The body as it arrives, within a size and a time limit: the read timeout alone does not
    // stop a server that sends a byte every few seconds.
    std::string received;
    bool tooLarge = false, tooSlow = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                                   std::chrono::duration<double>(2 * timeoutSeconds));
    request.content_receiver = [&](const char *data, size_t size, uint64_t, uint64_t) {
        if (received.size() + size > kMaxResponseBytes)
            return !(tooLarge = true);
        if (std::chrono::steady_clock::now() > deadline)
            return !(tooSlow = true);
        received.append(data, size);
        return true;
    };
    auto response = client.send(request);
    if (tooLarge || tooSlow) {
        a.kind = Attempt::Fatal;
        a.error = url + (tooLarge ? ": the response is larger than " + std::to_string(kMaxResponseBytes >> 20) + " MiB; not an answer to a completion"
                                  : ": the response did not arrive within " + std::to_string(static_cast<int>(2 * timeoutSeconds))
                                        + " s (twice timeout_seconds)");
        if (tooSlow)
            a.kind = Attempt::Retry;
        return a;
    }
    if (!response) {
        a.kind = Attempt::Retry;
        a.error = url + ": " + (response.error() == httplib::Error::Read ? std::string("timed out waiting for the response")
                                                                        : "cannot connect (" + httplib::to_string(response.error()) + ")");
        return a;
    }
    response->body = std::move(received);
    const int status = response->status;
    if (status == 429 || status >= 500) {
        a.kind = Attempt::Retry;
        a.error = url + ": HTTP " + std::to_string(status) + ": " + serverMessage(response->body);
        if (response->has_header("Retry-After")) {
            try {
                a.retryAfter = std::stod(response->get_header_value("Retry-After"));
            } catch (const std::exception &) {
            }
        }
        return a;
    }
    if (status != 200) {
        a.kind = Attempt::Fatal;
        std::string hint;
        if (status == 401 || status == 403)
            hint = " (authentication failed: check the API key)";
        else if (status == 404)
            hint = " (check base_url and the model name)";
        a.error = url + ": HTTP " + std::to_string(status) + hint + ": " + serverMessage(response->body);
        return a;
    }
    try {
        const auto doc = nlohmann::json::parse(response->body);
        const auto &choice = doc.at("choices").at(0);
        a.text = chat ? choice.at("message").at("content").get<std::string>() : choice.at("text").get<std::string>();
        if (choice.contains("finish_reason") && choice["finish_reason"].is_string())
            a.finishReason = choice["finish_reason"].get<std::string>();
    } catch (const nlohmann::json::exception &e) {
        a.kind = Attempt::Fatal;
        a.error = url + ": the response is not an OpenAI " + (chat ? "chat completion" : "completion") + " (" + e.what() + ")";
    }
    return a;
}

} // namespace

void OpenAiEndpoint::validate(const std::string &where) const
{
    try {
        parseBaseUrl(baseUrl);
    } catch (const ConfigError &e) {
        throw ConfigError(where + "." + e.what());
    }
    if (model.empty())
        throw ConfigError(where + ".model: is required (the model name the server knows)");
    if (concurrency < 1 || concurrency > 256)
        throw ConfigError(where + ".concurrency: must be in [1, 256]");
    if (!(timeoutSeconds > 0))
        throw ConfigError(where + ".timeout_seconds: must be positive");
    if (maxRetries < 0)
        throw ConfigError(where + ".max_retries: must not be negative");
    if (backoffSeconds < 0)
        throw ConfigError(where + ".backoff_seconds: must not be negative");
}

OpenAiEndpoint OpenAiEndpoint::fromConfig(const ConfigReader &r)
{
    OpenAiEndpoint e;
    r.read("base_url", e.baseUrl);
    r.read("model", e.model);
    r.read("api_key_env", e.apiKeyEnv);
    r.read("chat", e.chat);
    r.read("concurrency", e.concurrency);
    r.read("timeout_seconds", e.timeoutSeconds);
    r.read("max_retries", e.maxRetries);
    r.read("backoff_seconds", e.backoffSeconds);
    if (!r.has("base_url"))
        r.fail("base_url", "is required for an http endpoint (e.g. \"http://127.0.0.1:8000/v1\")");
    e.validate(r.location());
    return e;
}

nlohmann::json OpenAiEndpoint::toJson() const
{
    return {{"base_url", baseUrl}, {"model", model}, {"api_key_env", apiKeyEnv}, {"chat", chat}, {"concurrency", concurrency},
            {"timeout_seconds", timeoutSeconds}, {"max_retries", maxRetries}, {"backoff_seconds", backoffSeconds}};
}

void requestCompletions(const OpenAiEndpoint &endpoint, const CompletionSettings &settings, const std::vector<std::string> &prompts,
                        const std::function<void(const CompletionResult &)> &onResult, JobContext *context)
{
    endpoint.validate("teacher");
    const ParsedUrl url = parseBaseUrl(endpoint.baseUrl);
    const std::string path = url.pathPrefix + (endpoint.chat ? "/chat/completions" : "/completions");
    const std::string fullUrl = url.schemeHostPort + path;
    std::string apiKey;
    if (!endpoint.apiKeyEnv.empty()) {
        const char *value = std::getenv(endpoint.apiKeyEnv.c_str());
        if (!value || !*value)
            throw EndpointError("the environment variable " + endpoint.apiKeyEnv + " is not set; it should hold the API key for "
                                   + endpoint.baseUrl);
        apiKey = value;
    }

    std::atomic<size_t> next{0};
    std::atomic<bool> fatal{false};
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<CompletionResult> finished;
    std::string fatalMessage;
    int running = 0;

    auto stopRequested = [&] { return fatal.load() || (context && context->isCancelled()); };
    auto worker = [&] {
        httplib::Client client(url.schemeHostPort);
        const auto timeout = std::chrono::duration<double>(endpoint.timeoutSeconds);
        client.set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
        client.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
        client.set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
        if (!apiKey.empty())
            client.set_bearer_token_auth(apiKey);
        while (!stopRequested()) {
            const size_t index = next++;
            if (index >= prompts.size())
                break;
            nlohmann::json body = {{"model", endpoint.model},
                                   {"max_tokens", settings.maxTokens},
                                   {"temperature", settings.temperature},
                                   {"top_p", settings.topP}};
            if (endpoint.chat && index < settings.conversations.size() && !settings.conversations[index].empty())
                body["messages"] = nlohmann::json::parse(settings.conversations[index]);
            else if (endpoint.chat)
                body["messages"] = {{{"role", "user"}, {"content", prompts[index]}}};
            else
                body["prompt"] = prompts[index];
            if (index < settings.seeds.size())
                body["seed"] = settings.seeds[index];
            else if (settings.seed)
                body["seed"] = *settings.seed;
            if (!settings.stop.empty())
                body["stop"] = settings.stop;
            const std::string text = body.dump();

            CompletionResult result;
            result.index = index;
            double wait = endpoint.backoffSeconds;
            bool failedForGood = false;
            while (true) {
                ++result.attempts;
                const auto start = Clock::now();
                const Attempt a = sendOnce(client, path, text, endpoint.chat, fullUrl, endpoint.timeoutSeconds);
                if (a.kind == Attempt::Ok) {
                    result.text = a.text;
                    result.finishReason = a.finishReason;
                    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
                    result.error.clear();
                    break;
                }
                result.error = a.error;
                if (a.kind == Attempt::Fatal) {
                    failedForGood = true;
                    std::lock_guard lock(mutex);
                    if (!fatal.exchange(true))
                        fatalMessage = a.error;
                    break;
                }
                if (result.attempts > endpoint.maxRetries) {
                    result.error += " (gave up after " + std::to_string(result.attempts) + " attempts)";
                    break;
                }
                // Back off, waking early when the job is cancelled or another request failed for good.
                const double pause = std::min(60.0, a.retryAfter >= 0 ? a.retryAfter : wait);
                wait *= 2;
                const auto until = Clock::now() + std::chrono::duration<double>(pause);
                while (Clock::now() < until && !stopRequested())
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                if (stopRequested()) {
                    result.error += " (stopped before retrying)";
                    break;
                }
            }
            if (failedForGood)
                break; // reported once, by the exception
            std::lock_guard lock(mutex);
            finished.push_back(std::move(result));
            ready.notify_one();
        }
        std::lock_guard lock(mutex);
        --running;
        ready.notify_one();
    };

    const int threads = std::min<int>(endpoint.concurrency, static_cast<int>(std::max<size_t>(prompts.size(), 1)));
    std::vector<std::thread> pool;
    running = threads;
    for (int i = 0; i < threads; ++i)
        pool.emplace_back(worker);

    size_t delivered = 0;
    const auto started = Clock::now();
    std::exception_ptr callbackError;
    while (true) {
        std::unique_lock lock(mutex);
        ready.wait(lock, [&] { return !finished.empty() || running == 0; });
        if (finished.empty() && running == 0)
            break;
        CompletionResult r = std::move(finished.front());
        finished.pop_front();
        lock.unlock();
        if (!callbackError) {
            try {
                onResult(r);
            } catch (...) {
                // Stop the workers, then rethrow once they are joined.
                callbackError = std::current_exception();
                fatal = true;
            }
        }
        ++delivered;
        if (context) {
            const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
            const double rate = elapsed > 0 ? static_cast<double>(delivered) / elapsed : 0;
            const auto total = static_cast<int64_t>(prompts.size());
            context->report({"teacher requests", static_cast<int64_t>(delivered), total, "prompts", rate,
                             rate > 0 ? static_cast<double>(total - static_cast<int64_t>(delivered)) / rate : -1});
        }
    }
    for (auto &t : pool)
        t.join();
    if (callbackError)
        std::rethrow_exception(callbackError);
    if (!fatalMessage.empty())
        throw EndpointError(fatalMessage);
}

} // namespace plad
