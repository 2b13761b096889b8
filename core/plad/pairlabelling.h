#pragma once

// Pair labelling: which of a prompt's collected outputs become pseudo-preference pairs, which
// side of each is preferred, and why the other candidates were dropped. Pure functions of the
// outputs, the policy and (for a judge) its verdicts: no models, no store, no I/O.

#include "eval/judge.h"
#include "model/modeltypes.h"
#include "store/records.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace plad {

/** How the preferred side of a candidate pair is decided. */
enum class LabelingPolicy {
    TeacherPreferred,  ///< "teacher-preferred": the teacher's output is y+ (PLaD's pseudo-preference; no annotation)
    Consensus,         ///< "consensus": y+ is the teacher sample that agrees most with the others (MBR, ROUGE-L between
                       ///< samples), y- the student sample that agrees least with the teacher's; one pair per prompt, no annotation
    TeacherLikelihood, ///< "teacher-likelihood": the teacher's length-normalised log-likelihood decides (local teachers; no annotation)
    Judge,             ///< "judge": a judge decides (ROUGE-L against the reference, or an LLM); uses annotations; a tie drops the pair
};
inline constexpr EnumName<LabelingPolicy> labelingPolicyNames[] = {{LabelingPolicy::TeacherPreferred, "teacher-preferred"},
                                                                   {LabelingPolicy::Consensus, "consensus"},
                                                                   {LabelingPolicy::TeacherLikelihood, "teacher-likelihood"},
                                                                   {LabelingPolicy::Judge, "judge"}};

/** Whether a policy needs annotations (references or an outside judge): only `judge` does. */
inline bool usesAnnotations(LabelingPolicy policy)
{
    return policy == LabelingPolicy::Judge;
}

/** Why a candidate pair was not kept. */
enum class DropReason {
    FailedOutput, ///< one of its outputs could not be obtained (the prompt is generated again on resume)
    EmptyOutput,  ///< one of its outputs has no tokens
    Identical,    ///< both texts are the same up to white space (with drop_identical)
    Tie,          ///< the judge (or the teacher's likelihood) preferred neither
    BelowMinGap,  ///< the score difference (judge, likelihood or agreement gap) is below labeling.min_gap
    NoTeacherScore, ///< teacher-likelihood: the teacher's log-probs of an output are missing (not a local teacher)
};
inline constexpr EnumName<DropReason> dropReasonNames[] = {{DropReason::FailedOutput, "failed"},
                                                           {DropReason::EmptyOutput, "empty"},
                                                           {DropReason::Identical, "identical"},
                                                           {DropReason::Tie, "tie"},
                                                           {DropReason::BelowMinGap, "below min_gap"},
                                                           {DropReason::NoTeacherScore, "no teacher score"}};
constexpr size_t dropReasonCount = std::size(dropReasonNames);

/** One output of a prompt as pair generation collected it. */
struct CollectedOutput
{
    StoredOutput output;     ///< as it is stored; `id` is meaningful only when `existing`
    bool existing = false;   ///< an output saved in an earlier round (a refresh pairs new student outputs with round 0's teacher outputs)
    std::string error;       ///< non-empty: this output could not be obtained
};

struct LabellingOptions
{
    LabelingPolicy policy = LabelingPolicy::TeacherPreferred;
    ScoreKind score = ScoreKind::Mean;  ///< how the initial margin s(y+) - s(y-) is computed
    double minGap = 0;                  ///< drop pairs whose score difference is below this: the judge's scores, the
                                        ///< teacher's mean log-probs, or consensus's agreement gap
    bool dropIdentical = true;
    std::string judgeName;              ///< recorded as the labeller of judged pairs ("judge:rouge-l")
    /**
     * Consensus only: also pair the student's own samples, the one that agrees most with the
     * teacher's samples (y+) against the one that agrees least (y-), labelled
     * "consensus-student:rouge-l" and kept when their agreement gap is at least `minGap` (and
     * above 0). This trains the student's likelihood to rank its own outputs, which is what
     * sequence-level calibration measures; it needs pairs.per_prompt >= 2 sampled student outputs.
     */
    bool studentPairs = false;
};

/** A candidate pair: indexes of a teacher and a student output of the same prompt. */
struct CandidatePair
{
    size_t teacher = 0, student = 0;
    bool operator==(const CandidatePair &) const = default;
};

struct LabelledPair
{
    size_t chosen = 0, rejected = 0;    ///< indexes into the prompt's outputs
    std::string labeller;               ///< "teacher-preferred", "consensus:rouge-l", "consensus-student:rouge-l", "teacher-likelihood", "judge:rouge-l", ...
    /** The labeller's scores of the two sides: the judge's, the teacher's mean log-probs, or (consensus) each side's
     *  mean ROUGE-L agreement with the teacher's samples. None for teacher-preferred. */
    std::optional<double> chosenJudge, rejectedJudge;
    double initialMargin = 0;           ///< s(y+) - s(y-) under the initial student (its stored log-probs)
};

struct DroppedPair
{
    CandidatePair candidate;
    DropReason reason = DropReason::Tie;
};

struct PromptLabelling
{
    std::vector<LabelledPair> pairs;
    std::vector<DroppedPair> dropped;
};

/** Dropped candidates counted by reason (indexed by DropReason). */
struct DropCounts
{
    std::array<int64_t, dropReasonCount> counts{};
    void add(DropReason reason) { ++counts[static_cast<size_t>(reason)]; }
    void add(const DropCounts &other);
    int64_t total() const;
    int64_t operator[](DropReason reason) const { return counts[static_cast<size_t>(reason)]; }
    /** "3 identical, 1 tie" (reasons with a zero count left out); "none" when nothing was dropped. */
    std::string describe() const;
};

/** The candidates of a prompt: teacher sample s against student sample s, for every s both sides have. */
std::vector<CandidatePair> candidatePairs(const std::vector<CollectedOutput> &outputs);

/**
 * Why `candidate` is dropped before any judging (a failed or empty output, identical texts), or
 * nothing when it goes on to the policy. A judge need only see the candidates this keeps.
 */
std::optional<DropReason> screenCandidate(const std::vector<CollectedOutput> &outputs, const CandidatePair &candidate,
                                          const LabellingOptions &options);

/**
 * Labels a prompt's candidate pairs. `verdicts` is used by the judge policy only: one per
 * candidate of candidatePairs(outputs), in order (first = the teacher's output); entries for
 * screened-out candidates are ignored. Throws Error when the judge policy has too few verdicts.
 */
PromptLabelling labelPairs(const std::vector<CollectedOutput> &outputs, const std::vector<JudgeVerdict> &verdicts,
                           const LabellingOptions &options);

/**
 * Consensus agreement of a prompt's outputs: for every teacher output, its mean ROUGE-L F1 with
 * the prompt's other usable teacher outputs (1 when it is the only one); for every student
 * output, its mean ROUGE-L F1 with all usable teacher outputs. Unusable outputs (failed or
 * empty) get no value. Indexed like `outputs`.
 */
std::vector<std::optional<double>> consensusAgreement(const std::vector<CollectedOutput> &outputs);

/** s(y|x) from per-token log-probs: their mean or their sum (0 for no tokens). */
double sequenceScore(const std::vector<float> &tokenLogprobs, ScoreKind kind);

/** Text with runs of white space folded to one space and the ends trimmed (what "identical" compares). */
std::string foldedSpace(const std::string &text);

} // namespace plad
