#pragma once

#include "common/error.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace plad {

/**
 * A database problem a user can act on: the message names the file and says what happened in
 * plain words ("disk full", "read-only", "not a database or corrupt", "locked by another
 * process").
 */
class StoreError : public Error
{
public:
    using Error::Error;
};

class SqliteDatabase;

/** A prepared statement; bind values by 1-based index, step, read columns by 0-based index. */
class SqliteStatement
{
public:
    SqliteStatement(SqliteDatabase &database, std::string_view sql);
    ~SqliteStatement();
    SqliteStatement(const SqliteStatement &) = delete;
    SqliteStatement &operator=(const SqliteStatement &) = delete;
    SqliteStatement(SqliteStatement &&other) noexcept;

    SqliteStatement &bind(int index, int64_t value);
    SqliteStatement &bind(int index, double value);
    SqliteStatement &bind(int index, std::string_view text);
    SqliteStatement &bind(int index, const char *text) { return bind(index, std::string_view(text)); }
    SqliteStatement &bindBlob(int index, const void *data, size_t bytes);
    SqliteStatement &bindNull(int index);
    template<typename T>
    SqliteStatement &bind(int index, const std::optional<T> &value)
    {
        return value ? bind(index, *value) : bindNull(index);
    }

    /** Runs to the next row: true when a row is available, false when done. */
    bool step();
    /** Runs a statement that returns no rows (asserts it is done). */
    void run();
    /** Ready to run again with new bindings. */
    void reset();

    bool isNull(int column) const;
    int64_t integer(int column) const;
    double real(int column) const;
    std::string text(int column) const;
    std::vector<char> blob(int column) const;

private:
    SqliteDatabase *mDatabase;
    sqlite3_stmt *mStatement = nullptr;
};

/**
 * One SQLite connection (WAL journal, foreign keys on, a busy timeout so readers and one writer
 * share the file). Not thread-safe: open one per thread. Errors are StoreErrors naming the file.
 */
class SqliteDatabase
{
public:
    /** Opens (creating with `create`) the database file. */
    explicit SqliteDatabase(const std::filesystem::path &path, bool create = true, bool readOnly = false);
    ~SqliteDatabase();
    SqliteDatabase(const SqliteDatabase &) = delete;
    SqliteDatabase &operator=(const SqliteDatabase &) = delete;

    const std::filesystem::path &path() const { return mPath; }

    /** Runs one or more statements without results. */
    void execute(std::string_view sql);
    SqliteStatement prepare(std::string_view sql) { return SqliteStatement(*this, sql); }
    int64_t lastInsertId() const;
    int changes() const;

    /**
     * Runs `work` in an IMMEDIATE transaction (the write lock is taken at the start, so two
     * writers never deadlock half-way): commits when it returns, rolls back when it throws.
     */
    void transaction(const std::function<void()> &work);

    /** PRAGMA integrity_check: "ok", or the problems SQLite found. */
    std::string integrityCheck();

    /** Throws StoreError for SQLite result `code` with `what` describing the operation. */
    [[noreturn]] void fail(int code, const std::string &what) const;

    sqlite3 *handle() const { return mDb; }

private:
    std::filesystem::path mPath;
    sqlite3 *mDb = nullptr;
};

} // namespace plad
