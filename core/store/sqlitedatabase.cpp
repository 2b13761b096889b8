#include "store/sqlitedatabase.h"

#include <sqlite3.h>

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

namespace plad {
namespace {

// Plain words for the failures users can do something about.
std::string describe(int code)
{
    switch (code & 0xff) {
    case SQLITE_FULL:
        return "the disk is full";
    case SQLITE_READONLY:
        return "the workspace is read-only";
    case SQLITE_CANTOPEN:
        return "cannot open the file (missing directory or no permission)";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return "the file is not a PLaD workspace database or is corrupt";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return "the database is locked by another process";
    case SQLITE_IOERR:
        return "an I/O error occurred";
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return "permission denied";
    default:
        return sqlite3_errstr(code);
    }
}

bool onReadOnlyFileSystem(const std::filesystem::path &file)
{
    struct statvfs fs{};
    const auto dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    return ::statvfs(dir.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY) != 0;
}

// describe(), with the cause a failed open or write on read-only media really has (SQLite
// reports it as "cannot open" or "read-only database" or an I/O error).
std::string describeAt(int code, const std::filesystem::path &file)
{
    const int primary = code & 0xff;
    if ((primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY || primary == SQLITE_IOERR) && onReadOnlyFileSystem(file))
        return "the workspace is on a read-only file system (remount it read-write, or copy the workspace somewhere writable)";
    return describe(code);
}

// The path part of a file: URI (RFC 3986: %, ?, # and non-ASCII bytes escaped).
std::string uriPath(const std::filesystem::path &file)
{
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : std::filesystem::absolute(file).string()) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u > 0x7e || c == '%' || c == '?' || c == '#')
            out += std::string("%") + hex[u >> 4] + hex[u & 15];
        else
            out += c;
    }
    return out;
}

} // namespace

SqliteStatement::SqliteStatement(SqliteDatabase &database, std::string_view sql)
    : mDatabase(&database)
{
    const int rc = sqlite3_prepare_v2(database.handle(), sql.data(), static_cast<int>(sql.size()), &mStatement, nullptr);
    if (rc != SQLITE_OK)
        database.fail(rc, "preparing \"" + std::string(sql.substr(0, 60)) + "\"");
}

SqliteStatement::~SqliteStatement()
{
    sqlite3_finalize(mStatement);
}

SqliteStatement::SqliteStatement(SqliteStatement &&other) noexcept
    : mDatabase(other.mDatabase)
    , mStatement(other.mStatement)
{
    other.mStatement = nullptr;
}

SqliteStatement &SqliteStatement::bind(int index, int64_t value)
{
    if (const int rc = sqlite3_bind_int64(mStatement, index, value); rc != SQLITE_OK)
        mDatabase->fail(rc, "binding a value");
    return *this;
}

SqliteStatement &SqliteStatement::bind(int index, double value)
{
    if (const int rc = sqlite3_bind_double(mStatement, index, value); rc != SQLITE_OK)
        mDatabase->fail(rc, "binding a value");
    return *this;
}

SqliteStatement &SqliteStatement::bind(int index, std::string_view text)
{
    if (const int rc = sqlite3_bind_text64(mStatement, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
        rc != SQLITE_OK)
        mDatabase->fail(rc, "binding a value");
    return *this;
}

SqliteStatement &SqliteStatement::bindBlob(int index, const void *data, size_t bytes)
{
    if (const int rc = sqlite3_bind_blob64(mStatement, index, bytes ? data : "", bytes, SQLITE_TRANSIENT); rc != SQLITE_OK)
        mDatabase->fail(rc, "binding a value");
    return *this;
}

SqliteStatement &SqliteStatement::bindNull(int index)
{
    if (const int rc = sqlite3_bind_null(mStatement, index); rc != SQLITE_OK)
        mDatabase->fail(rc, "binding a value");
    return *this;
}

bool SqliteStatement::step()
{
    const int rc = sqlite3_step(mStatement);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    const std::string sql = sqlite3_sql(mStatement) ? sqlite3_sql(mStatement) : "";
    sqlite3_reset(mStatement);
    mDatabase->fail(rc, "running \"" + sql.substr(0, 60) + "\"");
}

void SqliteStatement::run()
{
    while (step()) {
    }
    reset();
}

void SqliteStatement::reset()
{
    sqlite3_reset(mStatement);
    sqlite3_clear_bindings(mStatement);
}

bool SqliteStatement::isNull(int column) const
{
    return sqlite3_column_type(mStatement, column) == SQLITE_NULL;
}

int64_t SqliteStatement::integer(int column) const
{
    return sqlite3_column_int64(mStatement, column);
}

double SqliteStatement::real(int column) const
{
    return sqlite3_column_double(mStatement, column);
}

std::string SqliteStatement::text(int column) const
{
    const auto *p = reinterpret_cast<const char *>(sqlite3_column_text(mStatement, column));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(mStatement, column))) : std::string();
}

std::vector<char> SqliteStatement::blob(int column) const
{
    const auto *p = static_cast<const char *>(sqlite3_column_blob(mStatement, column));
    return p ? std::vector<char>(p, p + sqlite3_column_bytes(mStatement, column)) : std::vector<char>();
}

SqliteDatabase::SqliteDatabase(const std::filesystem::path &path, bool create, bool readOnly)
    : mPath(path)
{
    int flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (create && !readOnly)
        flags |= SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_NOMUTEX;
    std::string name = path.string();
    // A workspace on read-only media (a mounted backup, a shared read-only volume) that was
    // closed cleanly has no -wal file, and SQLite cannot create the -shm index there: it is
    // opened as immutable, which needs neither. With a -wal left by a killed writer, SQLite
    // reads it through the existing -shm instead.
    std::error_code ec;
    if (readOnly && onReadOnlyFileSystem(path) && !std::filesystem::exists(name + "-wal", ec)) {
        name = "file:" + uriPath(path) + "?immutable=1";
        flags |= SQLITE_OPEN_URI;
    }
    const int rc = sqlite3_open_v2(name.c_str(), &mDb, flags, nullptr);
    if (rc != SQLITE_OK) {
        const int code = rc;
        sqlite3_close(mDb);
        mDb = nullptr;
        throw StoreError(mPath.string() + ": cannot open the database: " + describeAt(code, mPath));
    }
    sqlite3_extended_result_codes(mDb, 1);
    sqlite3_busy_timeout(mDb, 10000);
    try {
        // Reading the schema is the first access to the file's contents: a non-database or a
        // corrupt header fails here, with a clear message, before anything is written.
        execute("SELECT count(*) FROM sqlite_schema");
        if (!readOnly) {
            // WAL lets readers (the GUI, `plad runs`) read while a worker writes; synchronous=NORMAL
            // in WAL mode loses at most the last transactions on power loss, never on a process kill.
            execute("PRAGMA journal_mode=WAL");
            execute("PRAGMA synchronous=NORMAL");
        }
        execute("PRAGMA foreign_keys=ON");
    } catch (...) {
        // A constructor that throws runs no destructor: close the connection here.
        sqlite3_close_v2(mDb);
        mDb = nullptr;
        throw;
    }
}

SqliteDatabase::~SqliteDatabase()
{
    sqlite3_close_v2(mDb);
}

void SqliteDatabase::execute(std::string_view sql)
{
    char *message = nullptr;
    const std::string text(sql);
    const int rc = sqlite3_exec(mDb, text.c_str(), nullptr, nullptr, &message);
    if (message)
        sqlite3_free(message);
    if (rc != SQLITE_OK)
        fail(rc, "running \"" + text.substr(0, 60) + "\"");
}

int64_t SqliteDatabase::lastInsertId() const
{
    return sqlite3_last_insert_rowid(mDb);
}

int SqliteDatabase::changes() const
{
    return sqlite3_changes(mDb);
}

void SqliteDatabase::transaction(const std::function<void()> &work)
{
    execute("BEGIN IMMEDIATE");
    try {
        work();
        execute("COMMIT");
    } catch (...) {
        if (!sqlite3_get_autocommit(mDb))
            sqlite3_exec(mDb, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

std::string SqliteDatabase::integrityCheck()
{
    auto statement = prepare("PRAGMA integrity_check");
    std::string result;
    while (statement.step()) {
        if (!result.empty())
            result += "; ";
        result += statement.text(0);
    }
    return result;
}

void SqliteDatabase::fail(int code, const std::string &what) const
{
    std::string detail = mDb ? sqlite3_errmsg(mDb) : "";
    std::string reason = describeAt(code, mPath);
    // An I/O error's cause, as the system reported it: a full disk shows up this way when
    // SQLite grows its shared-memory index or writes the WAL.
    if (const int system = mDb ? sqlite3_system_errno(mDb) : 0; (code & 0xff) == SQLITE_IOERR && system != 0)
        reason = system == ENOSPC ? "the disk is full (" + std::string(std::strerror(system)) + ")"
                                  : reason + " (" + std::strerror(system) + ")";
    std::string message = mPath.string() + ": " + reason;
    if (!detail.empty() && detail != describe(code) && detail != sqlite3_errstr(code))
        message += " (" + detail + ")";
    throw StoreError(message + " while " + what);
}

} // namespace plad
