#include "plad/pairgeneration.h"

#include "common/error.h"
#include "model/sampling.h"
#include "model/sequencescorer.h"
#include "train/sftdata.h"

#include <chrono>
#include <map>
#include <set>

namespace plad {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t batchSeed(int64_t round, int64_t firstIndex)
{
    return static_cast<uint64_t>(round) * 1000003ull + static_cast<uint64_t>(firstIndex) * 7919ull;
}

/** One prompt's outputs as collected: its ids in the student's tokens and every output, scored. */
struct CollectedPrompt
{
    const PromptRecord *prompt = nullptr;
    std::vector<int64_t> promptIds;
    std::vector<CollectedOutput> outputs;

    bool failed() const
    {
        return std::any_of(outputs.begin(), outputs.end(), [](const CollectedOutput &o) { return !o.error.empty(); });
    }
};

/**
 * Collection: k teacher outputs (new ones from the teacher, or round 0's on a refresh) and k
 * student outputs per prompt, every output in the student's tokens with the initial student's
 * per-token log-probs. Empty when cancelled.
 */
std::vector<CollectedPrompt> collectOutputs(const std::vector<PromptRecord> &batch, const PairGenerationSetup &setup, int64_t round,
                                            const std::map<std::string, std::vector<StoredOutput>> &round0Teacher, JobContext *context)
{
    const RunConfig &config = *setup.config;
    const int64_t k = config.pairs.perPrompt;
    const int64_t maxResponse = config.data.limits.maxResponseTokens;
    const int64_t teacherTokens = config.pairs.teacher.maxNewTokens > 0 ? config.pairs.teacher.maxNewTokens : maxResponse;
    const int64_t studentTokens = config.pairs.student.maxNewTokens > 0 ? config.pairs.student.maxNewTokens : maxResponse;
    const uint64_t seed = batchSeed(round, batch.front().index);

    std::vector<CollectedPrompt> collected(batch.size());
    std::vector<std::vector<int64_t>> promptIds;
    for (size_t i = 0; i < batch.size(); ++i) {
        collected[i].prompt = &batch[i];
        collected[i].promptIds = encodePromptWithin(batch[i].prompt, *setup.tokenizer, setup.promptTemplate, setup.limits,
                                                    std::max(teacherTokens, studentTokens));
        promptIds.push_back(collected[i].promptIds);
    }

    std::vector<std::vector<TeacherText>> teacherTexts;
    if (setup.teacher)
        teacherTexts = setup.teacher->generate(batch, k, seed, context);
    std::vector<std::vector<LocalSample>> studentSamples;
    if (setup.makePairs && !(context && context->isCancelled())) {
        SamplingOptions sampling = config.pairs.student.sampling;
        sampling.seed += seed;
        studentSamples = sampleLocal(*setup.student, *setup.tokenizer, promptIds, sampling, studentTokens, k, context);
    }
    if (context && context->isCancelled())
        return {};

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
                o.seconds = sample.seconds;
                o.finishReason = sample.finishReason;
                c.outputs.push_back(std::move(out));
            }
    }

    // The initial student's log-probs of every new output, in one batched pass (an existing
    // output of round 0 has them already).
    std::vector<ScoreRequest> requests;
    std::vector<StoredOutput *> owners;
    for (auto &c : collected) {
        if (c.failed())
            continue;
        for (auto &o : c.outputs)
            if (!o.existing && !o.output.tokenIds.empty()) {
                requests.push_back({c.promptIds, o.output.tokenIds});
                owners.push_back(&o.output);
            }
    }
    if (!requests.empty()) {
        const auto scores = scoreSequences(*setup.scorer, requests, 16);
        for (size_t r = 0; r < scores.size(); ++r)
            owners[r]->studentLogprobs.assign(scores[r].tokenLogprobs.begin(), scores[r].tokenLogprobs.end());
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
            cases.push_back({c.prompt->prompt, c.prompt->reference, c.outputs[candidates[n].teacher].output.text,
                             c.outputs[candidates[n].student].output.text});
            owner.emplace_back(i, n);
        }
    }
    if (cases.empty())
        return verdicts;
    const auto answers = judge.judge(cases, context);
    for (size_t j = 0; j < answers.size() && j < owner.size(); ++j)
        verdicts[owner[j].first][owner[j].second] = answers[j];
    return verdicts;
}

/** What the store saves for a prompt: its new outputs and its labelled pairs. */
GeneratedPrompt storedPrompt(const CollectedPrompt &c, const PromptLabelling &labelling)
{
    GeneratedPrompt g;
    g.promptId = c.prompt->id;
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

} // namespace

PairGenerationReport generatePairs(Workspace &store, const std::string &runId, int64_t round, const PairGenerationSetup &setup,
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
    if (labelling.policy == LabelingPolicy::Judge) {
        if (!setup.judge)
            throw Error("pair generation: the judge policy needs a judge");
        labelling.judgeName = setup.judge->name();
    }

    PairGenerationReport report;
    const auto start = Clock::now();
    auto all = store.pairs().prompts(runId, setup.split);
    if (setup.maxPrompts > 0 && static_cast<int64_t>(all.size()) > setup.maxPrompts)
        all.resize(static_cast<size_t>(setup.maxPrompts));
    const auto doneList = store.pairs().generatedPrompts(runId, round);
    const std::set<std::string> done(doneList.begin(), doneList.end());
    std::vector<PromptRecord> todo;
    for (const auto &p : all)
        if (!done.count(p.id))
            todo.push_back(p);
    report.skipped = static_cast<int64_t>(all.size() - todo.size());
    if (todo.empty())
        return report;
    if (setup.teacher)
        setup.teacher->checkCoverage(todo, k);

    // A refresh pairs the new student outputs with the teacher outputs of round 0.
    std::map<std::string, std::vector<StoredOutput>> round0Teacher;
    if (!setup.teacher)
        for (auto &o : store.pairs().outputs(runId, 0))
            if (o.source == OutputSource::Teacher)
                round0Teacher[o.promptId].push_back(std::move(o));

    // Inner generation reports per token; this function reports per prompt.
    JobContext innerContext = context ? context->silent() : JobContext();
    JobContext *inner = context ? &innerContext : nullptr;
    const auto batchSize = static_cast<size_t>(config.pairs.batchSize);
    for (size_t first = 0; first < todo.size(); first += batchSize) {
        if (context && context->isCancelled()) {
            report.cancelled = true;
            break;
        }
        const std::vector<PromptRecord> batch(todo.begin() + static_cast<long>(first),
                                              todo.begin() + static_cast<long>(std::min(todo.size(), first + batchSize)));
        const auto collected = collectOutputs(batch, setup, round, round0Teacher, inner);
        if (collected.empty()) {
            report.cancelled = true; // the unfinished batch is not saved; it is generated again on resume
            break;
        }
        std::vector<std::vector<JudgeVerdict>> verdicts(collected.size());
        if (setup.makePairs && labelling.policy == LabelingPolicy::Judge)
            verdicts = judgeCandidates(collected, labelling, *setup.judge, inner);

        std::vector<GeneratedPrompt> finished;
        for (size_t i = 0; i < collected.size(); ++i) {
            const auto &c = collected[i];
            if (c.failed()) {
                // Not saved: the prompt is generated again on resume.
                ++report.failed;
                if (report.firstError.empty())
                    for (const auto &o : c.outputs)
                        if (!o.error.empty()) {
                            report.firstError = "prompt " + c.prompt->id + ": " + o.error;
                            break;
                        }
                continue;
            }
            const PromptLabelling labelled = setup.makePairs ? labelPairs(c.outputs, verdicts[i], labelling) : PromptLabelling{};
            for (const auto &d : labelled.dropped)
                report.drops.add(d.reason);
            report.pairs += static_cast<int64_t>(labelled.pairs.size());
            finished.push_back(storedPrompt(c, labelled));
        }
        report.dropped = report.drops.total();
        store.pairs().saveGenerated(runId, round, finished);
        report.prompts += static_cast<int64_t>(finished.size());

        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        const int64_t handled = report.prompts + report.failed;
        const double rate = static_cast<double>(handled) / std::max(elapsed, 1e-9);
        if (context)
            context->report({round == 0 ? "generate" : "refresh", report.skipped + handled, static_cast<int64_t>(all.size()), "prompts", rate,
                             static_cast<double>(todo.size() - static_cast<size_t>(handled)) / std::max(rate, 1e-9)},
                            first + batchSize >= todo.size());
        if (report.failed > 0 && report.prompts == 0)
            throw Error("the teacher (" + setup.teacher->describe() + ") returned no output: " + report.firstError);
    }
    report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (log)
        log("round " + std::to_string(round) + ": " + std::to_string(report.prompts) + " prompts, " + std::to_string(report.pairs)
            + " pairs kept, " + std::to_string(report.dropped) + " dropped (" + report.drops.describe() + "), " + std::to_string(report.failed)
            + " failed in " + std::to_string(static_cast<int64_t>(report.seconds)) + " s");
    return report;
}

} // namespace plad
