#pragma once

#include "store/records.h"
#include "store/sqlitedatabase.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace plad {

/**
 * The runs of a workspace and what they record over time: status, names and tags, metric time
 * series, events and stages. One of the three stores over a Workspace's connection (see
 * store/workspace.h for threading); every write commits before returning.
 */
class RunStore
{
public:
    RunStore(SqliteDatabase &db, std::filesystem::path directory);

    /** Creates a run with a fresh id ("r0001-METHOD"), status Created. */
    RunRecord createRun(const std::string &method, const std::string &configJson, const std::string &name = {});
    std::optional<RunRecord> run(const std::string &id);
    /** Like run(), but throws StoreError naming the id and the workspace when there is none. */
    RunRecord requireRun(const std::string &id);
    /** Every run, newest first. */
    std::vector<RunRecord> list();
    void setStatus(const std::string &id, RunStatus status, const std::string &error = {});
    void rename(const std::string &id, const std::string &name);
    void setTags(const std::string &id, const std::vector<std::string> &tags);
    /** Records that training read the run's annotations as they were at `time` (UTC, utcNow()). */
    void markAnnotationsRead(const std::string &id, const std::string &time);
    /** Deletes the run and everything recorded for it (its prompts, pairs and results too). */
    void deleteRun(const std::string &id);

    /** Appends points in one transaction; a point already stored for (step, name) is replaced. */
    void addMetrics(const std::string &runId, const std::vector<MetricPoint> &points);
    /** The series `name` in step order, optionally only after `afterStep`. */
    std::vector<MetricPoint> metrics(const std::string &runId, const std::string &name, int64_t afterStep = -1);
    /** Every metric name recorded for the run. */
    std::vector<std::string> metricNames(const std::string &runId);
    /** The highest step with any metric, or -1. */
    int64_t lastMetricStep(const std::string &runId);
    /** Removes metric points and evaluations after `step` (a resumed run trains those steps again). */
    void truncateMetrics(const std::string &runId, int64_t step);

    void addEvent(const std::string &runId, const std::string &level, const std::string &message);
    /** Events with id greater than `afterId`, oldest first. */
    std::vector<RunEvent> events(const std::string &runId, int64_t afterId = 0);

    void setStage(const std::string &runId, const std::string &stage, const std::string &status, const std::string &detail = {});
    std::vector<StageRecord> stages(const std::string &runId);

private:
    SqliteDatabase &mDb;
    std::filesystem::path mDirectory;
};

} // namespace plad
