#include "store/runstore.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <system_error>

#include <nlohmann/json.hpp>

namespace plad {
namespace fs = std::filesystem;

namespace {

// Schema migrations: entry i brings a database from version i to i + 1. Never edit a released
// entry; append a new one.
const char *const migrations[] = {
    // 0 -> 1
    R"sql(
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    method TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, name, step)
) WITHOUT ROWID;
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    time TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX events_by_run ON events(run_id, id);
)sql",
    // 1 -> 2: the engine's tables. Token ids are little-endian int32 blobs, log-probs float32 blobs.
    R"sql(
CREATE TABLE stages (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, stage)
) WITHOUT ROWID;
CREATE TABLE prompts (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    prompt_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    split TEXT NOT NULL,
    prompt TEXT NOT NULL,
    reference TEXT NOT NULL,
    PRIMARY KEY (run_id, prompt_id)
) WITHOUT ROWID;
CREATE TABLE generated (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    round INTEGER NOT NULL,
    prompt_id TEXT NOT NULL,
    pairs INTEGER NOT NULL,
    dropped INTEGER NOT NULL,
    PRIMARY KEY (run_id, round, prompt_id)
) WITHOUT ROWID;
CREATE TABLE outputs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    prompt_id TEXT NOT NULL,
    round INTEGER NOT NULL,
    source TEXT NOT NULL,
    sample INTEGER NOT NULL,
    text TEXT NOT NULL,
    token_ids BLOB NOT NULL,
    student_logprobs BLOB NOT NULL,
    teacher_logprobs BLOB,
    seconds REAL NOT NULL,
    finish_reason TEXT NOT NULL
);
CREATE INDEX outputs_by_prompt ON outputs(run_id, prompt_id, round);
CREATE TABLE pairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    prompt_id TEXT NOT NULL,
    round INTEGER NOT NULL,
    chosen_output INTEGER NOT NULL REFERENCES outputs(id) ON DELETE CASCADE,
    rejected_output INTEGER NOT NULL REFERENCES outputs(id) ON DELETE CASCADE,
    labeller TEXT NOT NULL,
    chosen_judge REAL,
    rejected_judge REAL,
    initial_margin REAL NOT NULL,
    current_margin REAL,
    current_loss REAL,
    updated_step INTEGER
);
CREATE INDEX pairs_by_run ON pairs(run_id, round, id);
CREATE TABLE annotations (
    pair_id INTEGER PRIMARY KEY REFERENCES pairs(id) ON DELETE CASCADE,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    weight REAL NOT NULL,
    note TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    step INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
)sql",
};
constexpr int migrationCount = static_cast<int>(sizeof migrations / sizeof migrations[0]);
static_assert(migrationCount == RunStore::schemaVersion, "one migration per schema version");

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
    return r;
}

constexpr const char *runColumns = "id, name, method, status, config, tags, created_at, updated_at, error";

} // namespace

std::string toString(RunStatus status)
{
    switch (status) {
    case RunStatus::Created: return "created";
    case RunStatus::Running: return "running";
    case RunStatus::Completed: return "completed";
    case RunStatus::Failed: return "failed";
    case RunStatus::Cancelled: return "cancelled";
    }
    return "unknown";
}

RunStatus parseRunStatus(const std::string &name)
{
    for (auto s : {RunStatus::Created, RunStatus::Running, RunStatus::Completed, RunStatus::Failed, RunStatus::Cancelled})
        if (toString(s) == name)
            return s;
    throw StoreError("unknown run status \"" + name + "\"");
}

std::string utcNow()
{
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, static_cast<int>(millis));
    return text;
}

RunStore::RunStore(fs::path workspace, std::unique_ptr<SqliteDatabase> db)
    : mWorkspace(std::move(workspace))
    , mDb(std::move(db))
{}

RunStore RunStore::open(const fs::path &workspace, bool create)
{
    if (create) {
        std::error_code ec;
        fs::create_directories(workspace, ec);
        if (ec)
            throw StoreError(workspace.string() + ": cannot create the workspace directory: " + ec.message());
    } else if (!fs::exists(workspace / fileName)) {
        throw StoreError(workspace.string() + ": no workspace here (" + fileName + " is missing)");
    }
    RunStore store(workspace, std::make_unique<SqliteDatabase>(workspace / fileName, create));
    store.migrate();
    return store;
}

RunStore RunStore::openReadOnly(const fs::path &workspace)
{
    if (!fs::exists(workspace / fileName))
        throw StoreError(workspace.string() + ": no workspace here (" + fileName + " is missing)");
    RunStore store(workspace, std::make_unique<SqliteDatabase>(workspace / fileName, false, true));
    auto s = store.mDb->prepare("PRAGMA user_version");
    s.step();
    const auto version = s.integer(0);
    if (version != schemaVersion)
        throw StoreError((workspace / fileName).string() + ": schema version " + std::to_string(version) + ", this program reads "
                         + std::to_string(schemaVersion) + "; open it read-write once to migrate it");
    return store;
}

void RunStore::migrate()
{
    auto s = mDb->prepare("PRAGMA user_version");
    s.step();
    const int version = static_cast<int>(s.integer(0));
    s.reset();
    if (version > schemaVersion)
        throw StoreError(mDb->path().string() + ": the workspace was written by a newer PLaD Workbench (schema version "
                         + std::to_string(version) + ", this program knows up to " + std::to_string(schemaVersion) + ")");
    if (version == schemaVersion)
        return;
    mDb->transaction([&] {
        for (int v = version; v < schemaVersion; ++v)
            mDb->execute(migrations[v]);
        mDb->execute("PRAGMA user_version=" + std::to_string(schemaVersion));
    });
}

RunRecord RunStore::createRun(const std::string &method, const std::string &configJson, const std::string &name)
{
    RunRecord r;
    mDb->transaction([&] {
        auto next = mDb->prepare("SELECT coalesce(max(seq), 0) + 1 FROM runs");
        next.step();
        const int64_t seq = next.integer(0);
        char number[32];
        std::snprintf(number, sizeof number, "r%04lld-", static_cast<long long>(seq));
        r.id.assign(number).append(method);
        r.name = name.empty() ? r.id : name;
        r.method = method;
        r.configJson = configJson;
        r.createdAt = r.updatedAt = utcNow();
        mDb->prepare("INSERT INTO runs (seq, id, name, method, status, config, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)")
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
    auto s = mDb->prepare(std::string("SELECT ") + runColumns + " FROM runs WHERE id = ?");
    s.bind(1, id);
    if (!s.step())
        return std::nullopt;
    return readRun(s);
}

RunRecord RunStore::requireRun(const std::string &id)
{
    if (auto r = run(id))
        return *r;
    throw StoreError("no run \"" + id + "\" in the workspace " + mWorkspace.string() + " (plad runs list shows the runs)");
}

std::vector<RunRecord> RunStore::runs()
{
    auto s = mDb->prepare(std::string("SELECT ") + runColumns + " FROM runs ORDER BY seq DESC");
    std::vector<RunRecord> out;
    while (s.step())
        out.push_back(readRun(s));
    return out;
}

void RunStore::setStatus(const std::string &id, RunStatus status, const std::string &error)
{
    auto s = mDb->prepare("UPDATE runs SET status = ?, error = ?, updated_at = ? WHERE id = ?");
    s.bind(1, toString(status)).bind(2, error).bind(3, utcNow()).bind(4, id).run();
    if (mDb->changes() == 0)
        requireRun(id);
}

void RunStore::rename(const std::string &id, const std::string &name)
{
    if (name.empty())
        throw StoreError("a run's name cannot be empty");
    mDb->prepare("UPDATE runs SET name = ?, updated_at = ? WHERE id = ?").bind(1, name).bind(2, utcNow()).bind(3, id).run();
    if (mDb->changes() == 0)
        requireRun(id);
}

void RunStore::setTags(const std::string &id, const std::vector<std::string> &tags)
{
    mDb->prepare("UPDATE runs SET tags = ?, updated_at = ? WHERE id = ?")
        .bind(1, nlohmann::json(tags).dump())
        .bind(2, utcNow())
        .bind(3, id)
        .run();
    if (mDb->changes() == 0)
        requireRun(id);
}

void RunStore::deleteRun(const std::string &id)
{
    requireRun(id);
    mDb->transaction([&] { mDb->prepare("DELETE FROM runs WHERE id = ?").bind(1, id).run(); });
}

void RunStore::addMetrics(const std::string &runId, const std::vector<MetricPoint> &points)
{
    if (points.empty())
        return;
    mDb->transaction([&] {
        auto s = mDb->prepare("INSERT OR REPLACE INTO metrics (run_id, name, step, value) VALUES (?,?,?,?)");
        for (const auto &p : points) {
            s.bind(1, runId).bind(2, p.name).bind(3, p.step).bind(4, p.value);
            s.run();
        }
    });
}

std::vector<MetricPoint> RunStore::metrics(const std::string &runId, const std::string &name, int64_t afterStep)
{
    auto s = mDb->prepare("SELECT step, value FROM metrics WHERE run_id = ? AND name = ? AND step > ? ORDER BY step");
    s.bind(1, runId).bind(2, name).bind(3, afterStep);
    std::vector<MetricPoint> out;
    while (s.step())
        out.push_back({s.integer(0), name, s.real(1)});
    return out;
}

std::vector<std::string> RunStore::metricNames(const std::string &runId)
{
    auto s = mDb->prepare("SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name");
    s.bind(1, runId);
    std::vector<std::string> out;
    while (s.step())
        out.push_back(s.text(0));
    return out;
}

int64_t RunStore::lastMetricStep(const std::string &runId)
{
    auto s = mDb->prepare("SELECT coalesce(max(step), -1) FROM metrics WHERE run_id = ?");
    s.bind(1, runId);
    s.step();
    return s.integer(0);
}

void RunStore::truncateMetrics(const std::string &runId, int64_t step)
{
    mDb->transaction([&] {
        mDb->prepare("DELETE FROM metrics WHERE run_id = ? AND step > ?").bind(1, runId).bind(2, step).run();
        mDb->prepare("DELETE FROM evaluations WHERE run_id = ? AND step > ?").bind(1, runId).bind(2, step).run();
    });
}

void RunStore::addEvent(const std::string &runId, const std::string &level, const std::string &message)
{
    mDb->prepare("INSERT INTO events (run_id, time, level, message) VALUES (?,?,?,?)")
        .bind(1, runId)
        .bind(2, utcNow())
        .bind(3, level)
        .bind(4, message)
        .run();
}

std::vector<RunEvent> RunStore::events(const std::string &runId, int64_t afterId)
{
    auto s = mDb->prepare("SELECT id, time, level, message FROM events WHERE run_id = ? AND id > ? ORDER BY id");
    s.bind(1, runId).bind(2, afterId);
    std::vector<RunEvent> out;
    while (s.step())
        out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3)});
    return out;
}

} // namespace plad
