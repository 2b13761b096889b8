// Evaluation statistics against known answers: win rates with bootstrap intervals, expected
// calibration error on constructed predictions, Spearman's rho on known ranks; and the
// model-based diagnostics on a tiny model; and how pair outputs are shown (word diff, tints).
#include "eval/calibration.h"
#include "eval/statistics.h"
#include "model/modelloader.h"
#include "report/tokenhtml.h"
#include "testsupport.h"
#include "train/synthetictask.h"

#include <QtTest>

#include <cmath>

using namespace plad;

class TestEvaluation : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void spearmanOnKnownRanks()
    {
        // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) = 0.8207826816681233 (tied ranks averaged).
        QVERIFY(std::abs(spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}) - 0.8207826816681233) < 1e-12);
        QCOMPARE(spearman({1, 2, 3}, {10, 20, 30}), 1.0);
        QCOMPARE(spearman({1, 2, 3}, {3, 2, 1}), -1.0);
        QCOMPARE(spearman({0.1, 5, 2}, {1, 1000, 3}), 1.0); // ranks only, not values
        QVERIFY(std::isnan(spearman({1, 1, 1}, {1, 2, 3}))); // constant: undefined
        QVERIFY(std::isnan(spearman({1}, {2})));
        test::expectError([] { spearman({1, 2}, {1}); }, "differ in length");
    }

    void expectedCalibrationErrorOnConstructedPredictions()
    {
        // Ten predictions at 0.95 with 9 right (bin 14: |0.9 - 0.95| = 0.05) and four at 0.55 with
        // 3 right (bin 8: |0.75 - 0.55| = 0.2): ECE = 10/14 * 0.05 + 4/14 * 0.2.
        std::vector<double> confidence(10, 0.95);
        std::vector<bool> correct(10, true);
        correct[0] = false;
        for (int i = 0; i < 4; ++i) {
            confidence.push_back(0.55);
            correct.push_back(i != 0);
        }
        const auto curve = calibrationCurve(confidence, correct, 15);
        QCOMPARE(curve.bins.size(), size_t(15));
        QCOMPARE(curve.samples, int64_t(14));
        QVERIFY(std::abs(curve.ece - (10.0 / 14 * 0.05 + 4.0 / 14 * 0.2)) < 1e-12);
        QCOMPARE(curve.bins[14].count, int64_t(10));
        QVERIFY(std::abs(curve.bins[14].accuracy - 0.9) < 1e-12);
        QCOMPARE(curve.bins[8].count, int64_t(4));
        QVERIFY(std::abs(curve.bins[8].meanConfidence - 0.55) < 1e-12);
        QCOMPARE(curve.bins[0].count, int64_t(0));
        QVERIFY(std::abs(curve.bins[3].lower - 0.2) < 1e-12 && std::abs(curve.bins[3].upper - 4.0 / 15) < 1e-12);
        // A confidence of exactly 1 falls in the last bin; perfect calibration gives 0.
        const auto perfect = calibrationCurve({1.0, 1.0, 0.5, 0.5}, {true, true, true, false}, 15);
        QVERIFY(std::abs(perfect.ece) < 1e-12);
        QCOMPARE(perfect.bins[14].count, int64_t(2));
        test::expectError([] { calibrationCurve({0.5}, {}, 15); }, "1 confidences for 0 outcomes");
    }

    void preferenceCalibrationOnKnownPairs()
    {
        // Prompt A: three samples. Pair (0,1): margin ln 3 -> p(0 better) = 0.75, and 0 is better: confidence
        // 0.75, correct. (0,2): equal quality, left out. (1,2): margin 0 -> p = 0.5, oriented to the first, which
        // is worse: confidence 0.5, wrong. Prompt B: margin -ln 3 -> the student prefers 1 with 0.75, but 0 is
        // better: confidence 0.75, wrong.
        const double ln3 = std::log(3.0);
        const std::vector<SampledSequences> samples = {{{ln3, 0.0, 0.0}, {0.9, 0.1, 0.9}}, {{0.0, ln3}, {0.9, 0.1}}};
        const CalibrationCurve curve = preferenceCalibration(samples, 5);
        QCOMPARE(curve.samples, int64_t(3));
        QCOMPARE(curve.bins.size(), size_t(5));
        // Bins of [0.5, 1] in steps of 0.1: 0.5 in the first, 0.75 in the third.
        QCOMPARE(curve.bins[0].lower, 0.5);
        QCOMPARE(curve.bins[4].upper, 1.0);
        QCOMPARE(curve.bins[0].count, int64_t(1));
        QCOMPARE(curve.bins[2].count, int64_t(2));
        QVERIFY(std::abs(curve.bins[2].meanConfidence - 0.75) < 1e-12);
        QCOMPARE(curve.bins[2].accuracy, 0.5);
        // ECE: 1/3 * |0 - 0.5| + 2/3 * |0.5 - 0.75|.
        QVERIFY(std::abs(curve.ece - (0.5 / 3 + 2.0 / 3 * 0.25)) < 1e-12);
        // A perfectly calibrated and confident student: every preference right with p close to 1.
        const CalibrationCurve sharp = preferenceCalibration({{{0.0, -20.0, -40.0}, {0.9, 0.5, 0.1}}}, 10);
        QCOMPARE(sharp.samples, int64_t(3));
        QVERIFY(sharp.ece < 1e-6);
        QCOMPARE(preferenceCalibration({}, 10).samples, int64_t(0));
        test::expectError([] { preferenceCalibration({{{0.0}, {0.1, 0.2}}}); }, "one quality per sample");
    }

    void rerankPicksTheLikeliestSample()
    {
        // Prompt A: the likeliest sample (1) has ROUGE-L 0.5: it beats 0 (0.2), ties 2 (0.5) and loses to 3 (0.9).
        // Prompt B: the likeliest (0, the first of two equal scores) beats the other. Prompt C has one sample: left out.
        const std::vector<SampledSequences> samples = {
            {{-2.0, -0.5, -1.0, -3.0}, {0.2, 0.5, 0.5, 0.9}}, {{-1.0, -1.0}, {0.6, 0.3}}, {{-1.0}, {1.0}}};
        const RerankResult r = rerankWinRate(samples);
        QCOMPARE(r.prompts, int64_t(2));
        QCOMPARE(r.wins, int64_t(2));
        QCOMPARE(r.losses, int64_t(1));
        QCOMPARE(r.ties, int64_t(1));
        QVERIFY(std::abs(r.winRate - 2.0 / 3) < 1e-12);
        QVERIFY(std::abs(r.meanQuality - (0.5 + 0.6) / 2) < 1e-12);
        QVERIFY(std::abs(r.meanSampleQuality - (0.2 + 0.5 + 0.5 + 0.9 + 0.6 + 0.3) / 6) < 1e-12);
        QVERIFY(std::isnan(rerankWinRate({}).winRate));
    }

    void calibrationChangeIsPairedByPrompt()
    {
        // Before: 40 prompts where the student prefers the worse of two samples with p ~ 0.88
        // (every preference wrong, ECE 0.88; the likeliest sample always loses). After: the same
        // prompts, every preference right with p ~ 1 (ECE ~0; rerank 100%). The change is about
        // -0.88 in ECE and +100 points of rerank, and with every prompt moving the same way the
        // intervals are the point itself.
        std::vector<SampledSequences> before, after;
        for (int i = 0; i < 40; ++i) {
            before.push_back({{0.0, -2.0}, {0.2, 0.6}});
            after.push_back({{-30.0, 0.0}, {0.2, 0.6}});
        }
        const double p = 1.0 / (1.0 + std::exp(-2.0));
        const CalibrationChange c = calibrationChange(before, after, 10, 500, 3);
        QCOMPARE(c.prompts, int64_t(40));
        QVERIFY(std::abs(c.sequenceEce.estimate - (0.0 - p)) < 1e-9);
        QVERIFY(std::abs(c.sequenceEce.low - c.sequenceEce.estimate) < 1e-9 && std::abs(c.sequenceEce.high - c.sequenceEce.estimate) < 1e-9);
        QVERIFY(std::abs(c.rerank.estimate - 1.0) < 1e-12);
        // No change at all: 0, with a zero-width interval, whatever the prompts are.
        std::vector<SampledSequences> mixed;
        for (int i = 0; i < 30; ++i)
            mixed.push_back({{-0.1 * i, -1.0, -2.0}, {0.1 * (i % 7), 0.3, 0.5}});
        const CalibrationChange none = calibrationChange(mixed, mixed, 10, 500, 3);
        QCOMPARE(none.sequenceEce.estimate, 0.0);
        QCOMPARE(none.sequenceEce.low, 0.0);
        QCOMPARE(none.rerank.high, 0.0);
        // Half the prompts improve, half stay: the interval of the ECE change lies below zero but
        // is wider than a point; swapping the sides mirrors it.
        std::vector<SampledSequences> half = before;
        for (size_t i = 0; i < half.size(); i += 2)
            half[i] = after[i];
        const CalibrationChange some = calibrationChange(before, half, 10, 2000, 3);
        QVERIFY(some.sequenceEce.high < 0 && some.sequenceEce.low < some.sequenceEce.high);
        QVERIFY(some.rerank.low > 0 && some.rerank.high <= 1.0);
        const CalibrationChange back = calibrationChange(half, before, 10, 2000, 3);
        QVERIFY(std::abs(back.sequenceEce.estimate + some.sequenceEce.estimate) < 1e-12);
        QVERIFY(std::abs(back.sequenceEce.low + some.sequenceEce.high) < 1e-9);
        test::expectError([&] { calibrationChange(before, mixed); }, "the same prompts");
    }

    void winRateIntervals()
    {
        // 30 wins, 10 losses, 5 ties: 0.75 of the decided prompts; ties reported apart.
        std::vector<int> outcomes;
        outcomes.insert(outcomes.end(), 30, 1);
        outcomes.insert(outcomes.end(), 10, -1);
        outcomes.insert(outcomes.end(), 5, 0);
        const auto w = winRate(outcomes, 4000, 1);
        QCOMPARE(w.wins, int64_t(30));
        QCOMPARE(w.losses, int64_t(10));
        QCOMPARE(w.ties, int64_t(5));
        QCOMPARE(w.rate.estimate, 0.75);
        QVERIFY(w.rate.low < 0.75 && w.rate.high > 0.75);
        // The normal approximation sqrt(p(1-p)/n) = 0.0685 gives about [0.616, 0.884].
        QVERIFY2(std::abs(w.rate.low - 0.616) < 0.03 && std::abs(w.rate.high - 0.884) < 0.03,
                 (std::to_string(w.rate.low) + " " + std::to_string(w.rate.high)).c_str());
        // The same seed gives the same interval; all wins give a degenerate one.
        QCOMPARE(winRate(outcomes, 4000, 1).rate.low, w.rate.low);
        const auto all = winRate(std::vector<int>(20, 1), 1000, 0);
        QCOMPARE(all.rate.low, 1.0);
        QCOMPARE(all.rate.high, 1.0);
        // Balanced outcomes over 400 prompts: 0.5 +- 1.96 * 0.025.
        std::vector<int> balanced;
        for (int i = 0; i < 400; ++i)
            balanced.push_back(i % 2 ? 1 : -1);
        const auto b = winRate(balanced, 4000, 7);
        QVERIFY(std::abs(b.rate.low - 0.451) < 0.01 && std::abs(b.rate.high - 0.549) < 0.01);
        const auto m = bootstrapMean({1, 2, 3, 4}, 2000, 3);
        QCOMPARE(m.estimate, 2.5);
        QVERIFY(m.low >= 1 && m.high <= 4 && m.low < 2.5 && m.high > 2.5);
    }

    void pairDisplayHelpers()
    {
        // The word diff marks what one output says that the other does not (longest common subsequence).
        QCOMPARE(wordDiffHtml("a b c", "a c"), std::string("a <u class=\"diff\">b</u> c"));
        QCOMPARE(wordDiffHtml("x y", "x y"), std::string("x y"));
        QCOMPARE(wordDiffHtml("<b> q", "q"), std::string("<u class=\"diff\">&lt;b&gt;</u> q"));
        QCOMPARE(wordDiffHtml("", "anything"), std::string());
        // Tints: green at log p = 0, red at -6 and below, blended at 45% over white.
        QCOMPARE(logprobTint(0.0), std::string("#b9ffbe"));
        QCOMPARE(logprobTint(-6.0), std::string("#ffc2be"));
        QCOMPARE(logprobTint(-60.0), logprobTint(-6.0));
        // Without a tokenizer an output shows as its escaped text.
        StoredOutput o;
        o.text = "a<b";
        QCOMPARE(tintedTokensHtml(o, nullptr), std::string("a&lt;b"));
    }

    void modelDiagnostics()
    {
        // A tiny model trained for nothing: ranking a pair against itself is a tie, ECE is in [0, 1],
        // and the reliability bins count every reference token.
        ScratchModelSpec spec;
        spec.vocabSize = 30;
        spec.hiddenSize = 16;
        spec.layers = 1;
        spec.heads = 2;
        auto model = createModel(scratchModelConfig(spec), 4);
        const auto ranking = pairRanking(*model, {{{1, 2}, {3, 4}, {3, 4}}, {{1, 2}, {5}, {6, 7}}});
        QCOMPARE(ranking.margins.size(), size_t(2));
        QCOMPARE(ranking.margins[0], 0.0);
        QVERIFY(ranking.accuracy <= 0.5);
        const auto curve = tokenCalibration(*model, {{{1, 2}, {3, 4, 5}}, {{1}, {6}}});
        QCOMPARE(curve.samples, int64_t(4));
        int64_t counted = 0;
        for (const auto &bin : curve.bins)
            counted += bin.count;
        QCOMPARE(counted, int64_t(4));
        QVERIFY(curve.ece >= 0 && curve.ece <= 1);
        // An untrained model over 30 tokens is unsure: every confidence sits in the lowest bins.
        QVERIFY(curve.bins[0].count + curve.bins[1].count == 4);
    }
};

QTEST_GUILESS_MAIN(TestEvaluation)
#include "tst_evaluation.moc"
