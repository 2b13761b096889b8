#include "store/workspace.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <system_error>

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
    // 2 -> 3: conversational prompts keep their messages
    R"sql(
ALTER TABLE prompts ADD COLUMN messages TEXT NOT NULL DEFAULT '';
)sql",
    // 3 -> 4: when the trainer last read the annotations (what the pair inspector marks as pending)
    R"sql(
ALTER TABLE runs ADD COLUMN annotations_read_at TEXT NOT NULL DEFAULT '';
)sql",
};
constexpr int migrationCount = static_cast<int>(sizeof migrations / sizeof migrations[0]);
static_assert(migrationCount == Workspace::schemaVersion, "one migration per schema version");

} // namespace

std::string toString(RunStatus status)
{
    return enumName<RunStatus>(runStatusNames, status);
}

RunStatus parseRunStatus(const std::string &name)
{
    if (const auto status = findEnum<RunStatus>(runStatusNames, name))
        return *status;
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

std::string toString(OutputSource source)
{
    return enumName<OutputSource>(outputSourceNames, source);
}

std::string toString(AnnotationAction action)
{
    return enumName<AnnotationAction>(annotationActionNames, action);
}

Workspace::Workspace(fs::path directory, std::unique_ptr<SqliteDatabase> db)
    : mDirectory(std::move(directory))
    , mDb(std::move(db))
    , mRuns(*mDb, mDirectory)
    , mPairs(*mDb, mRuns)
    , mResults(*mDb)
{}

Workspace::Workspace(Workspace &&other) noexcept
    : Workspace(std::move(other.mDirectory), std::move(other.mDb))
{}

Workspace Workspace::open(const fs::path &workspace, bool create)
{
    if (create) {
        std::error_code ec;
        fs::create_directories(workspace, ec);
        if (ec)
            throw StoreError(workspace.string() + ": cannot create the workspace directory: " + ec.message());
    } else if (!fs::exists(workspace / fileName)) {
        throw StoreError(workspace.string() + ": no workspace here (" + fileName + " is missing)");
    }
    Workspace store(workspace, std::make_unique<SqliteDatabase>(workspace / fileName, create));
    store.migrate();
    return store;
}

Workspace Workspace::openReadOnly(const fs::path &workspace)
{
    if (!fs::exists(workspace / fileName))
        throw StoreError(workspace.string() + ": no workspace here (" + fileName + " is missing)");
    Workspace store(workspace, std::make_unique<SqliteDatabase>(workspace / fileName, false, true));
    auto s = store.mDb->prepare("PRAGMA user_version");
    s.step();
    const auto version = s.integer(0);
    if (version != schemaVersion)
        throw StoreError((workspace / fileName).string() + ": schema version " + std::to_string(version) + ", this program reads "
                         + std::to_string(schemaVersion) + "; open it read-write once to migrate it");
    return store;
}

void Workspace::migrate()
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
} // namespace plad
