#include "store/runstore.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace plad {
namespace fs = std::filesystem;

namespace {

RunRecord readRun(SqliteStatement &s)
{
    RunRecord r;
    r.id = s.text(0);
    r.name = s.text(1);
    r.method = s.text(2);
    r.status = parseRunStatus(s.text(3));
    r.configJson = s.text(4);
    try {
        r.tags = nlohmann::json::parse(s.text(5)).get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception &) {
        r.tags = {}; // tags are decoration; a hand-edited bad value must not hide the run
    }
    r.createdAt = s.text(6);
    r.updatedAt = s.text(7);
    r.error = s.text(8);
    r.annotationsReadAt = s.text(9);
    return r;
}

constexpr const char *runColumns = "id, name, method, status, config, tags, created_at, updated_at, error, annotations_read_at";

} // namespace

RunStore::RunStore(SqliteDatabase &db, fs::path directory)
    : mDb(db)
    , mDirectory(std::move(directory))
{}

RunRecord RunStore::createRun(const std::string &method, const std::string &configJson, const std::string &name)
{
    RunRecord r;
    mDb.transaction([&] {
        auto next = mDb.prepare("SELECT coalesce(max(seq), 0) + 1 FROM runs");
        next.step();
        const int64_t seq = next.integer(0);
        char number[32];
        std::snprintf(number, sizeof number, "r%04lld-", static_cast<long long>(seq));
        r.id.assign(number).append(method);
        r.name = name.empty() ? r.id : name;
        r.method = method;
        r.configJson = configJson;
        r.createdAt = r.updatedAt = utcNow();
        mDb.prepare("INSERT INTO runs (seq, id, name, method, status, config, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)")
            .bind(1, seq)
            .bind(2, r.id)
            .bind(3, r.name)
            .bind(4, method)
            .bind(5, toString(r.status))
            .bind(6, configJson)
            .bind(7, r.createdAt)
            .bind(8, r.updatedAt)
            .run();
    });
    return r;
}

std::optional<RunRecord> RunStore::run(const std::string &id)
{
    auto s = mDb.prepare(std::string("SELECT ") + runColumns + " FROM runs WHERE id = ?");
    s.bind(1, id);
    if (!s.step())
        return std::nullopt;
    return readRun(s);
}

RunRecord RunStore::requireRun(const std::string &id)
{
    if (auto r = run(id))
        return *r;
    throw StoreError("no run \"" + id + "\" in the workspace " + mDirectory.string() + " (plad runs list shows the runs)");
}

std::vector<RunRecord> RunStore::list()
{
    auto s = mDb.prepare(std::string("SELECT ") + runColumns + " FROM runs ORDER BY seq DESC");
    std::vector<RunRecord> out;
    while (s.step())
        out.push_back(readRun(s));
    return out;
}

void RunStore::setStatus(const std::string &id, RunStatus status, const std::string &error)
{
    auto s = mDb.prepare("UPDATE runs SET status = ?, error = ?, updated_at = ? WHERE id = ?");
    s.bind(1, toString(status)).bind(2, error).bind(3, utcNow()).bind(4, id).run();
    if (mDb.changes() == 0)
        requireRun(id);
}

void RunStore::rename(const std::string &id, const std::string &name)
{
    if (name.empty())
        throw StoreError("a run's name cannot be empty");
    mDb.prepare("UPDATE runs SET name = ?, updated_at = ? WHERE id = ?").bind(1, name).bind(2, utcNow()).bind(3, id).run();
    if (mDb.changes() == 0)
        requireRun(id);
}

void RunStore::setTags(const std::string &id, const std::vector<std::string> &tags)
{
    mDb.prepare("UPDATE runs SET tags = ?, updated_at = ? WHERE id = ?")
        .bind(1, nlohmann::json(tags).dump())
        .bind(2, utcNow())
        .bind(3, id)
        .run();
    if (mDb.changes() == 0)
        requireRun(id);
}

void RunStore::markAnnotationsRead(const std::string &id, const std::string &time)
{
    mDb.prepare("UPDATE runs SET annotations_read_at = ? WHERE id = ?").bind(1, time).bind(2, id).run();
    if (mDb.changes() == 0)
        requireRun(id);
}

void RunStore::deleteRun(const std::string &id)
{
    requireRun(id);
    mDb.transaction([&] { mDb.prepare("DELETE FROM runs WHERE id = ?").bind(1, id).run(); });
}

void RunStore::addMetrics(const std::string &runId, const std::vector<MetricPoint> &points)
{
    if (points.empty())
        return;
    mDb.transaction([&] {
        auto s = mDb.prepare("INSERT OR REPLACE INTO metrics (run_id, name, step, value) VALUES (?,?,?,?)");
        for (const auto &p : points) {
            s.bind(1, runId).bind(2, p.name).bind(3, p.step).bind(4, p.value);
            s.run();
        }
    });
}

std::vector<MetricPoint> RunStore::metrics(const std::string &runId, const std::string &name, int64_t afterStep)
{
    auto s = mDb.prepare("SELECT step, value FROM metrics WHERE run_id = ? AND name = ? AND step > ? ORDER BY step");
    s.bind(1, runId).bind(2, name).bind(3, afterStep);
    std::vector<MetricPoint> out;
    while (s.step())
        out.push_back({s.integer(0), name, s.real(1)});
    return out;
}

std::vector<std::string> RunStore::metricNames(const std::string &runId)
{
    auto s = mDb.prepare("SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name");
    s.bind(1, runId);
    std::vector<std::string> out;
    while (s.step())
        out.push_back(s.text(0));
    return out;
}

int64_t RunStore::lastMetricStep(const std::string &runId)
{
    auto s = mDb.prepare("SELECT coalesce(max(step), -1) FROM metrics WHERE run_id = ?");
    s.bind(1, runId);
    s.step();
    return s.integer(0);
}

void RunStore::truncateMetrics(const std::string &runId, int64_t step)
{
    mDb.transaction([&] {
        mDb.prepare("DELETE FROM metrics WHERE run_id = ? AND step > ?").bind(1, runId).bind(2, step).run();
        mDb.prepare("DELETE FROM evaluations WHERE run_id = ? AND step > ?").bind(1, runId).bind(2, step).run();
    });
}

void RunStore::addEvent(const std::string &runId, const std::string &level, const std::string &message)
{
    mDb.prepare("INSERT INTO events (run_id, time, level, message) VALUES (?,?,?,?)")
        .bind(1, runId)
        .bind(2, utcNow())
        .bind(3, level)
        .bind(4, message)
        .run();
}

std::vector<RunEvent> RunStore::events(const std::string &runId, int64_t afterId)
{
    auto s = mDb.prepare("SELECT id, time, level, message FROM events WHERE run_id = ? AND id > ? ORDER BY id");
    s.bind(1, runId).bind(2, afterId);
    std::vector<RunEvent> out;
    while (s.step())
        out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3)});
    return out;
}

void RunStore::setStage(const std::string &runId, const std::string &stage, const std::string &status, const std::string &detail)
{
    const auto now = utcNow();
    mDb.prepare("INSERT INTO stages (run_id, stage, status, started_at, updated_at, detail) VALUES (?,?,?,?,?,?) "
                 "ON CONFLICT (run_id, stage) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, "
                 "detail = excluded.detail")
        .bind(1, runId)
        .bind(2, stage)
        .bind(3, status)
        .bind(4, now)
        .bind(5, now)
        .bind(6, detail)
        .run();
}

std::vector<StageRecord> RunStore::stages(const std::string &runId)
{
    auto s = mDb.prepare("SELECT stage, status, started_at, updated_at, detail FROM stages WHERE run_id = ? ORDER BY started_at, stage");
    s.bind(1, runId);
    std::vector<StageRecord> out;
    while (s.step())
        out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.text(4)});
    return out;
}

} // namespace plad
