// Pair labelling (plad/pairlabelling.h): which candidates become pairs, which side is
// preferred under each policy, and why the others are dropped. Constructed outputs with known
// answers; no models.
#include "plad/pairlabelling.h"
#include "plad/pairquality.h"
#include "testsupport.h"

#include <cmath>

#include <QtTest>

using namespace plad;

namespace {

CollectedOutput output(OutputSource source, int64_t sample, const std::string &text, std::vector<float> logprobs)
{
    CollectedOutput o;
    o.output.source = source;
    o.output.sample = sample;
    o.output.text = text;
    for (size_t i = 0; i < logprobs.size(); ++i)
        o.output.tokenIds.push_back(static_cast<int64_t>(10 + i));
    o.output.studentLogprobs = std::move(logprobs);
    return o;
}

CollectedOutput teacher(int64_t sample, const std::string &text, std::vector<float> logprobs = {-1.0f, -1.0f})
{
    return output(OutputSource::Teacher, sample, text, std::move(logprobs));
}

CollectedOutput student(int64_t sample, const std::string &text, std::vector<float> logprobs = {-0.5f, -0.5f, -0.5f, -0.5f})
{
    return output(OutputSource::Student, sample, text, std::move(logprobs));
}

JudgeVerdict verdict(int preferred, double first, double second)
{
    return {preferred, first, second};
}

CollectedOutput withTeacherScores(CollectedOutput o, std::vector<float> teacherLogprobs)
{
    o.output.teacherLogprobs = std::move(teacherLogprobs);
    return o;
}

LabellingOptions policy(LabelingPolicy p, double minGap = 0)
{
    LabellingOptions o;
    o.policy = p;
    o.minGap = minGap;
    return o;
}

bool near(double a, double b)
{
    return std::abs(a - b) < 1e-9;
}

LabellingOptions judged(double minGap = 0)
{
    LabellingOptions o;
    o.policy = LabelingPolicy::Judge;
    o.judgeName = "judge:rouge-l";
    o.minGap = minGap;
    return o;
}

} // namespace

class TestPairLabelling : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void candidatesPairSampleWithSample()
    {
        // Outputs in any order: teacher s is paired with student s; a sample one side lacks has no pair.
        const std::vector<CollectedOutput> outputs = {student(1, "s1"), teacher(0, "t0"), teacher(1, "t1"), student(0, "s0"),
                                                      teacher(2, "t2")};
        const auto candidates = candidatePairs(outputs);
        QCOMPARE(candidates.size(), size_t(2));
        QVERIFY((candidates[0] == CandidatePair{1, 3}));
        QVERIFY((candidates[1] == CandidatePair{2, 0}));
        QVERIFY(candidatePairs({teacher(0, "only the teacher")}).empty());
    }

    void teacherPreferredPutsTheTeacherFirst()
    {
        // PLaD's pseudo-preference: y+ is the teacher's output whatever the student's likelihood says.
        const std::vector<CollectedOutput> outputs = {teacher(0, "a long teacher summary"), student(0, "short")};
        const auto result = labelPairs(outputs, {}, LabellingOptions{});
        QCOMPARE(result.pairs.size(), size_t(1));
        QVERIFY(result.dropped.empty());
        const auto &p = result.pairs[0];
        QCOMPARE(p.chosen, size_t(0));
        QCOMPARE(p.rejected, size_t(1));
        QCOMPARE(p.labeller, std::string("teacher-preferred"));
        QVERIFY(!p.chosenJudge && !p.rejectedJudge);
        // Mean score: -1 for the teacher, -0.5 for the student: the initial student ranks the pair the wrong way.
        QCOMPARE(p.initialMargin, -0.5);
    }

    void initialMarginFollowsTheScoreKind()
    {
        const std::vector<CollectedOutput> outputs = {teacher(0, "t", {-1.0f, -2.0f}), student(0, "s", {-0.5f, -0.5f, -0.5f, -0.5f})};
        LabellingOptions sum;
        sum.score = ScoreKind::Sum;
        QCOMPARE(labelPairs(outputs, {}, sum).pairs.at(0).initialMargin, -3.0 - -2.0);
        QCOMPARE(labelPairs(outputs, {}, LabellingOptions{}).pairs.at(0).initialMargin, -1.5 - -0.5);
        QCOMPARE(sequenceScore({}, ScoreKind::Mean), 0.0);
    }

    void judgeDecidesEitherWay()
    {
        const std::vector<CollectedOutput> outputs = {teacher(0, "t0"), student(0, "s0"), teacher(1, "t1"), student(1, "s1")};
        // First (the teacher's output) preferred for sample 0, the student's for sample 1.
        const auto result = labelPairs(outputs, {verdict(1, 0.6, 0.2), verdict(-1, 0.1, 0.7)}, judged());
        QCOMPARE(result.pairs.size(), size_t(2));
        QCOMPARE(result.pairs[0].chosen, size_t(0));
        QCOMPARE(result.pairs[0].rejected, size_t(1));
        QCOMPARE(*result.pairs[0].chosenJudge, 0.6);
        QCOMPARE(*result.pairs[0].rejectedJudge, 0.2);
        QCOMPARE(result.pairs[1].chosen, size_t(3)); // the student's output is y+
        QCOMPARE(result.pairs[1].rejected, size_t(2));
        QCOMPARE(*result.pairs[1].chosenJudge, 0.7);
        QCOMPARE(*result.pairs[1].rejectedJudge, 0.1);
        QCOMPARE(result.pairs[1].labeller, std::string("judge:rouge-l"));
        // Margin of the flipped pair: s(student) - s(teacher) = -0.5 - -1.
        QCOMPARE(result.pairs[1].initialMargin, 0.5);
    }

    void judgeTiesAreDropped()
    {
        const std::vector<CollectedOutput> outputs = {teacher(0, "t"), student(0, "s")};
        const auto result = labelPairs(outputs, {verdict(0, 0.4, 0.4)}, judged());
        QVERIFY(result.pairs.empty());
        QCOMPARE(result.dropped.size(), size_t(1));
        QVERIFY(result.dropped[0].reason == DropReason::Tie);
    }

    void minGapDropsWeakPreferences()
    {
        const std::vector<CollectedOutput> outputs = {teacher(0, "t0"), student(0, "s0"), teacher(1, "t1"), student(1, "s1")};
        const auto result = labelPairs(outputs, {verdict(1, 0.55, 0.5), verdict(-1, 0.2, 0.5)}, judged(0.1));
        QCOMPARE(result.pairs.size(), size_t(1));
        QCOMPARE(result.pairs[0].chosen, size_t(3));
        QCOMPARE(result.dropped.size(), size_t(1));
        QVERIFY(result.dropped[0].reason == DropReason::BelowMinGap);
        QVERIFY((result.dropped[0].candidate == CandidatePair{0, 1}));
        // A gap exactly at the threshold is kept (binary-exact values, so no rounding decides it).
        QCOMPARE(labelPairs(outputs, {verdict(1, 0.75, 0.5), verdict(-1, 0.25, 0.5)}, judged(0.25)).pairs.size(), size_t(2));
    }

    void identicalOutputsAreDroppedUpToWhiteSpace()
    {
        const std::vector<CollectedOutput> outputs = {teacher(0, "  the same\n summary "), student(0, "the same summary")};
        const auto result = labelPairs(outputs, {}, LabellingOptions{});
        QVERIFY(result.pairs.empty());
        QVERIFY(result.dropped.at(0).reason == DropReason::Identical);
        // With drop_identical off they are a pair like any other.
        LabellingOptions keep;
        keep.dropIdentical = false;
        QCOMPARE(labelPairs(outputs, {}, keep).pairs.size(), size_t(1));
        // Case and punctuation differences are not white space.
        QCOMPARE(labelPairs({teacher(0, "The same."), student(0, "the same")}, {}, LabellingOptions{}).pairs.size(), size_t(1));
        QCOMPARE(foldedSpace("\t a \n\n b  "), std::string("a b"));
    }

    void identicalOutputsAreDroppedBeforeTheJudge()
    {
        // The judge's verdict for a screened-out candidate is ignored (it need not even be asked).
        const std::vector<CollectedOutput> outputs = {teacher(0, "x y"), student(0, "x  y")};
        QVERIFY(screenCandidate(outputs, {0, 1}, judged()) == DropReason::Identical);
        const auto result = labelPairs(outputs, {verdict(1, 0.9, 0.1)}, judged());
        QVERIFY(result.pairs.empty());
        QVERIFY(result.dropped.at(0).reason == DropReason::Identical);
    }

    void failedAndEmptyOutputsAreDropped()
    {
        auto failed = teacher(0, "");
        failed.error = "HTTP 503 after 4 retries";
        auto empty = student(1, "", {});
        const std::vector<CollectedOutput> outputs = {failed, student(0, "s0"), teacher(1, "t1"), empty};
        const auto result = labelPairs(outputs, {}, LabellingOptions{});
        QVERIFY(result.pairs.empty());
        QCOMPARE(result.dropped.size(), size_t(2));
        QVERIFY(result.dropped[0].reason == DropReason::FailedOutput);
        QVERIFY(result.dropped[1].reason == DropReason::EmptyOutput);
        DropCounts counts;
        for (const auto &d : result.dropped)
            counts.add(d.reason);
        QCOMPARE(counts.total(), int64_t(2));
        QCOMPARE(counts[DropReason::FailedOutput], int64_t(1));
        QCOMPARE(counts.describe(), std::string("1 failed, 1 empty"));
        QCOMPARE(DropCounts{}.describe(), std::string("none"));
    }

    void refreshPairsNewStudentOutputsWithExistingTeacherOutputs()
    {
        // A refresh round: the teacher's output is one saved in round 0 (existing), the student's is new.
        auto old = teacher(0, "the teacher's round-0 text");
        old.existing = true;
        old.output.id = 42;
        const std::vector<CollectedOutput> outputs = {old, student(0, "a new student text")};
        const auto result = labelPairs(outputs, {}, LabellingOptions{});
        QCOMPARE(result.pairs.size(), size_t(1));
        QCOMPARE(result.pairs[0].chosen, size_t(0));
        QVERIFY(outputs[result.pairs[0].chosen].existing);
    }

    void judgeNeedsOneVerdictPerCandidate()
    {
        const std::vector<CollectedOutput> outputs = {teacher(0, "t0"), student(0, "s0"), teacher(1, "t1"), student(1, "s1")};
        test::expectError([&] { labelPairs(outputs, {verdict(1, 1, 0)}, judged()); }, "the judge gave 1 verdicts for 2 candidate pairs");
    }

    void consensusPicksTheMedoidAndTheLeastAgreeingStudentSample()
    {
        // ROUGE-L F1 between teacher samples (2 LCS / (|a| + |b|)): t0-t1 3/4, t0-t2 6/9, t1-t2 8/9, t3 shares
        // nothing. Mean agreement: t0 (0.75 + 6/9) / 3, t1 (0.75 + 8/9) / 3 (the medoid), t2 (6/9 + 8/9) / 3, t3 0.
        // Students against all four teachers: s0 "a b c" (6/7 + 6/7 + 6/8) / 4, s1 "q z" (2/6) / 4, s2 nothing in common.
        const std::vector<CollectedOutput> outputs = {teacher(0, "a b c x"), student(0, "a b c"), teacher(3, "q r s t"), student(1, "q z"),
                                                      teacher(2, "a b c d e"), student(2, "z z z"), teacher(1, "a b c d")};
        const auto agreement = consensusAgreement(outputs);
        QVERIFY(near(*agreement[0], (0.75 + 6.0 / 9) / 3));
        QVERIFY(near(*agreement[6], (0.75 + 8.0 / 9) / 3));
        QVERIFY(near(*agreement[4], (6.0 / 9 + 8.0 / 9) / 3));
        QVERIFY(near(*agreement[2], 0.0));
        QVERIFY(near(*agreement[1], (6.0 / 7 + 6.0 / 7 + 6.0 / 8) / 4));
        QVERIFY(near(*agreement[3], (2.0 / 6) / 4));
        QVERIFY(near(*agreement[5], 0.0));

        const auto result = labelPairs(outputs, {}, policy(LabelingPolicy::Consensus));
        QCOMPARE(result.pairs.size(), size_t(1)); // one pair per prompt, whatever k
        QVERIFY(result.dropped.empty());
        const auto &p = result.pairs[0];
        QCOMPARE(p.chosen, size_t(6));   // teacher sample 1, the medoid
        QCOMPARE(p.rejected, size_t(5)); // student sample 2, the farthest from the teacher's samples
        QCOMPARE(p.labeller, std::string("consensus:rouge-l"));
        QVERIFY(near(*p.chosenJudge, (0.75 + 8.0 / 9) / 3));
        QVERIFY(near(*p.rejectedJudge, 0.0));
        // The initial student's margin: teacher mean -1 against student mean -0.5.
        QVERIFY(near(p.initialMargin, -0.5));
    }

    void consensusStudentPairsRankTheStudentsOwnSamples()
    {
        // The outputs of consensusPicksTheMedoid...: with student pairs, the student's closest
        // sample to the teacher's (s0 "a b c") is also preferred over its farthest (s2 "z z z").
        const std::vector<CollectedOutput> outputs = {teacher(0, "a b c x"), student(0, "a b c", {-0.9f, -0.9f, -0.9f}), teacher(3, "q r s t"),
                                                      student(1, "q z"), teacher(2, "a b c d e"), student(2, "z z z", {-0.2f, -0.2f, -0.2f}),
                                                      teacher(1, "a b c d")};
        LabellingOptions options = policy(LabelingPolicy::Consensus);
        QCOMPARE(labelPairs(outputs, {}, options).pairs.size(), size_t(1)); // off by default
        options.studentPairs = true;
        const auto result = labelPairs(outputs, {}, options);
        QCOMPARE(result.pairs.size(), size_t(2));
        QCOMPARE(result.pairs[0].labeller, std::string("consensus:rouge-l"));
        const auto &own = result.pairs[1];
        QCOMPARE(own.labeller, std::string("consensus-student:rouge-l"));
        QCOMPARE(own.chosen, size_t(1));
        QCOMPARE(own.rejected, size_t(5));
        QVERIFY(near(*own.chosenJudge, (6.0 / 7 + 6.0 / 7 + 6.0 / 8) / 4));
        QVERIFY(near(*own.rejectedJudge, 0.0));
        QVERIFY(std::abs(own.initialMargin - (-0.9 + 0.2)) < 1e-6); // the initial student finds its worse sample likelier (float log-probs)
        // The gap is about 0.62: a larger min_gap drops the student pair (and the teacher pair, whose gap is 0.55).
        options.minGap = 0.6;
        const auto strict = labelPairs(outputs, {}, options);
        QCOMPARE(strict.pairs.size(), size_t(1));
        QCOMPARE(strict.pairs[0].labeller, std::string("consensus-student:rouge-l"));
        options.minGap = 0.7;
        QVERIFY(labelPairs(outputs, {}, options).pairs.empty());
        options.minGap = 0;
        // One student sample, or samples that agree equally (a greedy student's identical outputs): no student pair.
        QCOMPARE(labelPairs({teacher(0, "a b"), student(0, "a")}, {}, options).pairs.size(), size_t(1));
        for (const char *other : {"a c", "a d"}) {
            const auto same = labelPairs({teacher(0, "a b"), student(0, "a c"), student(1, other)}, {}, options);
            QCOMPARE(same.pairs.size(), size_t(1));
            QVERIFY(same.dropped.empty());
        }
        // Below the gap, the student pair is reported as dropped.
        options.minGap = 0.7;
        const auto below = labelPairs({teacher(0, "a b c d"), student(0, "a b"), student(1, "a x")}, {}, options);
        QCOMPARE(below.dropped.size(), size_t(2)); // the teacher pair's gap is 1 - 1/3, the students' 2/3 - 1/3
        QCOMPARE(below.dropped[1].reason, DropReason::BelowMinGap);
    }

    void consensusBreaksTiesByTheLowestSample()
    {
        // Two teacher samples agree with each other equally (symmetric), and both students share nothing:
        // sample 0 wins both ties, wherever it sits among the outputs.
        const std::vector<CollectedOutput> outputs = {teacher(1, "red apple"), student(1, "zz"), teacher(0, "red pear"), student(0, "yy")};
        const auto result = labelPairs(outputs, {}, policy(LabelingPolicy::Consensus));
        QCOMPARE(result.pairs.size(), size_t(1));
        QCOMPARE(result.pairs[0].chosen, size_t(2));
        QCOMPARE(result.pairs[0].rejected, size_t(3));
    }

    void consensusWithOneSampleIsTheTeachersTextAgainstTheStudents()
    {
        // k = 1: no other teacher sample to agree with; the teacher's agreement is 1 and the student's is its
        // ROUGE-L with the teacher (2 * 2 / (3 + 2)).
        const std::vector<CollectedOutput> outputs = {teacher(0, "fast xml parser"), student(0, "xml parser")};
        const auto result = labelPairs(outputs, {}, policy(LabelingPolicy::Consensus));
        QCOMPARE(result.pairs.size(), size_t(1));
        QCOMPARE(result.pairs[0].chosen, size_t(0));
        QCOMPARE(result.pairs[0].rejected, size_t(1));
        QVERIFY(near(*result.pairs[0].chosenJudge, 1.0));
        QVERIFY(near(*result.pairs[0].rejectedJudge, 0.8));
        // The agreement gap is 0.2: a min_gap above it drops the pair, one below keeps it.
        const auto strict = labelPairs(outputs, {}, policy(LabelingPolicy::Consensus, 0.25));
        QVERIFY(strict.pairs.empty());
        QCOMPARE(strict.dropped.size(), size_t(1));
        QCOMPARE(strict.dropped[0].reason, DropReason::BelowMinGap);
        QCOMPARE(labelPairs(outputs, {}, policy(LabelingPolicy::Consensus, 0.15)).pairs.size(), size_t(1));
    }

    void consensusSkipsEmptySamplesAndDropsIdenticalPairs()
    {
        // An empty teacher sample neither becomes y+ nor counts in the agreement.
        std::vector<CollectedOutput> outputs = {teacher(0, "", {}), teacher(1, "tiny tool"), student(0, "other words")};
        auto agreement = consensusAgreement(outputs);
        QVERIFY(!agreement[0]);
        QVERIFY(near(*agreement[1], 1.0));
        auto result = labelPairs(outputs, {}, policy(LabelingPolicy::Consensus));
        QCOMPARE(result.pairs.size(), size_t(1));
        QCOMPARE(result.pairs[0].chosen, size_t(1));
        // Only empty student samples: nothing to reject.
        result = labelPairs({teacher(0, "tiny tool"), student(0, "", {})}, {}, policy(LabelingPolicy::Consensus));
        QVERIFY(result.pairs.empty());
        QCOMPARE(result.dropped.at(0).reason, DropReason::EmptyOutput);
        // The student's least-agreeing sample is the teacher's text: identical, dropped.
        result = labelPairs({teacher(0, "tiny  tool"), student(0, "tiny tool")}, {}, policy(LabelingPolicy::Consensus));
        QVERIFY(result.pairs.empty());
        QCOMPARE(result.dropped.at(0).reason, DropReason::Identical);
        // No student output at all: no candidate, nothing dropped.
        result = labelPairs({teacher(0, "tiny tool")}, {}, policy(LabelingPolicy::Consensus));
        QVERIFY(result.pairs.empty() && result.dropped.empty());
    }

    void teacherLikelihoodPrefersWhatTheTeacherFindsLikelier()
    {
        // Sample 0: the teacher finds its own text likelier (mean -0.5 against -2); sample 1: the student's
        // (mean -1 against -3), whatever the student's own scores say.
        const std::vector<CollectedOutput> outputs = {withTeacherScores(teacher(0, "t0"), {-0.5f, -0.5f}),
                                                      withTeacherScores(student(0, "s0"), {-1.f, -3.f}),
                                                      withTeacherScores(teacher(1, "t1"), {-3.f}),
                                                      withTeacherScores(student(1, "s1"), {-1.f, -1.f, -1.f})};
        const auto result = labelPairs(outputs, {}, policy(LabelingPolicy::TeacherLikelihood));
        QCOMPARE(result.pairs.size(), size_t(2));
        QCOMPARE(result.pairs[0].chosen, size_t(0));
        QCOMPARE(result.pairs[0].rejected, size_t(1));
        QVERIFY(near(*result.pairs[0].chosenJudge, -0.5));
        QVERIFY(near(*result.pairs[0].rejectedJudge, -2.0));
        QCOMPARE(result.pairs[1].chosen, size_t(3));
        QCOMPARE(result.pairs[1].rejected, size_t(2));
        QCOMPARE(result.pairs[1].labeller, std::string("teacher-likelihood"));
        // A gap of 1.5 and 2: min_gap 1.8 keeps only the second.
        const auto strict = labelPairs(outputs, {}, policy(LabelingPolicy::TeacherLikelihood, 1.8));
        QCOMPARE(strict.pairs.size(), size_t(1));
        QCOMPARE(strict.pairs[0].chosen, size_t(3));
        QCOMPARE(strict.dropped.at(0).reason, DropReason::BelowMinGap);
    }

    void teacherLikelihoodDropsTiesAndUnscoredOutputs()
    {
        auto result = labelPairs({withTeacherScores(teacher(0, "t0"), {-1.f}), withTeacherScores(student(0, "s0"), {-0.5f, -1.5f})}, {},
                                 policy(LabelingPolicy::TeacherLikelihood));
        QVERIFY(result.pairs.empty());
        QCOMPARE(result.dropped.at(0).reason, DropReason::Tie);
        result = labelPairs({withTeacherScores(teacher(0, "t0"), {-1.f}), student(0, "s0")}, {}, policy(LabelingPolicy::TeacherLikelihood));
        QVERIFY(result.pairs.empty());
        QCOMPARE(result.dropped.at(0).reason, DropReason::NoTeacherScore);
        QVERIFY(usesAnnotations(LabelingPolicy::Judge));
        QVERIFY(!usesAnnotations(LabelingPolicy::TeacherPreferred) && !usesAnnotations(LabelingPolicy::Consensus)
                && !usesAnnotations(LabelingPolicy::TeacherLikelihood));
    }

    void pairQualityComparesEachPolicyWithTheReference()
    {
        // Prompt 1: the teacher is right (ROUGE-L 1 against 0), and the teacher's likelihood agrees.
        // Prompt 2: the student is right, and the teacher's likelihood says so; the teacher-preferred pair is wrong.
        // Prompt 3: neither side shares a word with the reference: a tie by the reference, which the judge drops.
        std::vector<QualityPrompt> prompts = {
            {"xml parsing library", {withTeacherScores(teacher(0, "xml parsing library"), {-1.f}), withTeacherScores(student(0, "game"), {-2.f})}},
            {"font for terminals", {withTeacherScores(teacher(0, "web server"), {-3.f}), withTeacherScores(student(0, "terminal font"), {-1.f})}},
            {"video editor", {withTeacherScores(teacher(0, "kernel module"), {-1.f}), withTeacherScores(student(0, "shell"), {-2.f})}},
        };
        const PairQuality quality = pairQuality(prompts, LabellingOptions{});
        QCOMPARE(quality.prompts, int64_t(3));
        QCOMPARE(quality.policies.size(), size_t(4));
        auto find = [&](const std::string &name) {
            for (const auto &q : quality.policies)
                if (q.policy == name)
                    return q;
            QTest::qFail(("no row for " + name).c_str(), __FILE__, __LINE__);
            return PolicyQuality{};
        };
        const auto preferred = find("teacher-preferred");
        QCOMPARE(preferred.pairs, int64_t(3));
        QCOMPARE(preferred.agree, int64_t(1));
        QCOMPARE(preferred.disagree, int64_t(1));
        QCOMPARE(preferred.referenceTies, int64_t(1));
        QVERIFY(near(preferred.accuracy(), 0.5));
        QVERIFY(!preferred.usesAnnotations);
        // k = 1: consensus pairs the same two texts the same way.
        QVERIFY(near(find("consensus").accuracy(), 0.5));
        const auto likelihood = find("teacher-likelihood");
        QCOMPARE(likelihood.agree, int64_t(2));
        QCOMPARE(likelihood.disagree, int64_t(0));
        const auto judge = find("judge:rouge-l");
        QVERIFY(judge.usesAnnotations);
        QCOMPARE(judge.pairs, int64_t(2));
        QCOMPARE(judge.dropped, int64_t(1));
        QVERIFY(near(judge.accuracy(), 1.0));
        QVERIFY(describe(quality).find("teacher-preferred 50.0% (1/2)") != std::string::npos);

        // Without the teacher's log-probs (a remote teacher) there is no teacher-likelihood row.
        prompts[0].outputs[1].output.teacherLogprobs.reset();
        for (const auto &q : pairQuality(prompts, LabellingOptions{}).policies)
            QVERIFY(q.policy != "teacher-likelihood");
    }

    void policyNamesRoundTrip()
    {
        for (const auto &entry : labelingPolicyNames)
            QVERIFY(parseEnum<LabelingPolicy>(labelingPolicyNames, entry.name, "labeling.policy") == entry.value);
        test::expectError([] { parseEnum<LabelingPolicy>(labelingPolicyNames, "coin", "labeling.policy"); },
                          "labeling.policy: must be \"teacher-preferred\", \"consensus\", \"teacher-likelihood\" or \"judge\", found \"coin\"");
    }
};

QTEST_GUILESS_MAIN(TestPairLabelling)
#include "tst_pairlabelling.moc"
