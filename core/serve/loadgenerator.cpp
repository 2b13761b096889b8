#include "serve/loadgenerator.h"

#include "common/error.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace plad {

namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> values, double p)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
    const auto low = static_cast<size_t>(std::floor(rank));
    const auto high = std::min(values.size() - 1, low + 1);
    return values[low] + (rank - static_cast<double>(low)) * (values[high] - values[low]);
}

void setTimeout(httplib::Client &client, double seconds)
{
    const auto whole = static_cast<time_t>(seconds);
    const auto micro = static_cast<time_t>((seconds - static_cast<double>(whole)) * 1e6);
    client.set_connection_timeout(whole, micro);
    client.set_read_timeout(whole, micro);
    client.set_write_timeout(whole, micro);
}

} // namespace

uint64_t ServeLoadResult::count(int status) const
{
    const auto it = statuses.find(status);
    return it == statuses.end() ? 0 : it->second;
}

nlohmann::json ServeLoadResult::toJson() const
{
    nlohmann::json byStatus = nlohmann::json::object();
    for (const auto &[status, n] : statuses)
        byStatus[std::to_string(status)] = n;
    return {{"clients", clients},
            {"seconds", seconds},
            {"requests", requests},
            {"statuses", byStatus},
            {"transport_errors", transportErrors},
            {"first_transport_error", firstTransportError},
            {"completed_per_second", completedPerSecond},
            {"latency_ms", {{"p50", p50Ms}, {"p90", p90Ms}, {"p99", p99Ms}, {"max", maxMs}}},
            {"rejected_p50_ms", rejectedP50Ms},
            {"healthy_after", healthyAfter},
            {"after_status", afterStatus}};
}

ServeLoadResult runServeLoad(const ServeLoadOptions &options)
{
    if (options.clients < 1 || options.clients > 4096)
        throw UsageError("the number of clients must be in [1, 4096], found " + std::to_string(options.clients));
    if (!(options.seconds > 0))
        throw UsageError("the load must last a positive number of seconds");
    if (options.port <= 0 || options.port > 65535)
        throw UsageError("no server port to send the load to");

    struct ClientTally
    {
        std::map<int, uint64_t> statuses;
        uint64_t transportErrors = 0;
        std::string firstTransportError;
        std::vector<double> okMs, rejectedMs;
    };
    std::vector<ClientTally> tallies(static_cast<size_t>(options.clients));
    const auto started = Clock::now();
    const auto deadline = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
    httplib::Headers headers;
    if (!options.apiKey.empty())
        headers.emplace("Authorization", "Bearer " + options.apiKey);

    std::vector<std::thread> clients;
    clients.reserve(tallies.size());
    for (auto &tally : tallies)
        clients.emplace_back([&options, &tally, &headers, deadline] {
            httplib::Client client(options.host, options.port);
            setTimeout(client, options.requestTimeoutSeconds);
            client.set_keep_alive(true);
            while (Clock::now() < deadline) {
                const auto sent = Clock::now();
                const auto response = client.Post(options.path, headers, options.body, "application/json");
                const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
                if (!response) {
                    if (tally.transportErrors++ == 0)
                        tally.firstTransportError = httplib::to_string(response.error());
                    std::this_thread::sleep_for(std::chrono::milliseconds(options.backoffMilliseconds));
                    continue;
                }
                ++tally.statuses[response->status];
                if (response->status == 200)
                    tally.okMs.push_back(ms);
                else if (response->status == 429)
                    tally.rejectedMs.push_back(ms);
                if (response->status == 429 || response->status == 503)
                    std::this_thread::sleep_for(std::chrono::milliseconds(options.backoffMilliseconds));
            }
        });
    for (auto &t : clients)
        t.join();

    ServeLoadResult result;
    result.clients = options.clients;
    result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    std::vector<double> okMs, rejectedMs;
    for (const auto &t : tallies) {
        for (const auto &[status, n] : t.statuses) {
            result.statuses[status] += n;
            result.requests += n;
        }
        result.requests += t.transportErrors;
        if (result.transportErrors == 0 && t.transportErrors > 0)
            result.firstTransportError = t.firstTransportError;
        result.transportErrors += t.transportErrors;
        okMs.insert(okMs.end(), t.okMs.begin(), t.okMs.end());
        rejectedMs.insert(rejectedMs.end(), t.rejectedMs.begin(), t.rejectedMs.end());
    }
    result.completedPerSecond = static_cast<double>(okMs.size()) / result.seconds;
    result.p50Ms = percentile(okMs, 50);
    result.p90Ms = percentile(okMs, 90);
    result.p99Ms = percentile(okMs, 99);
    result.maxMs = okMs.empty() ? 0 : *std::max_element(okMs.begin(), okMs.end());
    result.rejectedP50Ms = percentile(rejectedMs, 50);

    httplib::Client probe(options.host, options.port);
    setTimeout(probe, 10);
    const auto after = probe.Get("/v1/models", headers);
    result.healthyAfter = after && after->status == 200;
    result.afterStatus = after ? "HTTP " + std::to_string(after->status) : httplib::to_string(after.error());
    return result;
}

} // namespace plad
