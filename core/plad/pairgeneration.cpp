#include "plad/pairgeneration.h"

#include "common/error.h"
#include "model/sequencescorer.h"
#include "train/sftdata.h"

#include <chrono>
#include <map>
#include <numeric>
#include <set>

namespace plad {

namespace {

using Clock = std::chrono::steady_clock;

std::string normalizedSpace(const std::string &text)
{
    std::string out;
    bool space = false;
    for (char c : text) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = !out.empty();
            continue;
        }
        if (space)
            out += ' ';
        space = false;
        out += c;
    }
    return out;
}

double scoreOf(const std::vector<float> &logprobs, bool mean)
{
    const double sum = std::accumulate(logprobs.begin(), logprobs.end(), 0.0);
    return mean && !logprobs.empty() ? sum / static_cast<double>(logprobs.size()) : sum;
}

uint64_t batchSeed(int64_t round, int64_t firstIndex)
{
    return static_cast<uint64_t>(round) * 1000003ull + static_cast<uint64_t>(firstIndex) * 7919ull;
}

} // namespace

PairGenerationReport generatePairs(RunStore &store, const std::string &runId, int64_t round, const PairGenerationSetup &setup,
                                   JobContext *context, const std::function<void(const std::string &)> &log)
{
    const RunConfig &config = *setup.config;
    const bool pairsNeeded = setup.makePairs;
    const bool meanScore = config.loss.score == "mean";
    const int64_t k = config.pairs.perPrompt;
    const int64_t maxResponse = config.data.limits.maxResponseTokens;
    const int64_t teacherTokens = config.pairs.teacher.maxNewTokens > 0 ? config.pairs.teacher.maxNewTokens : maxResponse;
    const int64_t studentTokens = config.pairs.student.maxNewTokens > 0 ? config.pairs.student.maxNewTokens : maxResponse;
    if (!setup.teacher && round == 0)
        throw Error("pair generation: round 0 needs a teacher");

    PairGenerationReport report;
    const auto start = Clock::now();
    auto all = store.prompts(runId, setup.split);
    if (setup.maxPrompts > 0 && static_cast<int64_t>(all.size()) > setup.maxPrompts)
        all.resize(static_cast<size_t>(setup.maxPrompts));
    const auto doneList = store.generatedPrompts(runId, round);
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
    std::map<std::string, std::vector<StoredOutput>> teacherOutputs;
    if (!setup.teacher)
        for (auto &o : store.outputs(runId, 0))
            if (o.source == "teacher")
                teacherOutputs[o.promptId].push_back(std::move(o));

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
        const uint64_t seed = batchSeed(round, batch.front().index);
        std::vector<std::vector<int64_t>> promptIds;
        for (const auto &p : batch)
            promptIds.push_back(encodePromptWithin(p.prompt, *setup.tokenizer, setup.promptTemplate, setup.limits,
                                                   std::max(teacherTokens, studentTokens)));

        std::vector<std::vector<TeacherText>> teacherTexts;
        if (setup.teacher)
            teacherTexts = setup.teacher->generate(batch, k, seed, inner);
        std::vector<std::vector<LocalSample>> studentSamples;
        if (pairsNeeded && !(context && context->isCancelled())) {
            SamplingOptions sampling = config.pairs.student.sampling;
            sampling.seed += seed;
            studentSamples = sampleLocal(*setup.student, *setup.tokenizer, promptIds, sampling, studentTokens, k, inner);
        }
        if (context && context->isCancelled()) {
            report.cancelled = true; // the unfinished batch is not saved; it is generated again on resume
            break;
        }

        // Every output in the student's tokens, scored by the initial student in one pass.
        std::vector<GeneratedPrompt> generated(batch.size());
        std::vector<ScoreRequest> requests;
        std::vector<std::pair<size_t, size_t>> requestOwner;
        std::vector<bool> failed(batch.size(), false);
        for (size_t i = 0; i < batch.size(); ++i) {
            auto &g = generated[i];
            g.promptId = batch[i].id;
            if (setup.teacher) {
                for (int64_t s = 0; s < k; ++s) {
                    const auto &t = teacherTexts[i][static_cast<size_t>(s)];
                    if (!t.error.empty()) {
                        failed[i] = true;
                        if (report.firstError.empty())
                            report.firstError = "prompt " + batch[i].id + ": " + t.error;
                        continue;
                    }
                    StoredOutput o;
                    o.promptId = batch[i].id;
                    o.round = round;
                    o.source = "teacher";
                    o.sample = s;
                    o.text = t.text;
                    o.tokenIds = setup.promptTemplate.encodeResponse(*setup.tokenizer, t.text);
                    if (static_cast<int64_t>(o.tokenIds.size()) > maxResponse)
                        o.tokenIds.resize(static_cast<size_t>(maxResponse));
                    o.teacherLogprobs = t.logprobs;
                    o.seconds = t.seconds;
                    o.finishReason = t.finishReason;
                    g.outputs.push_back(std::move(o));
                }
            }
            if (pairsNeeded)
                for (int64_t s = 0; s < k; ++s) {
                    const auto &sample = studentSamples[i][static_cast<size_t>(s)];
                    StoredOutput o;
                    o.promptId = batch[i].id;
                    o.round = round;
                    o.source = "student";
                    o.sample = s;
                    o.text = sample.text;
                    o.tokenIds = sample.ids;
                    o.seconds = sample.seconds;
                    o.finishReason = sample.finishReason;
                    g.outputs.push_back(std::move(o));
                }
            if (failed[i])
                continue;
            for (size_t j = 0; j < g.outputs.size(); ++j)
                if (!g.outputs[j].tokenIds.empty()) {
                    requests.push_back({promptIds[i], g.outputs[j].tokenIds});
                    requestOwner.emplace_back(i, j);
                }
        }
        if (!requests.empty()) {
            const auto scores = scoreSequences(*setup.scorer, requests, 16);
            for (size_t r = 0; r < scores.size(); ++r) {
                auto &o = generated[requestOwner[r].first].outputs[requestOwner[r].second];
                o.studentLogprobs.assign(scores[r].tokenLogprobs.begin(), scores[r].tokenLogprobs.end());
            }
        }

        // Candidate pairs (teacher sample s against student sample s), then the labelling policy.
        struct Candidate
        {
            size_t prompt;
            const StoredOutput *teacher;
            size_t studentIndex;
            bool teacherExisting;
            size_t teacherIndex;
        };
        std::vector<Candidate> candidates;
        if (pairsNeeded)
            for (size_t i = 0; i < batch.size(); ++i) {
                if (failed[i])
                    continue;
                auto &g = generated[i];
                const size_t studentStart = setup.teacher ? static_cast<size_t>(k) : 0;
                for (int64_t s = 0; s < k; ++s) {
                    const size_t si = studentStart + static_cast<size_t>(s);
                    if (setup.teacher) {
                        candidates.push_back({i, &g.outputs[static_cast<size_t>(s)], si, false, static_cast<size_t>(s)});
                    } else {
                        const auto it = teacherOutputs.find(batch[i].id);
                        if (it == teacherOutputs.end() || static_cast<int64_t>(it->second.size()) <= s)
                            continue; // round 0 kept no teacher output here
                        const auto &t = it->second[static_cast<size_t>(s)];
                        candidates.push_back({i, &t, si, true, static_cast<size_t>(t.id)});
                    }
                }
            }
        std::vector<JudgeVerdict> verdicts;
        if (setup.judge && !candidates.empty()) {
            std::vector<JudgeCase> cases;
            for (const auto &c : candidates)
                cases.push_back({batch[c.prompt].prompt, batch[c.prompt].reference, c.teacher->text,
                                 generated[c.prompt].outputs[c.studentIndex].text});
            verdicts = setup.judge->judge(cases, inner);
        }
        for (size_t n = 0; n < candidates.size(); ++n) {
            const auto &c = candidates[n];
            auto &g = generated[c.prompt];
            const auto &student = g.outputs[c.studentIndex];
            if (student.tokenIds.empty() || c.teacher->tokenIds.empty()
                || (config.labeling.dropIdentical && normalizedSpace(student.text) == normalizedSpace(c.teacher->text))) {
                ++g.dropped;
                continue;
            }
            GeneratedPrompt::Pair pair;
            bool teacherChosen = true;
            if (setup.judge) {
                const auto &v = verdicts[n];
                if (v.preferred == 0 || std::abs(v.firstScore - v.secondScore) < config.labeling.minGap) {
                    ++g.dropped;
                    continue;
                }
                teacherChosen = v.preferred > 0;
                pair.labeller = setup.judge->name();
                pair.chosenJudge = teacherChosen ? v.firstScore : v.secondScore;
                pair.rejectedJudge = teacherChosen ? v.secondScore : v.firstScore;
            } else {
                pair.labeller = "teacher-preferred";
            }
            const double teacherScore = scoreOf(c.teacher->studentLogprobs, meanScore);
            const double studentScore = scoreOf(student.studentLogprobs, meanScore);
            pair.initialMargin = teacherChosen ? teacherScore - studentScore : studentScore - teacherScore;
            if (teacherChosen) {
                pair.chosen = c.teacherIndex;
                pair.chosenExisting = c.teacherExisting;
                pair.rejected = c.studentIndex;
            } else {
                pair.chosen = c.studentIndex;
                pair.rejected = c.teacherIndex;
                pair.rejectedExisting = c.teacherExisting;
            }
            g.pairs.push_back(pair);
        }

        std::vector<GeneratedPrompt> finished;
        for (size_t i = 0; i < batch.size(); ++i) {
            if (failed[i]) {
                ++report.failed;
                continue;
            }
            report.pairs += static_cast<int64_t>(generated[i].pairs.size());
            report.dropped += generated[i].dropped;
            finished.push_back(std::move(generated[i]));
        }
        store.saveGenerated(runId, round, finished);
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
            + " pairs kept, " + std::to_string(report.dropped) + " dropped, " + std::to_string(report.failed) + " failed in "
            + std::to_string(static_cast<int64_t>(report.seconds)) + " s");
    return report;
}

} // namespace plad
