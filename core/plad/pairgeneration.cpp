#include "plad/pairgeneration.h"

#include "common/crashpoint.h"
#include "model/batchsizing.h"

#include "common/error.h"
#include "common/ordering.h"
#include "common/seeds.h"
#include "model/sampling.h"
#include "model/sequencescorer.h"
#include "train/sftdata.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

namespace plad {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/** One prompt's outputs as collected: its ids in the student's tokens and every output, scored. */
struct CollectedPrompt
{
    PromptRecord prompt;
    std::vector<int64_t> promptIds;
    std::vector<CollectedOutput> outputs;

    bool failed() const
    {
        return std::any_of(outputs.begin(), outputs.end(), [](const CollectedOutput &o) { return !o.error.empty(); });
    }
};

// What a rank sends rank 0: a chunk of collected prompts (CBOR, so that log-probs keep every
// bit and an infinite one survives), and at the end whether it stopped early.
nlohmann::json promptRecordJson(const PromptRecord &p)
{
    return {{"id", p.id}, {"index", p.index}, {"split", p.split}, {"prompt", p.prompt}, {"reference", p.reference}, {"messages", p.messages}};
}

PromptRecord promptRecordFrom(const nlohmann::json &j)
{
    PromptRecord p;
    p.id = j.at("id").get<std::string>();
    p.index = j.at("index").get<int64_t>();
    p.split = j.at("split").get<std::string>();
    p.prompt = j.at("prompt").get<std::string>();
    p.reference = j.at("reference").get<std::string>();
    p.messages = j.at("messages").get<std::string>();
    return p;
}

std::string chunkMessage(const std::vector<CollectedPrompt> &chunk, int64_t failed, const std::string &firstError)
{
    nlohmann::json prompts = nlohmann::json::array();
    for (const auto &c : chunk) {
        nlohmann::json outputs = nlohmann::json::array();
        for (const auto &o : c.outputs) {
            if (o.existing)
                continue; // rank 0 has round 0's outputs itself
            const StoredOutput &s = o.output;
            outputs.push_back({{"source", toString(s.source)}, {"sample", s.sample}, {"text", s.text}, {"tokens", s.tokenIds},
                               {"student_logprobs", s.studentLogprobs},
                               {"teacher_logprobs", s.teacherLogprobs ? nlohmann::json(*s.teacherLogprobs) : nlohmann::json()},
                               {"seconds", s.seconds}, {"finish", s.finishReason}, {"error", o.error}});
        }
        prompts.push_back({{"id", c.prompt.id}, {"ids", c.promptIds}, {"outputs", std::move(outputs)}});
    }
    const auto bytes = nlohmann::json::to_cbor(nlohmann::json{{"prompts", std::move(prompts)}, {"failed", failed}, {"first_error", firstError}});
    return {bytes.begin(), bytes.end()};
}

/**
 * Collection: k teacher outputs (new ones from the teacher, or round 0's on a refresh) and k
 * student outputs per prompt, every output in the student's tokens with the initial student's
 * per-token log-probs. `promptIds` are the prompts encoded for the student. Empty when cancelled.
 */
std::vector<CollectedPrompt> collectOutputs(const std::vector<PromptRecord> &batch, const std::vector<std::vector<int64_t>> &promptIds,
                                            const PairGenerationSetup &setup, int64_t round,
                                            const std::map<std::string, std::vector<StoredOutput>> &round0Teacher, JobContext *context,
                                            PairGenerationProfile &profile)
{
    const RunConfig &config = *setup.config;
    const int64_t k = config.pairs.perPrompt;
    const int64_t maxResponse = config.data.limits.maxResponseTokens;
    const int64_t studentTokens = config.pairs.student.maxNewTokens > 0 ? config.pairs.student.maxNewTokens : maxResponse;
    std::vector<uint64_t> seeds;
    for (const auto &p : batch)
        seeds.push_back(pairPromptSeed(config, round, p));

    std::vector<CollectedPrompt> collected(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
        collected[i].prompt = batch[i];
        collected[i].promptIds = promptIds[i];
    }

    std::vector<std::vector<TeacherText>> teacherTexts;
    auto start = Clock::now();
    if (setup.teacher)
        teacherTexts = setup.teacher->generate(batch, k, seeds, context, &profile.teacher);
    profile.teacherSeconds += secondsSince(start);
    // The initial student scores its own outputs while generating them; a refreshed student's
    // outputs are scored by the initial one afterwards.
    const bool studentScoresItself = setup.student == setup.scorer;
    std::vector<std::vector<LocalSample>> studentSamples;
    if (setup.makePairs && !(context && context->isCancelled())) {
        LocalSampling draw;
        draw.sampling = config.pairs.student.sampling;
        draw.maxNewTokens = studentTokens;
        draw.samples = k;
        draw.batchSize = resolveGenerationRows(pairGenerationRows(config), setup.student->config(),
                                               setup.limits.maxPromptTokens + studentTokens);
        draw.logprobs = studentScoresItself;
        for (const uint64_t seed : seeds)
            draw.promptSeeds.push_back(deriveSeed(config.pairs.student.sampling.seed, seed));
        start = Clock::now();
        studentSamples = sampleLocal(*setup.student, *setup.tokenizer, promptIds, draw, context, &profile.student);
        profile.studentSeconds += secondsSince(start);
    }
    if (context && context->isCancelled())
        return {};

    start = Clock::now();
    for (size_t i = 0; i < batch.size(); ++i) {
        auto &c = collected[i];
        if (setup.teacher) {
            for (int64_t s = 0; s < k; ++s) {
                const auto &t = teacherTexts[i][static_cast<size_t>(s)];
                CollectedOutput out;
                out.error = t.error;
                StoredOutput &o = out.output;
                o.promptId = batch[i].id;
                o.round = round;
                o.source = OutputSource::Teacher;
                o.sample = s;
                if (t.error.empty()) {
                    o.text = t.text;
                    o.tokenIds = setup.promptTemplate.encodeResponse(*setup.tokenizer, t.text);
                    if (static_cast<int64_t>(o.tokenIds.size()) > maxResponse)
                        o.tokenIds.resize(static_cast<size_t>(maxResponse));
                    o.teacherLogprobs = t.logprobs;
                    o.seconds = t.seconds;
                    o.finishReason = t.finishReason;
                }
                c.outputs.push_back(std::move(out));
            }
        } else if (const auto it = round0Teacher.find(batch[i].id); it != round0Teacher.end()) {
            for (const auto &o : it->second)
                c.outputs.push_back({o, true, {}});
        }
        if (setup.makePairs)
            for (int64_t s = 0; s < k; ++s) {
                const auto &sample = studentSamples[i][static_cast<size_t>(s)];
                CollectedOutput out;
                StoredOutput &o = out.output;
                o.promptId = batch[i].id;
                o.round = round;
                o.source = OutputSource::Student;
                o.sample = s;
                o.text = sample.text;
                o.tokenIds = sample.ids;
                if (studentScoresItself)
                    o.studentLogprobs = sample.logprobs;
                o.seconds = sample.seconds;
                o.finishReason = sample.finishReason;
                c.outputs.push_back(std::move(out));
            }
    }
    profile.encodeSeconds += secondsSince(start);

    // The teacher's log-probs of the new outputs it has none for (the student's, and its own
    // when it did not record them), in one batched pass.
    if (setup.teacherScorer && setup.teacherScorer->canScore()) {
        std::vector<std::string> prompts, texts;
        std::vector<StoredOutput *> scored;
        for (auto &c : collected) {
            if (c.failed())
                continue;
            for (auto &o : c.outputs)
                if (!o.existing && !o.output.tokenIds.empty() && !o.output.teacherLogprobs) {
                    prompts.push_back(c.prompt.prompt);
                    texts.push_back(o.output.text);
                    scored.push_back(&o.output);
                }
        }
        if (!texts.empty()) {
            start = Clock::now();
            auto scores = setup.teacherScorer->scoreTexts(prompts, texts);
            for (size_t r = 0; r < scores.size(); ++r)
                if (!scores[r].empty())
                    scored[r]->teacherLogprobs = std::move(scores[r]);
            profile.teacherScoreSeconds += secondsSince(start);
        }
    }

    // The initial student's log-probs of the new outputs it did not generate itself (the
    // teacher's, a refreshed student's), in one batched pass.
    std::vector<ScoreRequest> requests;
    std::vector<StoredOutput *> owners;
    for (auto &c : collected) {
        if (c.failed())
            continue;
        for (auto &o : c.outputs)
            if (!o.existing && !o.output.tokenIds.empty() && o.output.studentLogprobs.empty()) {
                requests.push_back({c.promptIds, o.output.tokenIds});
                owners.push_back(&o.output);
            }
    }
    if (!requests.empty()) {
        start = Clock::now();
        const auto scores = scoreSequences(*setup.scorer, requests, 32);
        for (size_t r = 0; r < scores.size(); ++r)
            owners[r]->studentLogprobs.assign(scores[r].tokenLogprobs.begin(), scores[r].tokenLogprobs.end());
        profile.crossScoreSeconds += secondsSince(start);
        profile.crossScoredOutputs += static_cast<int64_t>(requests.size());
    }
    return collected;
}

/** The judge's verdicts for every prompt's candidates (one list per prompt, aligned with candidatePairs()). */
std::vector<std::vector<JudgeVerdict>> judgeCandidates(const std::vector<CollectedPrompt> &collected, const LabellingOptions &options,
                                                       Judge &judge, JobContext *context)
{
    std::vector<JudgeCase> cases;
    std::vector<std::pair<size_t, size_t>> owner; // (prompt, candidate)
    std::vector<std::vector<JudgeVerdict>> verdicts(collected.size());
    for (size_t i = 0; i < collected.size(); ++i) {
        const auto &c = collected[i];
        const auto candidates = candidatePairs(c.outputs);
        verdicts[i].resize(candidates.size());
        for (size_t n = 0; n < candidates.size(); ++n) {
            if (screenCandidate(c.outputs, candidates[n], options))
                continue; // dropped before judging: no need to ask
            cases.push_back({c.prompt.prompt, c.prompt.reference, c.outputs[candidates[n].teacher].output.text,
                             c.outputs[candidates[n].student].output.text});
            owner.emplace_back(i, n);
        }
    }
    if (cases.empty())
        return verdicts;
    const auto answers = judge.judge(cases, context);
    if (answers.size() < cases.size())
        return {}; // cancelled part way
    for (size_t j = 0; j < owner.size(); ++j)
        verdicts[owner[j].first][owner[j].second] = answers[j];
    return verdicts;
}

/** What the store saves for a prompt: its new outputs and its labelled pairs. */
GeneratedPrompt storedPrompt(const CollectedPrompt &c, const PromptLabelling &labelling)
{
    GeneratedPrompt g;
    g.promptId = c.prompt.id;
    std::vector<size_t> storedIndex(c.outputs.size(), 0);
    for (size_t j = 0; j < c.outputs.size(); ++j)
        if (!c.outputs[j].existing) {
            storedIndex[j] = g.outputs.size();
            g.outputs.push_back(c.outputs[j].output);
        }
    for (const auto &p : labelling.pairs) {
        GeneratedPrompt::Pair pair;
        const auto &chosen = c.outputs[p.chosen], &rejected = c.outputs[p.rejected];
        pair.chosenExisting = chosen.existing;
        pair.rejectedExisting = rejected.existing;
        pair.chosen = chosen.existing ? static_cast<size_t>(chosen.output.id) : storedIndex[p.chosen];
        pair.rejected = rejected.existing ? static_cast<size_t>(rejected.output.id) : storedIndex[p.rejected];
        pair.labeller = p.labeller;
        pair.chosenJudge = p.chosenJudge;
        pair.rejectedJudge = p.rejectedJudge;
        pair.initialMargin = p.initialMargin;
        g.pairs.push_back(pair);
    }
    g.dropped = static_cast<int64_t>(labelling.dropped.size());
    return g;
}

/**
 * The writer thread: judges, labels and saves each collected batch (one transaction per
 * batch) while the calling thread generates the next. The queue holds at most two batches, so
 * generation never runs far ahead of what is saved.
 */
class PairWriter
{
public:
    PairWriter(Workspace &store, const std::string &runId, int64_t round, const LabellingOptions &labelling, Judge *judge,
               bool makePairs, JobContext *context)
        : mStore(store)
        , mRunId(runId)
        , mRound(round)
        , mLabelling(labelling)
        , mJudge(judge)
        , mMakePairs(makePairs)
        , mContext(context ? context->silent() : JobContext())
        , mHasContext(context != nullptr)
        , mThread([this] { loop(); })
    {}

    // Stops the thread without rethrowing: the destructor runs while the writer's error (a full
    // disk) is already on its way up, and a second exception would terminate the program.
    ~PairWriter()
    {
        try {
            finish();
        } catch (...) {
        }
    }

    /** Queues a batch; waits while two are queued. Rethrows the writer's error. */
    void push(std::vector<CollectedPrompt> batch, double &waitSeconds)
    {
        const auto start = Clock::now();
        std::unique_lock lock(mMutex);
        mSpace.wait(lock, [this] { return mQueue.size() < 2 || mError; });
        waitSeconds += secondsSince(start);
        if (mError)
            std::rethrow_exception(mError);
        mQueue.push_back(std::move(batch));
        mWork.notify_one();
    }

    /** Saves what is queued, stops the thread, and rethrows its error if it had one. */
    void finish()
    {
        {
            std::lock_guard lock(mMutex);
            if (mClosed)
                return;
            mClosed = true;
            mWork.notify_one();
        }
        mThread.join();
        if (mError)
            std::rethrow_exception(mError);
    }

    /** Prompts saved so far (safe to call from the generating thread). */
    int64_t saved()
    {
        std::lock_guard lock(mMutex);
        return mSaved;
    }

    /** Counts and times; read them after finish(). */
    int64_t pairs = 0;
    int64_t unsavedBatches = 0; ///< batches whose judging was cancelled: not saved, generated again on resume
    DropCounts drops;
    double judgeSeconds = 0, labelSeconds = 0, storeSeconds = 0;

private:
    void loop()
    {
        try {
            for (;;) {
                std::vector<CollectedPrompt> batch;
                {
                    std::unique_lock lock(mMutex);
                    mWork.wait(lock, [this] { return !mQueue.empty() || mClosed; });
                    if (mQueue.empty())
                        return;
                    batch = std::move(mQueue.front());
                    mQueue.pop_front();
                }
                const int64_t n = write(batch);
                std::lock_guard lock(mMutex);
                mSaved += n;
                mSpace.notify_one();
            }
        } catch (...) {
            std::lock_guard lock(mMutex);
            mError = std::current_exception();
            mSpace.notify_all();
        }
    }

    int64_t write(const std::vector<CollectedPrompt> &batch)
    {
        auto start = Clock::now();
        std::vector<std::vector<JudgeVerdict>> verdicts(batch.size());
        if (mMakePairs && mLabelling.policy == LabelingPolicy::Judge) {
            verdicts = judgeCandidates(batch, mLabelling, *mJudge, mHasContext ? &mContext : nullptr);
            if (verdicts.empty()) {
                ++unsavedBatches; // the judge was cancelled part way: no pair is labelled without its verdict
                return 0;
            }
        }
        judgeSeconds += secondsSince(start);

        start = Clock::now();
        std::vector<GeneratedPrompt> finished;
        for (size_t i = 0; i < batch.size(); ++i) {
            const PromptLabelling labelled = mMakePairs ? labelPairs(batch[i].outputs, verdicts[i], mLabelling) : PromptLabelling{};
            for (const auto &d : labelled.dropped)
                drops.add(d.reason);
            pairs += static_cast<int64_t>(labelled.pairs.size());
            finished.push_back(storedPrompt(batch[i], labelled));
        }
        labelSeconds += secondsSince(start);

        start = Clock::now();
        mStore.pairs().saveGenerated(mRunId, mRound, finished);
        crashPoint("generate.saved");
        storeSeconds += secondsSince(start);
        return static_cast<int64_t>(finished.size());
    }

    Workspace &mStore;
    const std::string mRunId;
    const int64_t mRound;
    const LabellingOptions mLabelling;
    Judge *mJudge;
    const bool mMakePairs;
    JobContext mContext;
    const bool mHasContext;
    std::mutex mMutex;
    std::condition_variable mWork, mSpace;
    std::deque<std::vector<CollectedPrompt>> mQueue;
    bool mClosed = false;
    int64_t mSaved = 0;
    std::exception_ptr mError;
    std::thread mThread; // last: started once every member above is ready
};

} // namespace

uint64_t pairPromptSeed(const RunConfig &config, int64_t round, const PromptRecord &prompt)
{
    return deriveSeed(static_cast<uint64_t>(config.seed), {static_cast<uint64_t>(round), static_cast<uint64_t>(prompt.index)});
}

int64_t pairGenerationRows(const RunConfig &config)
{
    return config.pairs.batchSize * std::max<int64_t>(1, config.pairs.perPrompt);
}

int64_t pairChunkPrompts(const RunConfig &config)
{
    return config.pairs.batchSize > 0 ? 4 * config.pairs.batchSize : std::max<int64_t>(1, 256 / std::max<int64_t>(1, config.pairs.perPrompt));
}

PairGenerationReport generatePairs(Workspace &store, const std::string &runId, int64_t round, const PairGenerationSetup &setup,
                                   JobContext *context, const std::function<void(const std::string &)> &log)
{
    return generatePairs(&store, runId, round, setup, context, log);
}

PairGenerationReport generatePairs(Workspace *store, const std::string &runId, int64_t round, const PairGenerationSetup &setup,
                                   JobContext *context, const std::function<void(const std::string &)> &log)
{
    const RunConfig &config = *setup.config;
    const int64_t k = config.pairs.perPrompt;
    if (!setup.teacher && round == 0)
        throw Error("pair generation: round 0 needs a teacher");
    LabellingOptions labelling;
    labelling.policy = config.labeling.policy;
    labelling.score = config.loss.score;
    labelling.minGap = config.labeling.minGap;
    labelling.dropIdentical = config.labeling.dropIdentical;
    labelling.studentPairs = config.labeling.studentPairs;
    if (labelling.policy == LabelingPolicy::Judge && (!setup.group || setup.group->isRoot())) { // rank 0 labels
        if (!setup.judge)
            throw Error("pair generation: the judge policy needs a judge");
        labelling.judgeName = setup.judge->name();
    }

    RankGroup *group = setup.group && setup.group->isDistributed() ? setup.group : nullptr;
    const bool root = !group || group->isRoot();
    const int ranks = group ? group->size() : 1, rank = group ? group->rank() : 0;
    if (root && !store)
        throw Error("pair generation: rank 0 needs the workspace");

    PairGenerationReport report;
    PairGenerationProfile &profile = report.profile;
    const auto start = Clock::now();
    std::vector<PromptRecord> todo;
    int64_t total = 0;
    if (root) {
        auto all = store->pairs().prompts(runId, setup.split);
        if (setup.maxPrompts > 0 && static_cast<int64_t>(all.size()) > setup.maxPrompts)
            all.resize(static_cast<size_t>(setup.maxPrompts));
        const auto doneList = store->pairs().generatedPrompts(runId, round);
        const std::set<std::string> done(doneList.begin(), doneList.end());
        for (const auto &p : all)
            if (!done.count(p.id))
                todo.push_back(p);
        total = static_cast<int64_t>(all.size());
        report.skipped = static_cast<int64_t>(all.size() - todo.size());
    }
    if (group) {
        // Rank 0 tells every rank what is left to do.
        nlohmann::json plan;
        if (root) {
            plan["todo"] = nlohmann::json::array();
            for (const auto &p : todo)
                plan["todo"].push_back(promptRecordJson(p));
        }
        plan = group->broadcastJson(plan);
        if (!root)
            for (const auto &p : plan.at("todo"))
                todo.push_back(promptRecordFrom(p));
    }
    if (todo.empty())
        return report;
    if (setup.teacher)
        setup.teacher->checkCoverage(todo, k);

    // A refresh pairs the new student outputs with the teacher outputs of round 0 (rank 0 adds
    // them to what the other ranks send).
    std::map<std::string, std::vector<StoredOutput>> round0Teacher;
    if (!setup.teacher && root)
        for (auto &o : store->pairs().outputs(runId, 0))
            if (o.source == OutputSource::Teacher)
                round0Teacher[o.promptId].push_back(std::move(o));

    // Buckets: the longest prompts first, so a batch's rows need little padding. The samples do
    // not depend on the order (each prompt has its own seed).
    const int64_t maxResponse = config.data.limits.maxResponseTokens;
    const int64_t longestOutput = std::max(config.pairs.teacher.maxNewTokens > 0 ? config.pairs.teacher.maxNewTokens : maxResponse,
                                           config.pairs.student.maxNewTokens > 0 ? config.pairs.student.maxNewTokens : maxResponse);
    auto encodeStart = Clock::now();
    std::vector<std::vector<int64_t>> encoded;
    encoded.reserve(todo.size());
    for (const auto &p : todo)
        encoded.push_back(encodePromptWithin(p.input(), *setup.tokenizer, setup.promptTemplate, setup.limits, longestOutput));
    const auto order = longestFirst(todo.size(), [&](size_t i) { return encoded[i].size(); });
    // This rank's share: every N-th prompt of the longest-first order, so each rank gets long and short ones alike.
    std::vector<size_t> mine;
    for (size_t j = static_cast<size_t>(rank); j < order.size(); j += static_cast<size_t>(ranks))
        mine.push_back(order[j]);
    profile.encodeSeconds += secondsSince(encodeStart);

    // Inner generation reports per token; this function reports per prompt.
    JobContext innerContext = context ? context->silent() : JobContext();
    JobContext *inner = context ? &innerContext : nullptr;
    const auto chunkSize = static_cast<size_t>(pairChunkPrompts(config));
    int64_t collectedPrompts = 0;
    std::unique_ptr<PairWriter> writer;
    if (root)
        writer = std::make_unique<PairWriter>(*store, runId, round, labelling, setup.judge, setup.makePairs, context);
    auto reportProgress = [&](bool last) {
        if (!context || !writer)
            return;
        const int64_t saved = writer->saved();
        const double elapsed = secondsSince(start);
        const double rate = static_cast<double>(saved + report.failed) / std::max(elapsed, 1e-9);
        const double left = static_cast<double>(static_cast<int64_t>(todo.size()) - saved - report.failed);
        context->report({round == 0 ? "generate" : "refresh", report.skipped + saved, total, "prompts", rate, rate > 0 ? left / rate : -1.0},
                        last);
    };
    std::map<std::string, const PromptRecord *> byId;
    for (const auto &p : todo)
        byId[p.id] = &p;
    auto countFailure = [&](const std::string &error) {
        ++report.failed;
        if (report.firstError.empty())
            report.firstError = error;
    };
    // Rank 0: what another rank sent, saved like its own chunks.
    int finishedRanks = 0;
    auto absorb = [&](const RankMessage &message) {
        nlohmann::json doc;
        try {
            doc = nlohmann::json::from_cbor(message.payload);
        } catch (const std::exception &e) {
            throw Error("pair generation: rank " + std::to_string(message.from) + " sent an unreadable result: " + e.what());
        }
        if (doc.contains("done")) {
            ++finishedRanks;
            report.cancelled = report.cancelled || doc.value("cancelled", false);
            return;
        }
        for (int64_t f = 0; f < doc.at("failed").get<int64_t>(); ++f)
            countFailure(doc.at("first_error").get<std::string>());
        std::vector<CollectedPrompt> chunk;
        for (const auto &p : doc.at("prompts")) {
            const auto it = byId.find(p.at("id").get<std::string>());
            if (it == byId.end())
                throw Error("pair generation: rank " + std::to_string(message.from) + " sent prompt " + p.at("id").dump() + ", which was not asked for");
            CollectedPrompt c;
            c.prompt = *it->second;
            c.promptIds = p.at("ids").get<std::vector<int64_t>>();
            if (const auto t = round0Teacher.find(c.prompt.id); t != round0Teacher.end())
                for (const auto &o : t->second)
                    c.outputs.push_back({o, true, {}});
            for (const auto &o : p.at("outputs")) {
                CollectedOutput out;
                StoredOutput &s = out.output;
                s.promptId = c.prompt.id;
                s.round = round;
                s.source = o.at("source").get<std::string>() == "teacher" ? OutputSource::Teacher : OutputSource::Student;
                s.sample = o.at("sample").get<int64_t>();
                s.text = o.at("text").get<std::string>();
                s.tokenIds = o.at("tokens").get<std::vector<int64_t>>();
                s.studentLogprobs = o.at("student_logprobs").get<std::vector<float>>();
                if (!o.at("teacher_logprobs").is_null())
                    s.teacherLogprobs = o.at("teacher_logprobs").get<std::vector<float>>();
                s.seconds = o.at("seconds").get<double>();
                s.finishReason = o.at("finish").get<std::string>();
                out.error = o.at("error").get<std::string>();
                c.outputs.push_back(std::move(out));
            }
            chunk.push_back(std::move(c));
        }
        collectedPrompts += static_cast<int64_t>(chunk.size());
        writer->push(std::move(chunk), profile.waitSeconds);
        reportProgress(false);
    };
    bool stoppedEarly = false;
    for (size_t first = 0; first < mine.size(); first += chunkSize) {
        if ((context && context->isCancelled()) || (group && !root && group->isRaised("stop"))) {
            stoppedEarly = true;
            break;
        }
        std::vector<PromptRecord> batch;
        std::vector<std::vector<int64_t>> batchIds;
        for (size_t j = first; j < std::min(mine.size(), first + chunkSize); ++j) {
            batch.push_back(todo[mine[j]]);
            batchIds.push_back(encoded[mine[j]]);
        }
        auto collected = collectOutputs(batch, batchIds, setup, round, round0Teacher, inner, profile);
        if (collected.empty()) {
            stoppedEarly = true; // the unfinished batch is not saved; it is generated again on resume
            break;
        }
        std::vector<CollectedPrompt> complete;
        int64_t failedHere = 0;
        std::string firstErrorHere;
        for (auto &c : collected) {
            if (!c.failed()) {
                complete.push_back(std::move(c));
                continue;
            }
            // Not saved: the prompt is generated again on resume.
            ++failedHere;
            if (firstErrorHere.empty())
                for (const auto &o : c.outputs)
                    if (!o.error.empty()) {
                        firstErrorHere = "prompt " + c.prompt.id + ": " + o.error;
                        break;
                    }
        }
        if (!root) {
            group->sendToRoot(chunkMessage(complete, failedHere, firstErrorHere));
            continue;
        }
        for (int64_t f = 0; f < failedHere; ++f)
            countFailure(firstErrorHere);
        collectedPrompts += static_cast<int64_t>(complete.size());
        writer->push(std::move(complete), profile.waitSeconds);
        reportProgress(false);
        if (report.failed > 0 && collectedPrompts == 0) {
            writer->finish();
            if (group)
                group->raise("stop");
            throw Error("the teacher (" + setup.teacher->describe() + ") returned no output: " + report.firstError);
        }
        if (group)
            while (const auto message = group->receive(false))
                absorb(*message);
    }
    if (!root) {
        const auto bytes = nlohmann::json::to_cbor(nlohmann::json{{"done", true}, {"cancelled", stoppedEarly}});
        group->sendToRoot(std::string(bytes.begin(), bytes.end()));
        report.cancelled = stoppedEarly;
        report.seconds = profile.totalSeconds = secondsSince(start);
        return report; // rank 0 counts what was saved
    }
    if (stoppedEarly) {
        report.cancelled = true;
        if (group)
            group->raise("stop"); // the others stop after their current chunk
    }
    while (group && finishedRanks < ranks - 1)
        absorb(*group->receive(true));
    writer->finish();
    report.prompts = writer->saved();
    report.pairs = writer->pairs;
    report.drops = writer->drops;
    if (writer->unsavedBatches > 0)
        report.cancelled = true;
    profile.judgeSeconds = writer->judgeSeconds;
    profile.labelSeconds = writer->labelSeconds;
    profile.storeSeconds = writer->storeSeconds;
    reportProgress(true);
    report.seconds = profile.totalSeconds = secondsSince(start);
    if (log)
        log("round " + std::to_string(round) + ": " + std::to_string(report.prompts) + " prompts, " + std::to_string(report.pairs)
            + " pairs kept, " + std::to_string(report.drops.total()) + " dropped (" + report.drops.describe() + "), " + std::to_string(report.failed)
            + " failed in " + std::to_string(static_cast<int64_t>(report.seconds)) + " s");
    return report;
}

} // namespace plad
