#pragma once

#include "store/sqlitedatabase.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace plad {

/** Lifecycle of a run: created -> running -> (completed | failed | cancelled); stopped runs can resume. */
enum class RunStatus { Created, Running, Completed, Failed, Cancelled };
std::string toString(RunStatus status);
/** Throws StoreError for an unknown name. */
RunStatus parseRunStatus(const std::string &name);

/** A run as listed by `plad runs list` and the GUI's run table. */
struct RunRecord
{
    std::string id;            ///< short, unique in the workspace, e.g. "r0007-plad"
    std::string name;          ///< user-editable
    std::string method;        ///< "plad", "plad-logistic", "seqkd", "dpo", ...
    RunStatus status = RunStatus::Created;
    std::string configJson;    ///< the run configuration as given (never holds secrets)
    std::vector<std::string> tags;
    std::string createdAt;     ///< UTC, ISO 8601
    std::string updatedAt;
    std::string error;         ///< the last failure's message, empty otherwise
};

/** One value of a metric time series at an optimiser step (loss, margin, ECE, ...). */
struct MetricPoint
{
    int64_t step = 0;
    std::string name;
    double value = 0;
};

/** An entry of a run's event log. */
struct RunEvent
{
    int64_t id = 0;
    std::string time;  ///< UTC, ISO 8601 with milliseconds
    std::string level; ///< "info", "warning", "error"
    std::string message;
};

/**
 * The workspace database (`WORKSPACE/plad.sqlite`): runs, their configs and status, metric
 * time series, events, and (through the engine's tables) pairs, annotations, evaluations and
 * artifacts. The schema is versioned; opening an older workspace migrates it in one
 * transaction, and a newer one is refused with a message.
 *
 * Threading: one RunStore per thread (each holds its own connection). A worker writes while
 * other connections read (WAL). Every write method commits before returning, so a killed
 * process loses nothing it returned from.
 */
class RunStore
{
public:
    static constexpr int schemaVersion = 1;
    static constexpr const char *fileName = "plad.sqlite";

    /** Opens WORKSPACE/plad.sqlite, creating the directory and database when `create` is set. */
    static RunStore open(const std::filesystem::path &workspace, bool create = true);
    /** Opens an existing workspace database for reading only (no migration, no writes). */
    static RunStore openReadOnly(const std::filesystem::path &workspace);

    const std::filesystem::path &workspace() const { return mWorkspace; }
    SqliteDatabase &database() { return *mDb; }

    /** Creates a run with a fresh id ("r0001-METHOD"), status Created. */
    RunRecord createRun(const std::string &method, const std::string &configJson, const std::string &name = {});
    std::optional<RunRecord> run(const std::string &id);
    /** Like run(), but throws StoreError naming the id and the workspace when there is none. */
    RunRecord requireRun(const std::string &id);
    /** Newest first. */
    std::vector<RunRecord> runs();
    void setStatus(const std::string &id, RunStatus status, const std::string &error = {});
    void rename(const std::string &id, const std::string &name);
    void setTags(const std::string &id, const std::vector<std::string> &tags);
    /** Deletes the run and everything recorded for it. */
    void deleteRun(const std::string &id);

    /** Appends points in one transaction; a point already stored for (step, name) is replaced. */
    void addMetrics(const std::string &runId, const std::vector<MetricPoint> &points);
    /** The series `name` in step order, optionally only after `afterStep`. */
    std::vector<MetricPoint> metrics(const std::string &runId, const std::string &name, int64_t afterStep = -1);
    /** Every metric name recorded for the run. */
    std::vector<std::string> metricNames(const std::string &runId);
    /** The highest step with any metric, or -1. */
    int64_t lastMetricStep(const std::string &runId);
    /** Removes metric points after `step` (a resumed run trains those steps again). */
    void truncateMetrics(const std::string &runId, int64_t step);

    void addEvent(const std::string &runId, const std::string &level, const std::string &message);
    /** Events with id greater than `afterId`, oldest first. */
    std::vector<RunEvent> events(const std::string &runId, int64_t afterId = 0);

    /** "ok" or what PRAGMA integrity_check found. */
    std::string integrityCheck() { return mDb->integrityCheck(); }

private:
    RunStore(std::filesystem::path workspace, std::unique_ptr<SqliteDatabase> db);
    void migrate();

    std::filesystem::path mWorkspace;
    std::unique_ptr<SqliteDatabase> mDb;
};

/** Current UTC time as ISO 8601 with milliseconds ("2026-11-28T05:12:00.123Z"). */
std::string utcNow();

} // namespace plad
