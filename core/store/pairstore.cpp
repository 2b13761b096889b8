#include "store/pairstore.h"

#include "store/runstore.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <cstring>

namespace plad {

namespace {

template<typename Out, typename In>
std::vector<char> packAs(const std::vector<In> &values)
{
    std::vector<char> bytes(values.size() * sizeof(Out));
    for (size_t i = 0; i < values.size(); ++i) {
        const Out v = static_cast<Out>(values[i]);
        std::memcpy(bytes.data() + i * sizeof(Out), &v, sizeof(Out));
    }
    return bytes;
}

template<typename Stored, typename Out>
std::vector<Out> unpackAs(const std::vector<char> &bytes)
{
    std::vector<Out> values(bytes.size() / sizeof(Stored));
    for (size_t i = 0; i < values.size(); ++i) {
        Stored v;
        std::memcpy(&v, bytes.data() + i * sizeof(Stored), sizeof(Stored));
        values[i] = static_cast<Out>(v);
    }
    return values;
}

std::optional<double> optionalReal(SqliteStatement &s, int column)
{
    return s.isNull(column) ? std::nullopt : std::optional<double>(s.real(column));
}

constexpr const char *pairColumns = "p.id, p.prompt_id, p.round, p.chosen_output, p.rejected_output, p.labeller, p.chosen_judge, "
                                    "p.rejected_judge, p.initial_margin, p.current_margin, p.current_loss, p.updated_step, "
                                    "a.action, a.weight, a.note, a.updated_at";

AnnotationAction parseAnnotationAction(const std::string &name)
{
    // An action a newer version wrote: keep the pair and its note.
    return findEnum<AnnotationAction>(annotationActionNames, name).value_or(AnnotationAction::Note);
}

StoredPair readPair(SqliteStatement &s)
{
    StoredPair p;
    p.id = s.integer(0);
    p.promptId = s.text(1);
    p.round = s.integer(2);
    p.chosenOutput = s.integer(3);
    p.rejectedOutput = s.integer(4);
    p.labeller = s.text(5);
    p.chosenJudge = optionalReal(s, 6);
    p.rejectedJudge = optionalReal(s, 7);
    p.initialMargin = s.real(8);
    p.currentMargin = optionalReal(s, 9);
    p.currentLoss = optionalReal(s, 10);
    if (!s.isNull(11))
        p.updatedStep = s.integer(11);
    if (!s.isNull(12))
        p.annotation = PairAnnotation{p.id, parseAnnotationAction(s.text(12)), s.real(13), s.text(14), s.text(15)};
    return p;
}

constexpr const char *outputColumns = "id, prompt_id, round, source, sample, text, token_ids, student_logprobs, teacher_logprobs, seconds, "
                                      "finish_reason";

StoredOutput readOutput(SqliteStatement &s)
{
    StoredOutput o;
    o.id = s.integer(0);
    o.promptId = s.text(1);
    o.round = s.integer(2);
    o.source = s.text(3) == "student" ? OutputSource::Student : OutputSource::Teacher;
    o.sample = s.integer(4);
    o.text = s.text(5);
    o.tokenIds = unpackAs<int32_t, int64_t>(s.blob(6));
    o.studentLogprobs = unpackAs<float, float>(s.blob(7));
    if (!s.isNull(8))
        o.teacherLogprobs = unpackAs<float, float>(s.blob(8));
    o.seconds = s.real(9);
    o.finishReason = s.text(10);
    return o;
}

/** `text` as a LIKE pattern matching it anywhere (with '\\' escaping LIKE's own characters). */
std::string containsPattern(const std::string &text)
{
    std::string pattern = "%";
    for (const char c : text) {
        if (c == '%' || c == '_' || c == '\\')
            pattern += '\\';
        pattern += c;
    }
    return pattern + "%";
}

} // namespace

PairStore::PairStore(SqliteDatabase &db, RunStore &runs)
    : mDb(db)
    , mRuns(runs)
{}

void PairStore::addPrompts(const std::string &runId, const std::vector<PromptRecord> &prompts)
{
    mRuns.requireRun(runId);
    mDb.transaction([&] {
        auto s = mDb.prepare("INSERT OR IGNORE INTO prompts (run_id, prompt_id, idx, split, prompt, reference, messages) VALUES (?,?,?,?,?,?,?)");
        for (const auto &p : prompts) {
            s.bind(1, runId).bind(2, p.id).bind(3, p.index).bind(4, p.split).bind(5, p.prompt).bind(6, p.reference).bind(7, p.messages);
            s.run();
        }
    });
}

std::vector<PromptRecord> PairStore::prompts(const std::string &runId, const std::string &split)
{
    auto s = mDb.prepare("SELECT prompt_id, idx, split, prompt, reference, messages FROM prompts WHERE run_id = ? AND (? = '' OR split = ?) "
                          "ORDER BY idx");
    s.bind(1, runId).bind(2, split).bind(3, split);
    std::vector<PromptRecord> out;
    while (s.step())
        out.push_back({s.text(0), s.integer(1), s.text(2), s.text(3), s.text(4), s.text(5)});
    return out;
}

std::vector<std::string> PairStore::generatedPrompts(const std::string &runId, int64_t round)
{
    auto s = mDb.prepare("SELECT prompt_id FROM generated WHERE run_id = ? AND round = ?");
    s.bind(1, runId).bind(2, round);
    std::vector<std::string> out;
    while (s.step())
        out.push_back(s.text(0));
    return out;
}

void PairStore::saveGenerated(const std::string &runId, int64_t round, const std::vector<GeneratedPrompt> &prompts)
{
    if (prompts.empty())
        return;
    mDb.transaction([&] {
        auto mark = mDb.prepare("INSERT OR IGNORE INTO generated (run_id, round, prompt_id, pairs, dropped) VALUES (?,?,?,?,?)");
        auto output = mDb.prepare("INSERT INTO outputs (run_id, prompt_id, round, source, sample, text, token_ids, student_logprobs, "
                                   "teacher_logprobs, seconds, finish_reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
        auto pair = mDb.prepare("INSERT INTO pairs (run_id, prompt_id, round, chosen_output, rejected_output, labeller, chosen_judge, "
                                 "rejected_judge, initial_margin) VALUES (?,?,?,?,?,?,?,?,?)");
        for (const auto &g : prompts) {
            mark.bind(1, runId).bind(2, round).bind(3, g.promptId).bind(4, static_cast<int64_t>(g.pairs.size())).bind(5, g.dropped);
            mark.run();
            if (mDb.changes() == 0)
                continue; // generated before (a resumed run): keep the first result
            std::vector<int64_t> ids;
            for (const auto &o : g.outputs) {
                const auto tokens = packAs<int32_t>(o.tokenIds);
                const auto student = packAs<float>(o.studentLogprobs);
                output.bind(1, runId).bind(2, g.promptId).bind(3, round).bind(4, toString(o.source)).bind(5, o.sample).bind(6, o.text);
                output.bindBlob(7, tokens.data(), tokens.size()).bindBlob(8, student.data(), student.size());
                if (o.teacherLogprobs) {
                    const auto teacher = packAs<float>(*o.teacherLogprobs);
                    output.bindBlob(9, teacher.data(), teacher.size());
                } else {
                    output.bindNull(9);
                }
                output.bind(10, o.seconds).bind(11, o.finishReason);
                output.run();
                ids.push_back(mDb.lastInsertId());
            }
            for (const auto &p : g.pairs) {
                const auto chosen = p.chosenExisting ? static_cast<int64_t>(p.chosen) : ids.at(p.chosen);
                const auto rejected = p.rejectedExisting ? static_cast<int64_t>(p.rejected) : ids.at(p.rejected);
                pair.bind(1, runId).bind(2, g.promptId).bind(3, round).bind(4, chosen).bind(5, rejected).bind(6, p.labeller);
                pair.bind(7, p.chosenJudge).bind(8, p.rejectedJudge).bind(9, p.initialMargin);
                pair.run();
            }
        }
    });
}

std::vector<StoredOutput> PairStore::outputs(const std::string &runId, int64_t round)
{
    auto s = mDb.prepare(std::string("SELECT ") + outputColumns + " FROM outputs o WHERE run_id = ? AND (? < 0 OR round = ?) "
                          // In the prompts' order, whatever order generation saved them in.
                          "ORDER BY round, (SELECT idx FROM prompts q WHERE q.run_id = o.run_id AND q.prompt_id = o.prompt_id), id");
    s.bind(1, runId).bind(2, round).bind(3, round);
    std::vector<StoredOutput> out;
    while (s.step())
        out.push_back(readOutput(s));
    return out;
}

std::map<std::string, PromptRecord> PairStore::promptsById(const std::string &runId)
{
    std::map<std::string, PromptRecord> byId;
    for (auto &p : prompts(runId))
        byId.emplace(p.id, std::move(p));
    return byId;
}

std::map<int64_t, StoredOutput> PairStore::outputsById(const std::string &runId)
{
    std::map<int64_t, StoredOutput> byId;
    for (auto &o : outputs(runId))
        byId.emplace(o.id, std::move(o));
    return byId;
}

std::vector<StoredPair> PairStore::list(const std::string &runId, int64_t round)
{
    auto s = mDb.prepare(std::string("SELECT ") + pairColumns
                          + " FROM pairs p LEFT JOIN annotations a ON a.pair_id = p.id WHERE p.run_id = ? AND (? < 0 OR p.round = ?) "
                            // In the prompts' order, whatever order generation saved them in.
                            "ORDER BY p.round, (SELECT idx FROM prompts q WHERE q.run_id = p.run_id AND q.prompt_id = p.prompt_id), p.id");
    s.bind(1, runId).bind(2, round).bind(3, round);
    std::vector<StoredPair> out;
    while (s.step())
        out.push_back(readPair(s));
    return out;
}

int64_t PairStore::pairCount(const std::string &runId, int64_t round, const std::string &split)
{
    auto s = mDb.prepare("SELECT count(*) FROM pairs p JOIN prompts q ON q.run_id = p.run_id AND q.prompt_id = p.prompt_id "
                          "WHERE p.run_id = ? AND (? < 0 OR p.round = ?) AND (? = '' OR q.split = ?)");
    s.bind(1, runId).bind(2, round).bind(3, round).bind(4, split).bind(5, split);
    s.step();
    return s.integer(0);
}

StoredPair PairStore::requirePair(const std::string &runId, int64_t pairId)
{
    auto s = mDb.prepare(std::string("SELECT ") + pairColumns
                          + " FROM pairs p LEFT JOIN annotations a ON a.pair_id = p.id WHERE p.run_id = ? AND p.id = ?");
    s.bind(1, runId).bind(2, pairId);
    if (!s.step())
        throw StoreError("run " + runId + " has no pair " + std::to_string(pairId));
    return readPair(s);
}

std::vector<int64_t> PairStore::pairIds(const std::string &runId, const PairQuery &query)
{
    using Filter = PairQuery::Filter;
    std::string where = "p.run_id = ?1";
    std::optional<double> hardest;
    switch (query.filter) {
    case Filter::All: break;
    case Filter::Inverted: where += " AND coalesce(p.current_margin, p.initial_margin) < 0"; break;
    case Filter::JudgeDisagreements: where += " AND c.source = 'student'"; break;
    case Filter::Annotated: where += " AND a.pair_id IS NOT NULL"; break;
    case Filter::HeldOut: where += " AND q.split = 'validation'"; break;
    case Filter::Hardest: {
        // The tenth with the highest loss at its last step (at least one pair when any has a loss).
        auto count = mDb.prepare("SELECT count(*) FROM pairs WHERE run_id = ? AND current_loss IS NOT NULL");
        count.bind(1, runId);
        count.step();
        const int64_t withLoss = count.integer(0);
        if (withLoss == 0)
            return {};
        auto threshold = mDb.prepare("SELECT current_loss FROM pairs WHERE run_id = ? AND current_loss IS NOT NULL ORDER BY current_loss DESC LIMIT 1 OFFSET ?");
        threshold.bind(1, runId).bind(2, std::min(withLoss - 1, withLoss / 10));
        threshold.step();
        hardest = threshold.real(0);
        where += " AND p.current_loss >= ?2 AND p.current_loss > 0";
        break;
    }
    }
    if (!query.search.empty())
        where += " AND (q.prompt LIKE ?3 ESCAPE '\\' OR q.reference LIKE ?3 ESCAPE '\\' OR c.text LIKE ?3 ESCAPE '\\'"
                 " OR r.text LIKE ?3 ESCAPE '\\')";
    std::string order;
    using Order = PairQuery::Order;
    switch (query.order) {
    case Order::Id: order = "p.id"; break;
    case Order::Split: order = "q.split"; break;
    case Order::Prompt: order = "q.prompt"; break;
    case Order::InitialMargin: order = "p.initial_margin"; break;
    case Order::CurrentMargin: order = "p.current_margin"; break;
    case Order::Loss: order = "p.current_loss"; break;
    case Order::Labeller: order = "p.labeller"; break;
    case Order::Annotation: order = "a.action"; break;
    }
    const std::string direction = query.descending ? " DESC" : " ASC";
    // Pairs without a value (never trained, not annotated) sort as the lowest.
    auto s = mDb.prepare("SELECT p.id FROM pairs p JOIN prompts q ON q.run_id = p.run_id AND q.prompt_id = p.prompt_id "
                         "JOIN outputs c ON c.id = p.chosen_output JOIN outputs r ON r.id = p.rejected_output "
                         "LEFT JOIN annotations a ON a.pair_id = p.id WHERE " + where + " ORDER BY " + order + " IS NOT NULL" + direction + ", "
                         + order + direction + ", p.id" + direction);
    s.bind(1, runId);
    if (hardest)
        s.bind(2, *hardest);
    if (!query.search.empty())
        s.bind(3, containsPattern(query.search));
    std::vector<int64_t> ids;
    while (s.step())
        ids.push_back(s.integer(0));
    return ids;
}

std::vector<PairSummary> PairStore::pairSummaries(const std::string &runId, const std::vector<int64_t> &ids)
{
    std::map<int64_t, PairSummary> found;
    // In chunks: SQLite limits the number of bound values of one statement.
    constexpr size_t chunk = 500;
    for (size_t start = 0; start < ids.size(); start += chunk) {
        const size_t n = std::min(chunk, ids.size() - start);
        std::string marks;
        for (size_t i = 0; i < n; ++i)
            marks += i == 0 ? "?" : ",?";
        auto s = mDb.prepare(std::string("SELECT ") + pairColumns + ", q.split, substr(q.prompt, 1, 200), c.source "
                             "FROM pairs p JOIN prompts q ON q.run_id = p.run_id AND q.prompt_id = p.prompt_id "
                             "JOIN outputs c ON c.id = p.chosen_output LEFT JOIN annotations a ON a.pair_id = p.id "
                             "WHERE p.run_id = ? AND p.id IN (" + marks + ")");
        s.bind(1, runId);
        for (size_t i = 0; i < n; ++i)
            s.bind(static_cast<int>(i) + 2, ids[start + i]);
        while (s.step()) {
            PairSummary row;
            row.pair = readPair(s);
            row.split = s.text(16);
            row.promptStart = s.text(17);
            row.chosenSource = s.text(18) == "student" ? OutputSource::Student : OutputSource::Teacher;
            const int64_t id = row.pair.id;
            found.emplace(id, std::move(row));
        }
    }
    std::vector<PairSummary> out;
    out.reserve(found.size());
    for (const int64_t id : ids)
        if (auto it = found.find(id); it != found.end())
            out.push_back(it->second);
    return out;
}

StoredOutput PairStore::requireOutput(const std::string &runId, int64_t outputId)
{
    auto s = mDb.prepare(std::string("SELECT ") + outputColumns + " FROM outputs WHERE run_id = ? AND id = ?");
    s.bind(1, runId).bind(2, outputId);
    if (!s.step())
        throw StoreError("run " + runId + " has no output " + std::to_string(outputId));
    return readOutput(s);
}

PromptRecord PairStore::requirePrompt(const std::string &runId, const std::string &promptId)
{
    auto s = mDb.prepare("SELECT prompt_id, idx, split, prompt, reference, messages FROM prompts WHERE run_id = ? AND prompt_id = ?");
    s.bind(1, runId).bind(2, promptId);
    if (!s.step())
        throw StoreError("run " + runId + " has no prompt \"" + promptId + "\"");
    return {s.text(0), s.integer(1), s.text(2), s.text(3), s.text(4), s.text(5)};
}

void PairStore::annotate(const std::string &runId, const PairAnnotation &annotation)
{
    if (!std::isfinite(annotation.weight) || annotation.weight < 0)
        throw StoreError("pair " + std::to_string(annotation.pairId) + ": the weight must be a non-negative number");
    requirePair(runId, annotation.pairId);
    mDb.prepare("INSERT OR REPLACE INTO annotations (pair_id, run_id, action, weight, note, updated_at) VALUES (?,?,?,?,?,?)")
        .bind(1, annotation.pairId)
        .bind(2, runId)
        .bind(3, toString(annotation.action))
        .bind(4, annotation.weight)
        .bind(5, annotation.note)
        .bind(6, utcNow())
        .run();
}

void PairStore::clearAnnotation(const std::string &runId, int64_t pairId)
{
    mDb.prepare("DELETE FROM annotations WHERE run_id = ? AND pair_id = ?").bind(1, runId).bind(2, pairId).run();
}

void PairStore::recordStep(const std::string &runId, int64_t step, const std::vector<MetricPoint> &points,
                          const std::vector<PairProgress> &pairs)
{
    mDb.transaction([&] {
        auto metric = mDb.prepare("INSERT OR REPLACE INTO metrics (run_id, name, step, value) VALUES (?,?,?,?)");
        for (const auto &p : points) {
            metric.bind(1, runId).bind(2, p.name).bind(3, p.step).bind(4, p.value);
            metric.run();
        }
        auto pair = mDb.prepare("UPDATE pairs SET current_margin = ?, current_loss = ?, updated_step = ? WHERE id = ? AND run_id = ?");
        for (const auto &p : pairs) {
            pair.bind(1, p.margin).bind(2, p.loss).bind(3, step).bind(4, p.pairId).bind(5, runId);
            pair.run();
        }
    });
}

} // namespace plad
