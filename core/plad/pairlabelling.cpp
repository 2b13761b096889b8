#include "plad/pairlabelling.h"

#include "common/error.h"

#include <cmath>
#include <numeric>

namespace plad {

void DropCounts::add(const DropCounts &other)
{
    for (size_t i = 0; i < counts.size(); ++i)
        counts[i] += other.counts[i];
}

int64_t DropCounts::total() const
{
    return std::accumulate(counts.begin(), counts.end(), int64_t{0});
}

std::string DropCounts::describe() const
{
    std::string text;
    for (const auto &entry : dropReasonNames) {
        const int64_t n = (*this)[entry.value];
        if (n > 0)
            text += (text.empty() ? "" : ", ") + std::to_string(n) + " " + entry.name;
    }
    return text.empty() ? "none" : text;
}

std::string foldedSpace(const std::string &text)
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

double sequenceScore(const std::vector<float> &tokenLogprobs, ScoreKind kind)
{
    const double sum = std::accumulate(tokenLogprobs.begin(), tokenLogprobs.end(), 0.0);
    if (kind == ScoreKind::Mean && !tokenLogprobs.empty())
        return sum / static_cast<double>(tokenLogprobs.size());
    return sum;
}

std::vector<CandidatePair> candidatePairs(const std::vector<CollectedOutput> &outputs)
{
    // Pair sample s of the teacher with sample s of the student (k pairs from k samples a side).
    std::vector<CandidatePair> candidates;
    for (size_t t = 0; t < outputs.size(); ++t) {
        if (outputs[t].output.source != OutputSource::Teacher)
            continue;
        for (size_t s = 0; s < outputs.size(); ++s)
            if (outputs[s].output.source == OutputSource::Student && outputs[s].output.sample == outputs[t].output.sample) {
                candidates.push_back({t, s});
                break;
            }
    }
    return candidates;
}

std::optional<DropReason> screenCandidate(const std::vector<CollectedOutput> &outputs, const CandidatePair &candidate,
                                          const LabellingOptions &options)
{
    const CollectedOutput &teacher = outputs.at(candidate.teacher);
    const CollectedOutput &student = outputs.at(candidate.student);
    if (!teacher.error.empty() || !student.error.empty())
        return DropReason::FailedOutput;
    if (teacher.output.tokenIds.empty() || student.output.tokenIds.empty())
        return DropReason::EmptyOutput;
    if (options.dropIdentical && foldedSpace(teacher.output.text) == foldedSpace(student.output.text))
        return DropReason::Identical;
    return std::nullopt;
}

PromptLabelling labelPairs(const std::vector<CollectedOutput> &outputs, const std::vector<JudgeVerdict> &verdicts,
                           const LabellingOptions &options)
{
    PromptLabelling result;
    const auto candidates = candidatePairs(outputs);
    const bool judged = options.policy == LabelingPolicy::Judge;
    if (judged && verdicts.size() < candidates.size())
        throw Error("pair labelling: the judge gave " + std::to_string(verdicts.size()) + " verdicts for " + std::to_string(candidates.size())
                    + " candidate pairs");
    for (size_t n = 0; n < candidates.size(); ++n) {
        const CandidatePair &c = candidates[n];
        if (const auto reason = screenCandidate(outputs, c, options)) {
            result.dropped.push_back({c, *reason});
            continue;
        }
        LabelledPair pair;
        bool teacherChosen = true;
        switch (options.policy) {
        case LabelingPolicy::TeacherPreferred:
            pair.labeller = "teacher-preferred";
            break;
        case LabelingPolicy::Judge: {
            const JudgeVerdict &v = verdicts[n];
            if (v.preferred == 0) {
                result.dropped.push_back({c, DropReason::Tie});
                continue;
            }
            if (std::abs(v.firstScore - v.secondScore) < options.minGap) {
                result.dropped.push_back({c, DropReason::BelowMinGap});
                continue;
            }
            teacherChosen = v.preferred > 0;
            pair.labeller = options.judgeName;
            pair.chosenJudge = teacherChosen ? v.firstScore : v.secondScore;
            pair.rejectedJudge = teacherChosen ? v.secondScore : v.firstScore;
            break;
        }
        }
        pair.chosen = teacherChosen ? c.teacher : c.student;
        pair.rejected = teacherChosen ? c.student : c.teacher;
        pair.initialMargin = sequenceScore(outputs[pair.chosen].output.studentLogprobs, options.score)
                             - sequenceScore(outputs[pair.rejected].output.studentLogprobs, options.score);
        result.pairs.push_back(std::move(pair));
    }
    return result;
}

} // namespace plad
