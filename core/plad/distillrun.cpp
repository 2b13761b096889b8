#include "plad/distillrun.h"
#include "common/crashpoint.h"
#include "plad/distilltrainer.h"

#include "common/error.h"
#include "common/fileio.h"
#include "model/runtime.h"
#include "common/version.h"
#include "common/seeds.h"
#include "model/modelloader.h"
#include "eval/calibration.h"
#include "eval/llmjudge.h"
#include "plad/pairgeneration.h"
#include "plad/pairquality.h"
#include "plad/teachers.h"
#include "train/sftdata.h"

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include <fstream>
#include <thread>

#include <fcntl.h>
#include <sys/utsname.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace plad {

namespace fs = std::filesystem;

namespace {

CausalLM loadStudentModel(const fs::path &directory, const std::string &device, const std::string &what)
{
    if (!fs::is_directory(directory))
        throw Error(what + ": no such model directory " + directory.string());
    LoadOptions options;
    options.device = device;
    return loadModel(directory, options).model;
}

Tokenizer loadTokenizerOf(const fs::path &directory, const std::string &what)
{
    if (!fs::exists(directory / "tokenizer.json"))
        throw Error(what + ": " + directory.string() + " has no tokenizer.json (a model directory must carry its tokenizer)");
    return Tokenizer::load(directory);
}

std::vector<int64_t> truncated(std::vector<int64_t> ids, int64_t limit)
{
    if (static_cast<int64_t>(ids.size()) > limit)
        ids.resize(static_cast<size_t>(limit));
    return ids;
}

/**
 * An exclusive lock on WORKSPACE/runs/RUN_ID/run.lock for as long as a process executes the
 * run. The kernel drops it when the process dies, so a killed run can be resumed at once while
 * a second process is refused.
 */
class RunLock
{
public:
    explicit RunLock(const fs::path &directory, const std::string &runId)
    {
        std::error_code ec;
        fs::create_directories(directory, ec);
        if (ec)
            throw Error(directory.string() + ": cannot create the run directory: " + ec.message());
        const fs::path file = directory / "run.lock";
        mFd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (mFd < 0)
            throw Error(file.string() + ": cannot open the run lock: " + std::strerror(errno));
        if (::flock(mFd, LOCK_EX | LOCK_NB) != 0) {
            ::close(mFd);
            throw Error("run " + runId + " is being executed by another process; wait for it, or stop it, before resuming");
        }
    }
    ~RunLock()
    {
        ::flock(mFd, LOCK_UN);
        ::close(mFd);
    }
    RunLock(const RunLock &) = delete;
    RunLock &operator=(const RunLock &) = delete;

private:
    int mFd = -1;
};

/** Everything the stages share while a run executes. */
struct RunState
{
    Workspace *store;                 // rank 0's; null on the other ranks
    std::string runId;
    RunConfig config;
    fs::path directory;
    Tokenizer tokenizer;
    PromptTemplate promptTemplate;
    EncodingLimits limits;
    CausalLM student, initial;
    const RunCallbacks &callbacks;
    std::shared_ptr<RankGroup> group; // never null: a group of one when alone

    bool isRoot() const { return group->isRoot(); }

    void say(const std::string &line, const std::string &level = "info")
    {
        if (store)
            store->runs().addEvent(runId, level, line);
        if (callbacks.log)
            callbacks.log(line);
    }

    std::vector<int64_t> promptIds(const PromptInput &prompt) const
    {
        return encodePromptWithin(prompt, tokenizer, promptTemplate, limits, limits.maxResponseTokens);
    }
    std::vector<int64_t> responseIds(const std::string &text) const
    {
        return truncated(promptTemplate.encodeResponse(tokenizer, text), limits.maxResponseTokens);
    }
};

void preparePrompts(RunState &s)
{
    if (!s.store->pairs().prompts(s.runId).empty())
        return;
    s.store->runs().setStage(s.runId, "prepare", "running");
    ImportOptions import = s.config.data.import;
    const auto imported = importDataset(s.config.data.file, import);
    const auto splits = splitDataset(imported.records, s.config.data.split);
    std::vector<PromptRecord> prompts;
    int64_t index = 0;
    const size_t trainCount = s.config.pairs.prompts > 0 ? std::min(splits.train.size(), static_cast<size_t>(s.config.pairs.prompts))
                                                          : splits.train.size();
    for (size_t i = 0; i < trainCount; ++i)
        prompts.push_back({splits.train[i].id, index++, "train", splits.train[i].prompt, splits.train[i].reference, splits.train[i].messages});
    for (const auto &r : splits.validation)
        prompts.push_back({r.id, index++, "validation", r.prompt, r.reference, r.messages});
    if (trainCount == 0)
        throw Error("the training split of " + s.config.data.file.string() + " is empty");
    s.store->pairs().addPrompts(s.runId, prompts);
    s.store->runs().setStage(s.runId, "prepare", "completed",
                     std::to_string(trainCount) + " training and " + std::to_string(splits.validation.size()) + " validation prompts");
    s.say("prepared " + std::to_string(trainCount) + " training and " + std::to_string(splits.validation.size()) + " validation prompts from "
          + s.config.data.file.string());
}

/** The training items of the current round, with the user's annotations applied. */
std::vector<DistillItem> loadItems(RunState &s)
{
    std::vector<DistillItem> items;
    const auto prompts = s.store->pairs().prompts(s.runId, "train");
    std::map<std::string, const PromptRecord *> byId;
    for (const auto &p : prompts)
        byId[p.id] = &p;
    std::map<std::string, std::vector<int64_t>> promptCache;
    auto promptFor = [&](const std::string &id) -> const std::vector<int64_t> & {
        auto it = promptCache.find(id);
        if (it == promptCache.end())
            it = promptCache.emplace(id, s.promptIds(byId.at(id)->input())).first;
        return it->second;
    };
    const DistillMethod method = s.config.method;
    if (method == DistillMethod::Sft || method == DistillMethod::WordKd) {
        for (const auto &p : prompts)
            items.push_back({-1, promptFor(p.id), s.responseIds(p.reference), {}, {}, 0, 0, 1});
        return items;
    }
    if (method == DistillMethod::SeqKd) {
        for (const auto &o : s.store->pairs().outputs(s.runId, 0))
            if (o.source == OutputSource::Teacher && !o.tokenIds.empty() && byId.count(o.promptId))
                items.push_back({-1, promptFor(o.promptId), o.tokenIds, {}, {}, 0, 0, 1});
        return items;
    }
    // Taken before reading: an annotation saved while the pairs are read counts as not yet used.
    const std::string readAt = utcNow();
    std::vector<StoredOutput> outputs = s.store->pairs().outputs(s.runId);
    std::map<int64_t, const StoredOutput *> outputById;
    for (const auto &o : outputs)
        outputById[o.id] = &o;
    const auto rounds = s.store->pairs().list(s.runId);
    int64_t round = 0;
    for (const auto &p : rounds)
        round = std::max(round, p.round);
    for (const auto &pair : rounds) {
        if (pair.round != round || !byId.count(pair.promptId))
            continue;
        const StoredOutput *chosen = outputById.at(pair.chosenOutput);
        const StoredOutput *rejected = outputById.at(pair.rejectedOutput);
        double weight = 1;
        if (pair.annotation) {
            switch (pair.annotation->action) {
            case AnnotationAction::Discard:
                continue;
            case AnnotationAction::Flip:
                std::swap(chosen, rejected);
                break;
            case AnnotationAction::Weight:
                weight = pair.annotation->weight;
                break;
            case AnnotationAction::Note:
                break;
            }
        }
        if (weight <= 0)
            continue;
        DistillItem item;
        item.pairId = pair.id;
        item.prompt = promptFor(pair.promptId);
        item.chosen = chosen->tokenIds;
        item.rejected = rejected->tokenIds;
        if (s.config.loss.lambda > 0 && s.config.loss.ceTarget == CeTarget::Reference)
            item.reference = s.responseIds(byId.at(pair.promptId)->reference);
        item.referenceChosen = sequenceScore(chosen->studentLogprobs, ScoreKind::Sum);
        item.referenceRejected = sequenceScore(rejected->studentLogprobs, ScoreKind::Sum);
        item.weight = weight;
        items.push_back(std::move(item));
    }
    s.store->runs().markAnnotationsRead(s.runId, readAt);
    return items;
}

std::vector<MetricPoint> metricsOf(const DistillStep &step)
{
    const auto &p = step.point;
    std::vector<MetricPoint> points = {{p.step, "loss", p.loss},
                                       {p.step, "lr", p.learningRate},
                                       {p.step, "grad_norm", p.gradNorm},
                                       {p.step, "tokens_per_second", p.tokensPerSecond}};
    if (step.rankingAccuracy)
        points.push_back({p.step, "ranking_accuracy", *step.rankingAccuracy});
    if (step.meanMargin)
        points.push_back({p.step, "margin", *step.meanMargin});
    if (p.validationLoss)
        points.push_back({p.step, "validation_loss", *p.validationLoss});
    for (size_t r = 0; r < step.rankTokensPerSecond.size(); ++r)
        points.push_back({p.step, "tokens_per_second_rank" + std::to_string(r), step.rankTokensPerSecond[r]});
    return points;
}

/** Prompts of `split` (its first `limit`, 0 = all) not yet generated for `round`. */
size_t missingPrompts(RunState &s, const std::string &split, int64_t round, int64_t limit)
{
    auto prompts = s.store->pairs().prompts(s.runId, split);
    if (limit > 0 && static_cast<int64_t>(prompts.size()) > limit)
        prompts.resize(static_cast<size_t>(limit));
    const auto doneList = s.store->pairs().generatedPrompts(s.runId, round);
    const std::set<std::string> done(doneList.begin(), doneList.end());
    return static_cast<size_t>(std::count_if(prompts.begin(), prompts.end(), [&](const PromptRecord &p) { return !done.count(p.id); }));
}

/** The fixed evaluation subset: the first eval.prompts validation prompts and their held-out pairs. */
struct EvalSet
{
    std::vector<RankedPair> pairs;
    std::vector<ScoreRequest> references;
    std::vector<std::vector<int64_t>> prompts;
    std::vector<std::string> referenceTexts;
};

EvalSet buildEvalSet(RunState &s)
{
    EvalSet set;
    if (s.config.eval.prompts <= 0)
        return set;
    auto prompts = s.store->pairs().prompts(s.runId, "validation");
    if (static_cast<int64_t>(prompts.size()) > s.config.eval.prompts)
        prompts.resize(static_cast<size_t>(s.config.eval.prompts));
    std::map<std::string, std::vector<int64_t>> promptIds;
    for (const auto &p : prompts) {
        auto ids = s.promptIds(p.input());
        promptIds[p.id] = ids;
        auto reference = s.responseIds(p.reference);
        if (!reference.empty())
            set.references.push_back({ids, reference});
        set.prompts.push_back(ids);
        set.referenceTexts.push_back(p.reference);
    }
    std::map<int64_t, std::vector<int64_t>> tokens;
    for (auto &o : s.store->pairs().outputs(s.runId, 0))
        if (promptIds.count(o.promptId))
            tokens[o.id] = std::move(o.tokenIds);
    for (const auto &pair : s.store->pairs().list(s.runId, 0))
        if (promptIds.count(pair.promptId))
            set.pairs.push_back({promptIds.at(pair.promptId), tokens.at(pair.chosenOutput), tokens.at(pair.rejectedOutput)});
    return set;
}

/** The evaluation subset on every rank (rank 0 builds it from the store). */
EvalSet sharedEvalSet(RunState &s)
{
    if (!s.group->isDistributed())
        return buildEvalSet(s);
    std::string bytes;
    EvalSet set;
    if (s.isRoot()) {
        set = buildEvalSet(s);
        nlohmann::json doc = {{"pairs", nlohmann::json::array()}, {"references", nlohmann::json::array()}, {"prompts", set.prompts},
                              {"texts", set.referenceTexts}};
        for (const auto &p : set.pairs)
            doc["pairs"].push_back({p.prompt, p.chosen, p.rejected});
        for (const auto &r : set.references)
            doc["references"].push_back({r.promptIds, r.completionIds});
        const auto cbor = nlohmann::json::to_cbor(doc);
        bytes.assign(cbor.begin(), cbor.end());
    }
    bytes = s.group->broadcast(bytes);
    if (s.isRoot())
        return set;
    const auto doc = nlohmann::json::from_cbor(bytes);
    for (const auto &p : doc.at("pairs"))
        set.pairs.push_back({p[0].get<std::vector<int64_t>>(), p[1].get<std::vector<int64_t>>(), p[2].get<std::vector<int64_t>>()});
    for (const auto &r : doc.at("references"))
        set.references.push_back({r[0].get<std::vector<int64_t>>(), r[1].get<std::vector<int64_t>>()});
    set.prompts = doc.at("prompts").get<std::vector<std::vector<int64_t>>>();
    set.referenceTexts = doc.at("texts").get<std::vector<std::string>>();
    return set;
}

/** This rank's contiguous part [first, last) of n items. */
std::pair<size_t, size_t> partOf(const RankGroup &group, size_t n)
{
    const auto r = static_cast<size_t>(group.rank()), N = static_cast<size_t>(group.size());
    return {n * r / N, n * (r + 1) / N};
}

template <typename T>
std::vector<T> slice(const std::vector<T> &all, std::pair<size_t, size_t> part)
{
    return {all.begin() + static_cast<long>(part.first), all.begin() + static_cast<long>(part.second)};
}

/**
 * Calibration diagnostics of `model` at `step`: metrics for the curves, the full result as an
 * evaluation. Every rank calls it; each measures its part of the prompts and pairs (the samples
 * keep their prompts' seeds), rank 0 joins the parts in order and records them.
 */
void evaluateAt(RunState &s, CausalLMImpl &model, const EvalSet &set, int64_t step, JobContext *context)
{
    if (set.prompts.empty())
        return;
    const EvalConfig &e = s.config.eval;
    RankGroup &group = *s.group;
    // This rank's measurements.
    const auto pairPart = partOf(group, set.pairs.size()), referencePart = partOf(group, set.references.size()),
               promptPart = partOf(group, set.prompts.size());
    std::vector<double> margins = pairRanking(model, slice(set.pairs, pairPart), s.config.loss.score == ScoreKind::Mean).margins;
    TokenConfidences tokens = tokenConfidences(model, slice(set.references, referencePart));
    std::vector<SampledSequences> samples;
    const int64_t maxTokens = e.sampling.maxNewTokens > 0 ? e.sampling.maxNewTokens : s.config.data.limits.maxResponseTokens;
    bool sampled = e.samples >= 2;
    if (sampled) {
        JobContext quiet = context ? context->silent() : JobContext();
        std::vector<uint64_t> seeds;
        for (size_t i = promptPart.first; i < promptPart.second; ++i)
            seeds.push_back(deriveSeed(e.sampling.sampling.seed, i)); // what one process gives prompt i
        samples = scoredSamples(model, s.tokenizer, slice(set.prompts, promptPart), slice(set.referenceTexts, promptPart), e.samples,
                                e.sampling.sampling, maxTokens, context ? &quiet : nullptr, seeds);
        sampled = samples.size() == promptPart.second - promptPart.first;
    }
    auto samplesJson = [](const std::vector<SampledSequences> &all) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto &p : all)
            out.push_back({p.meanLogprob, p.quality});
        return out;
    };
    if (!group.isRoot()) {
        std::vector<int> correct(tokens.correct.begin(), tokens.correct.end());
        const auto cbor = nlohmann::json::to_cbor(nlohmann::json{{"step", step}, {"margins", margins}, {"confidence", tokens.confidence},
                                                                 {"correct", correct}, {"sampled", sampled}, {"samples", samplesJson(samples)}});
        group.sendToRoot(std::string(cbor.begin(), cbor.end()));
        return;
    }
    // Rank 0: the other ranks' parts, joined in rank order.
    if (group.isDistributed()) {
        std::vector<nlohmann::json> parts(static_cast<size_t>(group.size()));
        for (int n = 1; n < group.size(); ++n) {
            const auto message = group.receive(true);
            parts[static_cast<size_t>(message->from)] = nlohmann::json::from_cbor(message->payload);
        }
        for (size_t r = 1; r < parts.size(); ++r) {
            const auto &p = parts[r];
            if (p.at("step").get<int64_t>() != step)
                throw Error("evaluation at step " + std::to_string(step) + ": rank " + std::to_string(r) + " measured step " + p.at("step").dump());
            for (const auto &m : p.at("margins"))
                margins.push_back(m.get<double>());
            for (const auto &c : p.at("confidence"))
                tokens.confidence.push_back(c.get<double>());
            for (const auto &c : p.at("correct"))
                tokens.correct.push_back(c.get<int>() != 0);
            sampled = sampled && p.at("sampled").get<bool>();
            for (const auto &q : p.at("samples"))
                samples.push_back({q[0].get<std::vector<double>>(), q[1].get<std::vector<double>>()});
        }
    }

    std::vector<MetricPoint> points;
    nlohmann::json result = {{"step", step}};
    if (!set.pairs.empty()) {
        const auto ranking = pairRankingOf(std::move(margins));
        points.push_back({step, "eval_pair_accuracy", ranking.accuracy});
        points.push_back({step, "eval_margin", ranking.meanMargin});
        result["pair_ranking"] = {{"accuracy", ranking.accuracy}, {"mean_margin", ranking.meanMargin}, {"pairs", set.pairs.size()},
                                  {"margins", ranking.margins}};
    }
    if (!set.references.empty()) {
        const auto curve = calibrationCurve(tokens.confidence, tokens.correct, e.bins);
        points.push_back({step, "eval_ece", curve.ece});
        result["token_calibration"] = toJson(curve);
    }
    if (sampled) {
        const auto seq = summariseSamples(std::move(samples));
        if (seq.prompts > 0)
            points.push_back({step, "eval_spearman", seq.meanSpearman});
        if (seq.preference.samples > 0)
            points.push_back({step, "eval_sequence_ece", seq.preference.ece});
        if (std::isfinite(seq.rerank.winRate))
            points.push_back({step, "eval_rerank_win_rate", seq.rerank.winRate});
        result["sequence_calibration"] = {{"mean_spearman", finiteOrNull(seq.meanSpearman)}, {"prompts", seq.prompts}, {"samples", e.samples},
                                          {"preference", toJson(seq.preference)},
                                          {"rerank",
                                           {{"win_rate", finiteOrNull(seq.rerank.winRate)}, {"wins", seq.rerank.wins}, {"losses", seq.rerank.losses},
                                            {"ties", seq.rerank.ties}, {"prompts", seq.rerank.prompts},
                                            {"mean_rouge_l", finiteOrNull(seq.rerank.meanQuality)},
                                            {"mean_sample_rouge_l", finiteOrNull(seq.rerank.meanSampleQuality)}}}};
    }
    crashPoint("eval.measured");
    s.store->pairs().recordStep(s.runId, step, points, {});
    s.store->results().addEvaluation(s.runId, step, "calibration", result.dump());
    std::string line = "evaluation at step " + std::to_string(step) + ":";
    for (const auto &p : points) {
        char value[64];
        std::snprintf(value, sizeof value, " %s %.4f", p.name.c_str() + 5, p.value);
        line += value;
    }
    s.say(line);
}

/**
 * The pair-quality readout on the held-out prompts (their outputs from round 0): how often each
 * policy's preferred side is the better one by the reference. Stored as the run's "pair_quality"
 * evaluation at step 0 and logged.
 */
void recordPairQuality(RunState &s)
{
    LabellingOptions options;
    options.score = s.config.loss.score;
    options.minGap = s.config.labeling.minGap;
    options.dropIdentical = s.config.labeling.dropIdentical;
    const PairQuality quality = storedPairQuality(*s.store, s.runId, s.config.eval.prompts, options);
    if (quality.prompts == 0)
        return;
    nlohmann::json doc = toJson(quality);
    doc["policy"] = enumName<LabelingPolicy>(labelingPolicyNames, s.config.labeling.policy);
    doc["split"] = "validation";
    s.store->results().addEvaluation(s.runId, 0, "pair_quality", doc.dump());
    s.say("pair quality on " + std::to_string(quality.prompts) + " held-out prompts (preferred side better by the reference): " + describe(quality));
}

DistillRunResult stopWith(RunState &s, DistillRunResult result, RunStatus status, const std::string &stage, const std::string &message)
{
    result.status = status;
    result.message = message;
    if (!s.store)
        return result; // rank 0 records it
    s.store->runs().setStage(s.runId, stage, toString(status), message);
    s.store->runs().setStatus(s.runId, status, status == RunStatus::Failed ? message : std::string());
    s.say(message, status == RunStatus::Failed ? "error" : "warning");
    return result;
}

/** Every rank gets rank 0's training items (rank 0 reads them from the store). */
std::vector<DistillItem> sharedItems(RunState &s)
{
    if (!s.group->isDistributed())
        return loadItems(s);
    std::string bytes;
    std::vector<DistillItem> items;
    if (s.isRoot()) {
        items = loadItems(s);
        nlohmann::json doc = nlohmann::json::array();
        for (const auto &i : items)
            doc.push_back({i.pairId, i.prompt, i.chosen, i.rejected, i.reference, i.referenceChosen, i.referenceRejected, i.weight});
        const auto cbor = nlohmann::json::to_cbor(doc);
        bytes.assign(cbor.begin(), cbor.end());
    }
    bytes = s.group->broadcast(bytes);
    if (s.isRoot())
        return items;
    for (const auto &j : nlohmann::json::from_cbor(bytes)) {
        DistillItem i;
        i.pairId = j[0].get<int64_t>();
        i.prompt = j[1].get<std::vector<int64_t>>();
        i.chosen = j[2].get<std::vector<int64_t>>();
        i.rejected = j[3].get<std::vector<int64_t>>();
        i.reference = j[4].get<std::vector<int64_t>>();
        i.referenceChosen = j[5].get<double>();
        i.referenceRejected = j[6].get<double>();
        i.weight = j[7].get<double>();
        items.push_back(std::move(i));
    }
    return items;
}

/** What rank 0 decided, on every rank: `decide` runs on rank 0 only. */
template <typename Decide>
nlohmann::json decided(RunState &s, Decide &&decide)
{
    nlohmann::json d;
    if (s.isRoot())
        d = decide();
    return s.group->broadcastJson(d);
}

DistillRunResult execute(RunState &s, JobContext *context)
{
    DistillRunResult result;
    result.runId = s.runId;
    const RunConfig &c = s.config;
    const bool root = s.isRoot();
    if (root)
        preparePrompts(s);

    std::unique_ptr<Judge> judge; // rank 0 labels every pair
    if (c.labeling.policy == LabelingPolicy::Judge && root)
        judge = c.labeling.judge == JudgeKind::Llm ? makeLlmJudge(c.labeling.llm, c.device) : makeRougeJudge();
    PairGenerationSetup setup;
    setup.config = &s.config;
    setup.student = s.initial.get();
    setup.scorer = s.initial.get();
    setup.tokenizer = &s.tokenizer;
    setup.promptTemplate = s.promptTemplate;
    setup.limits = s.limits;
    setup.judge = judge.get();
    setup.group = s.group.get();

    // Held-out pairs for the calibration diagnostics: teacher and student outputs for the first
    // eval.prompts validation prompts, labelled like the training pairs, never trained on.
    const auto plan = decided(s, [&] {
        const bool heldOut = c.eval.prompts > 0 && c.teacher && !s.store->pairs().prompts(s.runId, "validation").empty();
        const bool trainMissing = usesTeacherOutputs(c.method) && missingPrompts(s, "train", 0, 0) > 0;
        return nlohmann::json{{"held_out", heldOut},
                              {"generate", trainMissing || (heldOut && missingPrompts(s, "validation", 0, c.eval.prompts) > 0)}};
    });
    const bool heldOut = plan.at("held_out").get<bool>();
    const int64_t teacherTokens = c.pairs.teacher.maxNewTokens > 0 ? c.pairs.teacher.maxNewTokens : c.data.limits.maxResponseTokens;
    if (plan.at("generate").get<bool>()) {
        if (root)
            s.store->runs().setStage(s.runId, "generate", "running");
        const int64_t k = c.pairs.perPrompt;
        auto teacher = makeTeacher(*c.teacher, c.pairs.teacher, teacherTokens, s.promptTemplate, c.data.limits, c.device, pairGenerationRows(c));
        setup.teacher = teacher.get();
        const bool likelihoodPolicy = c.labeling.policy == LabelingPolicy::TeacherLikelihood;
        std::vector<std::pair<std::string, int64_t>> parts;
        if (usesTeacherOutputs(c.method))
            parts.emplace_back("train", 0);
        if (heldOut)
            parts.emplace_back("validation", c.eval.prompts);
        for (const auto &[split, limit] : parts) {
            setup.split = split;
            setup.maxPrompts = limit;
            setup.makePairs = split == "validation" || usesPairs(c.method);
            // The teacher's likelihood of every output: what teacher-likelihood labels with, and
            // (held-out prompts only) what the pair-quality readout compares it on.
            setup.teacherScorer = (split == "validation" || (likelihoodPolicy && setup.makePairs)) && teacher->canScore() ? teacher.get() : nullptr;
            if (root)
                s.say("generating " + std::to_string(k) + " teacher" + (setup.makePairs ? " and student" : "") + " output(s) per " + split
                      + " prompt with " + teacher->describe() + (s.group->isDistributed() ? " on " + std::to_string(s.group->size()) + " processes" : ""));
            const auto report = generatePairs(s.store, s.runId, 0, setup, context, root ? s.callbacks.log : std::function<void(const std::string &)>());
            result.generation.push_back(report);
            const auto outcome = decided(s, [&] { return nlohmann::json{{"cancelled", report.cancelled}, {"failed", report.failed}}; });
            if (outcome.at("cancelled").get<bool>())
                return stopWith(s, result, RunStatus::Cancelled, "generate",
                                "cancelled during pair generation; "
                                    + (root ? std::to_string(s.store->pairs().generatedPrompts(s.runId, 0).size()) : std::string("the finished"))
                                    + " prompts are saved, resume to continue");
            if (outcome.at("failed").get<int64_t>() > 0)
                return stopWith(s, result, RunStatus::Failed, "generate",
                                std::to_string(outcome.at("failed").get<int64_t>()) + " prompts got no teacher output (" + report.firstError
                                    + "); the others are saved, resume to retry");
        }
        if (root) {
            s.store->runs().setStage(s.runId, "generate", "completed", std::to_string(s.store->pairs().pairCount(s.runId, 0)) + " pairs");
            if (heldOut)
                recordPairQuality(s);
        }
        setup.teacher = nullptr;
        setup.teacherScorer = nullptr;
        setup.split = "train";
        setup.maxPrompts = 0;
        setup.makePairs = true;
    }
    // An online refresh with teacher-likelihood asks the teacher about the new student outputs.
    std::unique_ptr<TeacherSource> refreshScorer;
    if (c.refreshEvery > 0 && c.labeling.policy == LabelingPolicy::TeacherLikelihood && c.teacher) {
        refreshScorer = makeTeacher(*c.teacher, c.pairs.teacher, teacherTokens, s.promptTemplate, c.data.limits, c.device, pairGenerationRows(c));
        setup.teacherScorer = refreshScorer.get();
    }
    if (s.callbacks.generateOnly) {
        if (root)
            result.pairs = s.store->pairs().pairCount(s.runId, 0);
        return stopWith(s, result, RunStatus::Cancelled, "train", "stopped after pair generation as asked; resume to train");
    }
    const EvalSet evalSet = sharedEvalSet(s); // every rank measures a part

    // Training.
    if (root)
        s.store->runs().setStage(s.runId, "train", "running");
    CausalLM teacherModel;
    if (c.method == DistillMethod::WordKd) {
        checkSharedVocabulary(c.teacher->model, c.student);
        teacherModel = loadStudentModel(c.teacher->model, c.device, "teacher.model");
    }
    std::vector<DistillItem> validation;
    if (root)
        for (const auto &p : s.store->pairs().prompts(s.runId, "validation"))
            validation.push_back({-1, s.promptIds(p.input()), s.responseIds(p.reference), {}, {}, 0, 0, 1});
    DistillTrainerOptions trainerOptions;
    trainerOptions.student = s.student;
    trainerOptions.teacher = teacherModel;
    trainerOptions.method = c.method;
    trainerOptions.loss = c.loss;
    trainerOptions.training = c.train;
    trainerOptions.checkpointDirectory = s.directory / "checkpoint";
    trainerOptions.loadItems = [&] { return sharedItems(s); };
    trainerOptions.validation = std::move(validation);
    trainerOptions.group = s.group;
    DistillTrainer trainer(std::move(trainerOptions));
    if (root)
        trainer.setCheckpointCallback(
            [&](int64_t step) { s.store->results().addArtifact(s.runId, "checkpoint", (s.directory / "checkpoint").string(), step); });
    const int64_t resumedAt = trainer.restore();
    if (root) {
        s.store->runs().truncateMetrics(s.runId, resumedAt);
        if (resumedAt > 0)
            s.say("resumed from the checkpoint at step " + std::to_string(resumedAt)
                  + (s.group->isDistributed() ? " on " + std::to_string(s.group->size()) + " processes" : ""));
    }
    if (resumedAt == 0)
        evaluateAt(s, *s.student, evalSet, 0, context);
    auto onStep = [&](const DistillStep &step) {
        if (root)
            s.store->pairs().recordStep(s.runId, step.point.step, metricsOf(step), step.pairs);
        crashPoint("train.step");
        if (c.eval.every > 0 && step.point.step % c.eval.every == 0 && step.point.step < c.train.maxSteps)
            evaluateAt(s, *s.student, evalSet, step.point.step, context);
        if (s.callbacks.onStep)
            s.callbacks.onStep(step);
    };
    while (trainer.step() < c.train.maxSteps) {
        const int64_t step = trainer.step();
        int64_t until = c.train.maxSteps;
        if (c.refreshEvery > 0) {
            const int64_t round = step / c.refreshEvery;
            until = std::min(until, (round + 1) * c.refreshEvery);
            if (round > 0 && step % c.refreshEvery == 0) {
                const auto refresh = decided(s, [&] { return nlohmann::json(missingPrompts(s, "train", round, 0) > 0); });
                if (refresh.get<bool>()) {
                    trainer.checkpoint(); // a resume regenerates the round from exactly these weights
                    if (root)
                        s.say("online refresh " + std::to_string(round) + ": sampling new student outputs at step " + std::to_string(step));
                    setup.student = trainer.model().get();
                    const auto report = generatePairs(s.store, s.runId, round, setup, context,
                                                      root ? s.callbacks.log : std::function<void(const std::string &)>());
                    if (decided(s, [&] { return nlohmann::json(report.cancelled); }).get<bool>())
                        return stopWith(s, result, RunStatus::Cancelled, "train", "cancelled during online refresh " + std::to_string(round)
                                                                                     + "; resume to continue");
                }
                trainer.newEpoch();
            }
        }
        const TrainOutcome outcome = trainer.train(until, context, onStep);
        if (outcome.stop == TrainStop::Cancelled) {
            trainer.checkpoint();
            result.steps = trainer.step();
            return stopWith(s, result, RunStatus::Cancelled, "train",
                            "cancelled at step " + std::to_string(trainer.step()) + "; checkpoint saved, resume to continue");
        }
        if (outcome.stop == TrainStop::NonFinite) {
            result.steps = trainer.step();
            return stopWith(s, result, RunStatus::Failed, "train", outcome.message);
        }
    }
    result.steps = trainer.step();
    evaluateAt(s, *s.student, evalSet, trainer.step(), context);
    if (!root) {
        s.group->barrier(); // rank 0 has exported
        result.status = RunStatus::Completed;
        return result;
    }
    if (c.train.checkpointEvery <= 0 || trainer.step() % c.train.checkpointEvery != 0)
        trainer.checkpoint(); // the trainer saved none at the last step
    s.store->runs().setStage(s.runId, "train", "completed", std::to_string(result.steps) + " steps");

    s.store->runs().setStage(s.runId, "export", "running");
    result.modelDirectory = s.directory / "model";
    saveModel(*s.student, result.modelDirectory);
    crashPoint("export.model");
    s.promptTemplate.exportTo(c.student, result.modelDirectory);
    s.store->results().addArtifact(s.runId, "model", result.modelDirectory.string(), result.steps);
    s.store->runs().setStage(s.runId, "export", "completed", result.modelDirectory.string());
    s.store->runs().setStatus(s.runId, RunStatus::Completed);
    result.status = RunStatus::Completed;
    s.say("completed " + std::to_string(result.steps) + " steps; the student is in " + result.modelDirectory.string());
    s.group->barrier();
    return result;
}

std::string firstLineWith(const char *file, const std::string &key)
{
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key, 0) == 0) {
            const auto colon = line.find(':');
            return colon == std::string::npos ? line : line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    return {};
}

/** What a report needs to say where a run ran: versions, threads, hardware. */
nlohmann::json environmentJson()
{
    const RuntimeInfo runtime = runtimeInfo();
    utsname system{};
    ::uname(&system);
    return {{"plad_version", pladVersion},
            {"torch_version", runtime.torchVersion},
            {"blas", runtime.blas},
            {"blas_name", runtime.blasName},
            {"blas_threads", runtime.blasThreads},
            {"reference_blas", runtime.referenceBlas},
            {"cpu_capability", runtime.cpuCapability},
            {"threads", runtime.intraOpThreads},
            {"cores", std::thread::hardware_concurrency()},
            {"cpu", firstLineWith("/proc/cpuinfo", "model name")},
            {"memory", firstLineWith("/proc/meminfo", "MemTotal")},
            {"os", std::string(system.sysname) + " " + system.release + " " + system.machine},
            {"time", utcNow()}};
}

/**
 * Records a failure in the run. When the store cannot take it either (the disk that failed
 * the run is full), the original error is what the user needs, so this one is not raised.
 */
void markFailed(Workspace &store, const std::string &runId, const std::string &message) noexcept
{
    try {
        store.runs().setStatus(runId, RunStatus::Failed, message);
        store.runs().addEvent(runId, "error", message);
    } catch (const std::exception &) {
    }
}

} // namespace

fs::path runDirectory(const fs::path &workspace, const std::string &runId)
{
    return fs::absolute(workspace).lexically_normal() / "runs" / runId;
}

RunRecord createDistillationRun(Workspace &store, const RunConfig &config)
{
    return store.runs().createRun(toString(config.method), config.toJson().dump(2), config.name);
}

void checkSharedVocabulary(const fs::path &teacherModel, const fs::path &studentModel)
{
    const Tokenizer teacher = loadTokenizerOf(teacherModel, "teacher.model");
    const Tokenizer student = loadTokenizerOf(studentModel, "student.model");
    const std::string advice = "; word-level KD compares token distributions and needs one vocabulary: use seqkd or plad, which need only "
                               "the teacher's text";
    if (teacher.vocabSize() != student.vocabSize())
        throw Error("the teacher's tokenizer has " + std::to_string(teacher.vocabSize()) + " tokens and the student's "
                    + std::to_string(student.vocabSize()) + advice);
    for (int64_t id = 0; id < teacher.vocabSize(); ++id)
        if (teacher.idToToken(id) != student.idToToken(id))
            throw Error("the teacher's and the student's tokenizers differ at id " + std::to_string(id) + " (\""
                        + teacher.idToToken(id).value_or("") + "\" vs \"" + student.idToToken(id).value_or("") + "\")" + advice);
}

namespace {

/** The models, tokenizer and template of a run, loaded the same way on every rank. */
DistillRunResult executeLoaded(Workspace *store, const std::string &runId, const RunConfig &config, const fs::path &directory,
                               std::shared_ptr<RankGroup> group, JobContext *context, const RunCallbacks &callbacks)
{
    torch::manual_seed(config.seed);
    CausalLM student = loadStudentModel(config.student, config.device, "student.model");
    CausalLM initial = loadStudentModel(config.student, config.device, "student.model");
    initial->eval();
    for (auto &p : initial->parameters())
        p.set_requires_grad(false);
    Tokenizer tokenizer = loadTokenizerOf(config.student, "student.model");
    // docs/chat-templates.md: student.template, else data.template, else the student's own format, else plain.
    const PromptTemplate promptTemplate = PromptTemplate::resolve(config.studentTemplate ? config.studentTemplate : config.data.promptTemplate,
                                                                  config.student);
    EncodingLimits limits = config.data.limits;
    if (limits.contextLength <= 0 || limits.contextLength > student->config().maxPositions)
        limits.contextLength = student->config().maxPositions;
    RunState state{store, runId, config, directory, tokenizer, promptTemplate, limits, student, initial, callbacks, std::move(group)};
    return execute(state, context);
}

/** Each rank's device: cuda:LOCAL_RANK when the run asks for CUDA and runs on several processes. */
RunConfig configForRank(RunConfig config, const RankGroup &group)
{
    if (group.isDistributed() && config.device.rfind("cuda", 0) == 0)
        config.device = "cuda:" + std::to_string(group.localRank());
    return config;
}

} // namespace

DistillRunResult executeRun(const fs::path &workspace, const std::string &runId, JobContext *context, const RunCallbacks &callbacks)
{
    std::shared_ptr<RankGroup> group = callbacks.group ? callbacks.group : RankGroup::single();
    if (!group->isRoot())
        throw Error("executeRun is rank 0's; rank " + std::to_string(group->rank()) + " calls followRun");
    RunConfig config;
    std::optional<Workspace> opened;
    std::optional<RunLock> lock;
    // The other ranks wait for the run's config: they get it, or why there is none.
    try {
        opened.emplace(Workspace::open(workspace, false));
        const RunRecord record = opened->runs().requireRun(runId);
        if (record.status == RunStatus::Completed)
            throw Error("run " + runId + " is already completed");
        lock.emplace(runDirectory(workspace, runId), runId);
        try {
            config = RunConfig::fromJson(nlohmann::json::parse(record.configJson), {});
        } catch (const std::exception &e) {
            throw Error("run " + runId + ": its stored config is unusable: " + e.what());
        }
        group->broadcastJson({{"run", runId}, {"config", record.configJson}, {"generate_only", callbacks.generateOnly}});
    } catch (const std::exception &e) {
        if (group->isDistributed())
            group->broadcastJson({{"error", e.what()}});
        throw;
    }
    Workspace &store = *opened;
    store.runs().setStatus(runId, RunStatus::Running);
    nlohmann::json environment = environmentJson();
    environment["processes"] = group->size();
    store.results().addEvaluation(runId, std::max<int64_t>(0, store.runs().lastMetricStep(runId)), "environment", environment.dump());
    try {
        try {
            return executeLoaded(&store, runId, configForRank(config, *group), runDirectory(workspace, runId), group, context, callbacks);
        } catch (const Error &e) {
            markFailed(store, runId, e.what());
            throw;
        } catch (const std::exception &e) {
            // A file system error (full disk, no permission) or a Torch error: say which run, keep it resumable.
            const std::string message = std::string(e.what()) + " (run " + runId + " stopped; what was saved is kept, --resume continues)";
            markFailed(store, runId, message);
            throw Error(message);
        }
    } catch (const StoreError &) {
        throw;
    } catch (const std::exception &e) {
        try {
            Workspace again = Workspace::open(workspace, false);
            if (again.runs().requireRun(runId).status == RunStatus::Running)
                markFailed(again, runId, e.what());
        } catch (const std::exception &) {
            // the database itself is the problem; the original error says more
        }
        throw;
    }
}

DistillRunResult followRun(std::shared_ptr<RankGroup> group, JobContext *context, const RunCallbacks &callbacks)
{
    if (!group || group->isRoot())
        throw Error("followRun is for the ranks other than 0");
    const auto start = group->broadcastJson({});
    if (start.contains("error"))
        throw Error("rank 0 could not start the run: " + start.at("error").get<std::string>());
    const std::string runId = start.at("run").get<std::string>();
    RunConfig config;
    try {
        config = RunConfig::fromJson(nlohmann::json::parse(start.at("config").get<std::string>()), {});
    } catch (const std::exception &e) {
        throw Error("rank " + std::to_string(group->rank()) + ": run " + runId + "'s config is unusable here: " + e.what());
    }
    RunCallbacks mine = callbacks;
    mine.generateOnly = start.at("generate_only").get<bool>();
    // Paths in the config (models, data) must exist on this machine too: the models are loaded here.
    return executeLoaded(nullptr, runId, configForRank(config, *group), {}, group, context, mine);
}

} // namespace plad
