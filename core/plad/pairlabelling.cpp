#include "plad/pairlabelling.h"

#include "common/error.h"
#include "eval/rouge.h"

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

namespace {

bool usable(const CollectedOutput &o)
{
    return o.error.empty() && !o.output.tokenIds.empty();
}

/** Consensus: the teacher medoid against the student sample farthest from the teacher's samples. */
PromptLabelling labelByConsensus(const std::vector<CollectedOutput> &outputs, const LabellingOptions &options)
{
    PromptLabelling result;
    const auto agreement = consensusAgreement(outputs);
    std::optional<size_t> best, worst, anyTeacher, anyStudent;
    for (size_t i = 0; i < outputs.size(); ++i) {
        const bool teacher = outputs[i].output.source == OutputSource::Teacher;
        auto &first = teacher ? anyTeacher : anyStudent;
        if (!first)
            first = i;
        if (!agreement[i])
            continue;
        // Ties go to the lowest sample number.
        const int64_t sample = outputs[i].output.sample;
        if (teacher && (!best || *agreement[i] > *agreement[*best]
                        || (*agreement[i] == *agreement[*best] && sample < outputs[*best].output.sample)))
            best = i;
        if (!teacher && (!worst || *agreement[i] < *agreement[*worst]
                         || (*agreement[i] == *agreement[*worst] && sample < outputs[*worst].output.sample)))
            worst = i;
    }
    if (!anyTeacher || !anyStudent)
        return result; // nothing to pair
    auto keep = [&](size_t chosen, size_t rejected, const char *labeller) {
        LabelledPair pair;
        pair.chosen = chosen;
        pair.rejected = rejected;
        pair.labeller = labeller;
        pair.chosenJudge = agreement[chosen];
        pair.rejectedJudge = agreement[rejected];
        pair.initialMargin = sequenceScore(outputs[chosen].output.studentLogprobs, options.score)
                             - sequenceScore(outputs[rejected].output.studentLogprobs, options.score);
        result.pairs.push_back(std::move(pair));
    };
    // Without a usable side, the candidate holds an unusable output, which the screen reports.
    const CandidatePair candidate{best.value_or(*anyTeacher), worst.value_or(*anyStudent)};
    if (const auto reason = screenCandidate(outputs, candidate, options))
        result.dropped.push_back({candidate, *reason});
    else if (*agreement[*best] - *agreement[*worst] < options.minGap)
        result.dropped.push_back({candidate, DropReason::BelowMinGap});
    else
        keep(*best, *worst, "consensus:rouge-l");

    if (options.studentPairs && worst) {
        // The student's own samples, ranked by their agreement with the teacher's: the closest
        // against the farthest (ties to the lowest sample number, as above).
        std::optional<size_t> closest;
        for (size_t i = 0; i < outputs.size(); ++i)
            if (outputs[i].output.source != OutputSource::Teacher && agreement[i]
                && (!closest || *agreement[i] > *agreement[*closest]
                    || (*agreement[i] == *agreement[*closest] && outputs[i].output.sample < outputs[*closest].output.sample)))
                closest = i;
        // Samples that all agree equally (a greedy student's identical outputs) give the same
        // index for both: no pair. Otherwise the gap is positive (identical texts agree equally).
        if (closest && *closest != *worst) {
            if (*agreement[*closest] - *agreement[*worst] < options.minGap)
                result.dropped.push_back({CandidatePair{*closest, *worst}, DropReason::BelowMinGap});
            else
                keep(*closest, *worst, "consensus-student:rouge-l");
        }
    }
    return result;
}

} // namespace

std::vector<std::optional<double>> consensusAgreement(const std::vector<CollectedOutput> &outputs)
{
    const RougeScorer rouge;
    std::vector<size_t> teachers;
    for (size_t i = 0; i < outputs.size(); ++i)
        if (outputs[i].output.source == OutputSource::Teacher && usable(outputs[i]))
            teachers.push_back(i);
    std::vector<std::optional<double>> agreement(outputs.size());
    if (teachers.empty())
        return agreement;
    // ROUGE-L F1 is symmetric: each teacher pair is scored once.
    std::vector<std::vector<double>> between(teachers.size(), std::vector<double>(teachers.size(), 1.0));
    for (size_t a = 0; a < teachers.size(); ++a)
        for (size_t b = a + 1; b < teachers.size(); ++b)
            between[a][b] = between[b][a] = rouge.score(outputs[teachers[a]].output.text, outputs[teachers[b]].output.text).rougeL.f1;
    for (size_t a = 0; a < teachers.size(); ++a) {
        if (teachers.size() == 1) {
            agreement[teachers[a]] = 1.0;
            continue;
        }
        double sum = 0;
        for (size_t b = 0; b < teachers.size(); ++b)
            if (b != a)
                sum += between[a][b];
        agreement[teachers[a]] = sum / static_cast<double>(teachers.size() - 1);
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
        if (outputs[i].output.source != OutputSource::Student || !usable(outputs[i]))
            continue;
        double sum = 0;
        for (const size_t t : teachers)
            sum += rouge.score(outputs[t].output.text, outputs[i].output.text).rougeL.f1;
        agreement[i] = sum / static_cast<double>(teachers.size());
    }
    return agreement;
}

PromptLabelling labelPairs(const std::vector<CollectedOutput> &outputs, const std::vector<JudgeVerdict> &verdicts,
                           const LabellingOptions &options)
{
    if (options.policy == LabelingPolicy::Consensus)
        return labelByConsensus(outputs, options);
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
        case LabelingPolicy::Consensus: // handled above
            pair.labeller = "teacher-preferred";
            break;
        case LabelingPolicy::TeacherLikelihood: {
            const auto &t = outputs[c.teacher].output.teacherLogprobs, &u = outputs[c.student].output.teacherLogprobs;
            if (!t || !u || t->empty() || u->empty()) {
                result.dropped.push_back({c, DropReason::NoTeacherScore});
                continue;
            }
            const double teacherScore = sequenceScore(*t, ScoreKind::Mean), studentScore = sequenceScore(*u, ScoreKind::Mean);
            if (teacherScore == studentScore) {
                result.dropped.push_back({c, DropReason::Tie});
                continue;
            }
            if (std::abs(teacherScore - studentScore) < options.minGap) {
                result.dropped.push_back({c, DropReason::BelowMinGap});
                continue;
            }
            teacherChosen = teacherScore > studentScore;
            pair.labeller = "teacher-likelihood";
            pair.chosenJudge = teacherChosen ? teacherScore : studentScore;
            pair.rejectedJudge = teacherChosen ? studentScore : teacherScore;
            break;
        }
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
