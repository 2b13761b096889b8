#pragma once

#include "store/pairstore.h"
#include "store/records.h"
#include "store/resultstore.h"
#include "store/runstore.h"
#include "store/sqlitedatabase.h"

#include <filesystem>
#include <memory>
#include <string>

namespace plad {

/**
 * A workspace's database (`WORKSPACE/plad.sqlite`) and the three stores over it: runs() (runs,
 * metrics, events, stages), pairs() (prompts, outputs, pairs, annotations) and results()
 * (evaluations, artifacts). The schema is versioned; opening an older workspace migrates it in
 * one transaction, and a newer one is refused with a message.
 *
 * Threading: one Workspace per thread (each holds its own connection). A worker writes while
 * other connections read (WAL). Every write commits before returning, so a killed process
 * loses nothing it returned from.
 */
class Workspace
{
public:
    static constexpr int schemaVersion = 4;
    static constexpr const char *fileName = "plad.sqlite";

    /** Opens WORKSPACE/plad.sqlite, creating the directory and database when `create` is set. */
    static Workspace open(const std::filesystem::path &directory, bool create = true);
    /** Opens an existing workspace database for reading only (no migration, no writes). */
    static Workspace openReadOnly(const std::filesystem::path &directory);

    Workspace(Workspace &&other) noexcept;
    Workspace &operator=(Workspace &&) = delete;

    const std::filesystem::path &directory() const { return mDirectory; }
    RunStore &runs() { return mRuns; }
    PairStore &pairs() { return mPairs; }
    ResultStore &results() { return mResults; }
    SqliteDatabase &database() { return *mDb; }
    /** "ok" or what PRAGMA integrity_check found. */
    std::string integrityCheck() { return mDb->integrityCheck(); }

private:
    Workspace(std::filesystem::path directory, std::unique_ptr<SqliteDatabase> db);
    void migrate();

    std::filesystem::path mDirectory;
    std::unique_ptr<SqliteDatabase> mDb;
    RunStore mRuns;
    PairStore mPairs;
    ResultStore mResults;
};

} // namespace plad
