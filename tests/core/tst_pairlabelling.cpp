// Pair labelling (plad/pairlabelling.h): which candidates become pairs, which side is
// preferred under each policy, and why the others are dropped. Constructed outputs with known
// answers; no models.
#include "plad/pairlabelling.h"
#include "testsupport.h"

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

    void policyNamesRoundTrip()
    {
        for (const auto &entry : labelingPolicyNames)
            QVERIFY(parseEnum<LabelingPolicy>(labelingPolicyNames, entry.name, "labeling.policy") == entry.value);
        test::expectError([] { parseEnum<LabelingPolicy>(labelingPolicyNames, "coin", "labeling.policy"); },
                          "labeling.policy: must be \"teacher-preferred\" or \"judge\", found \"coin\"");
    }
};

QTEST_GUILESS_MAIN(TestPairLabelling)
#include "tst_pairlabelling.moc"
