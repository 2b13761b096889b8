#include "plad/pairquality.h"

#include "eval/judge.h"
#include "eval/statistics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

namespace plad {

double PolicyQuality::accuracy() const
{
    const int64_t decided = agree + disagree;
    return decided > 0 ? static_cast<double>(agree) / static_cast<double>(decided) : std::nan("");
}

PairQuality pairQuality(const std::vector<QualityPrompt> &prompts, const LabellingOptions &base)
{
    PairQuality out;
    out.prompts = static_cast<int64_t>(prompts.size());
    bool teacherScores = !prompts.empty();
    for (const auto &p : prompts)
        for (const auto &o : p.outputs)
            if (o.error.empty() && !o.output.tokenIds.empty() && !o.output.teacherLogprobs)
                teacherScores = false;

    struct Entry
    {
        LabelingPolicy policy;
        const char *name;
        bool studentPairs = false;
    };
    bool sampledStudents = false; // two different student samples of a prompt: the student pairs of consensus can be read out
    for (const auto &p : prompts) {
        std::vector<std::string> texts;
        for (const auto &o : p.outputs)
            if (o.output.source != OutputSource::Teacher && o.error.empty() && !o.output.tokenIds.empty())
                texts.push_back(o.output.text);
        if (std::any_of(texts.begin(), texts.end(), [&](const std::string &t) { return t != texts.front(); }))
            sampledStudents = true;
    }
    std::vector<Entry> policies = {{LabelingPolicy::TeacherPreferred, "teacher-preferred"}, {LabelingPolicy::Consensus, "consensus"}};
    if (sampledStudents)
        policies.push_back({LabelingPolicy::Consensus, "consensus student pairs", true}); // only the pairs of the student's own samples
    if (teacherScores)
        policies.push_back({LabelingPolicy::TeacherLikelihood, "teacher-likelihood"});
    policies.push_back({LabelingPolicy::Judge, "judge:rouge-l"});

    // "Better by the reference" is the ROUGE-L judge's verdict: the judge policy labels with it,
    // and every policy's pairs are checked with it.
    const auto judge = makeRougeJudge();
    for (const auto &entry : policies) {
        PolicyQuality q;
        q.policy = entry.name;
        q.usesAnnotations = usesAnnotations(entry.policy);
        LabellingOptions options = base;
        options.policy = entry.policy;
        options.studentPairs = entry.studentPairs;
        options.judgeName = judge->name();
        for (const auto &p : prompts) {
            std::vector<JudgeVerdict> verdicts;
            if (entry.policy == LabelingPolicy::Judge) {
                std::vector<JudgeCase> cases;
                for (const auto &c : candidatePairs(p.outputs))
                    cases.push_back({{}, p.reference, p.outputs[c.teacher].output.text, p.outputs[c.student].output.text});
                verdicts = judge->judge(cases, nullptr);
            }
            const PromptLabelling labelled = labelPairs(p.outputs, verdicts, options);
            for (const auto &d : labelled.dropped) // a student pair's candidate holds two student samples
                if (!entry.studentPairs || p.outputs[d.candidate.teacher].output.source != OutputSource::Teacher)
                    ++q.dropped;
            std::vector<JudgeCase> kept;
            for (const auto &pair : labelled.pairs)
                if (!entry.studentPairs || pair.labeller.rfind("consensus-student", 0) == 0)
                    kept.push_back({{}, p.reference, p.outputs[pair.chosen].output.text, p.outputs[pair.rejected].output.text});
            q.pairs += static_cast<int64_t>(kept.size());
            for (const auto &v : judge->judge(kept, nullptr)) {
                if (v.preferred > 0)
                    ++q.agree;
                else if (v.preferred < 0)
                    ++q.disagree;
                else
                    ++q.referenceTies;
            }
        }
        out.policies.push_back(std::move(q));
    }
    return out;
}

PairQuality storedPairQuality(Workspace &store, const std::string &runId, int64_t maxPrompts, const LabellingOptions &base)
{
    std::map<std::string, size_t> index;
    std::vector<QualityPrompt> prompts;
    auto held = store.pairs().prompts(runId, "validation");
    if (maxPrompts > 0 && static_cast<int64_t>(held.size()) > maxPrompts)
        held.resize(static_cast<size_t>(maxPrompts));
    for (const auto &p : held) {
        index[p.id] = prompts.size();
        prompts.push_back({p.reference, {}});
    }
    for (auto &o : store.pairs().outputs(runId, 0))
        if (const auto it = index.find(o.promptId); it != index.end())
            prompts[it->second].outputs.push_back({std::move(o), true, {}});
    std::erase_if(prompts, [](const QualityPrompt &p) { return p.outputs.empty(); });
    return pairQuality(prompts, base);
}

nlohmann::json toJson(const PairQuality &quality)
{
    nlohmann::json policies = nlohmann::json::array();
    for (const auto &q : quality.policies) {
        const double accuracy = q.accuracy();
        policies.push_back({{"policy", q.policy},
                            {"uses_annotations", q.usesAnnotations},
                            {"pairs", q.pairs},
                            {"agree", q.agree},
                            {"disagree", q.disagree},
                            {"reference_ties", q.referenceTies},
                            {"dropped", q.dropped},
                            {"accuracy", finiteOrNull(accuracy)}});
    }
    return {{"prompts", quality.prompts}, {"policies", policies}};
}

std::string describe(const PairQuality &quality)
{
    std::string text;
    for (const auto &q : quality.policies) {
        char part[160];
        const double accuracy = q.accuracy();
        if (std::isfinite(accuracy))
            std::snprintf(part, sizeof part, "%s %.1f%% (%lld/%lld%s)", q.policy.c_str(), 100 * accuracy, static_cast<long long>(q.agree),
                          static_cast<long long>(q.agree + q.disagree), q.usesAnnotations ? ", uses references" : "");
        else
            std::snprintf(part, sizeof part, "%s - (no decided pair)", q.policy.c_str());
        text += (text.empty() ? "" : ", ") + std::string(part);
    }
    return text.empty() ? "no policy" : text;
}

} // namespace plad
