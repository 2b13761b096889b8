#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>

namespace plad {

/** One progress report of a long core call. Units are stated per field. */
struct JobProgress
{
    std::string stage;        ///< what is running, e.g. "generate"
    int64_t done = 0;         ///< units finished (steps, tokens, prompts: see `unit`)
    int64_t total = 0;        ///< units expected; 0 when unknown
    std::string unit;         ///< "tokens", "steps", ...
    double ratePerSecond = 0; ///< units per second over the call so far
    double etaSeconds = -1;   ///< estimated seconds left; negative when unknown
};

/**
 * The context every long core call takes: a cancellation token polled at step/batch
 * boundaries and a progress callback.
 *
 * Threading: the callback is invoked on the thread that runs the core call (a worker thread
 * in the GUI, the main thread in the CLI). It must be cheap and must not block; receivers in
 * other threads should copy the JobProgress value and hand it over (e.g. a queued signal).
 * Reports are throttled to at most `maxReportsPerSecond` except the final one.
 */
class JobContext
{
public:
    JobContext() = default;
    explicit JobContext(std::stop_token stop, std::function<void(const JobProgress &)> onProgress = {})
        : mStop(std::move(stop))
        , mOnProgress(std::move(onProgress))
    {}

    bool isCancelled() const { return mStop.stop_requested(); }

    /** A context with the same cancellation but no progress reports (for inner calls whose progress the caller reports). */
    JobContext silent() const { return JobContext(mStop); }
    /** A context with the same cancellation and its own progress callback. */
    JobContext withProgress(std::function<void(const JobProgress &)> onProgress) const { return JobContext(mStop, std::move(onProgress)); }

    /** Reports progress; `force` bypasses the throttle (use it for the last report). */
    void report(const JobProgress &progress, bool force = false)
    {
        if (!mOnProgress)
            return;
        const auto now = std::chrono::steady_clock::now();
        if (!force && now - mLastReport < std::chrono::milliseconds(1000 / maxReportsPerSecond))
            return;
        mLastReport = now;
        mOnProgress(progress);
    }

    static constexpr int maxReportsPerSecond = 10;

private:
    std::stop_token mStop;
    std::function<void(const JobProgress &)> mOnProgress;
    std::chrono::steady_clock::time_point mLastReport{};
};

} // namespace plad
