#include "store/resultstore.h"

namespace plad {

ResultStore::ResultStore(SqliteDatabase &db)
    : mDb(db)
{}

void ResultStore::addArtifact(const std::string &runId, const std::string &kind, const std::string &path, int64_t step)
{
    mDb.prepare("INSERT INTO artifacts (run_id, kind, path, step, created_at) VALUES (?,?,?,?,?)")
        .bind(1, runId)
        .bind(2, kind)
        .bind(3, path)
        .bind(4, step)
        .bind(5, utcNow())
        .run();
}

std::vector<ArtifactRecord> ResultStore::artifacts(const std::string &runId, const std::string &kind)
{
    auto s = mDb.prepare("SELECT kind, path, step, created_at FROM artifacts WHERE run_id = ? AND (? = '' OR kind = ?) ORDER BY id");
    s.bind(1, runId).bind(2, kind).bind(3, kind);
    std::vector<ArtifactRecord> out;
    while (s.step())
        out.push_back({s.text(0), s.text(1), s.integer(2), s.text(3)});
    return out;
}

void ResultStore::addEvaluation(const std::string &runId, int64_t step, const std::string &name, const std::string &resultJson)
{
    mDb.prepare("INSERT INTO evaluations (run_id, step, name, result, created_at) VALUES (?,?,?,?,?)")
        .bind(1, runId)
        .bind(2, step)
        .bind(3, name)
        .bind(4, resultJson)
        .bind(5, utcNow())
        .run();
}

std::vector<EvaluationRecord> ResultStore::evaluations(const std::string &runId, const std::string &name)
{
    auto s = mDb.prepare("SELECT step, name, result, created_at FROM evaluations WHERE run_id = ? AND (? = '' OR name = ?) ORDER BY step, id");
    s.bind(1, runId).bind(2, name).bind(3, name);
    std::vector<EvaluationRecord> out;
    while (s.step())
        out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3)});
    return out;
}

} // namespace plad
