#pragma once

#include "store/records.h"
#include "store/sqlitedatabase.h"

#include <string>
#include <vector>

namespace plad {

/**
 * What a run produced: evaluations (calibration diagnostics, comparisons, the environment, as
 * JSON) and artifacts (checkpoints, the exported model). One of the three stores over a
 * Workspace's connection; every write commits before returning.
 */
class ResultStore
{
public:
    explicit ResultStore(SqliteDatabase &db);

    void addArtifact(const std::string &runId, const std::string &kind, const std::string &path, int64_t step);
    std::vector<ArtifactRecord> artifacts(const std::string &runId, const std::string &kind = {});
    /** Stores an evaluation result (JSON) taken at `step`. */
    void addEvaluation(const std::string &runId, int64_t step, const std::string &name, const std::string &resultJson);
    /** The run's evaluations named `name` (all when empty), in step order. */
    std::vector<EvaluationRecord> evaluations(const std::string &runId, const std::string &name = {});

private:
    SqliteDatabase &mDb;
};

} // namespace plad
