// The PLaD and baseline objectives against values and gradients computed by hand (plain
// double-precision formulas, independent of Torch).
#include "common/error.h"
#include "plad/losses.h"
#include "testsupport.h"

#include <QtTest>

#include <torch/torch.h>

using namespace plad;

namespace {

torch::Tensor vec(std::initializer_list<double> values, bool grad = false)
{
    return torch::tensor(std::vector<double>(values), torch::TensorOptions().dtype(torch::kFloat64).requires_grad(grad));
}

void expectClose(const torch::Tensor &actual, std::initializer_list<double> expected, double tolerance = 1e-12)
{
    const auto a = actual.detach().to(torch::kFloat64).contiguous();
    QCOMPARE(a.numel(), int64_t(expected.size()));
    int64_t i = 0;
    for (double e : expected) {
        const double v = a.view(-1)[i++].item<double>();
        QVERIFY2(std::abs(v - e) <= tolerance, qPrintable(QString("element %1: %2, expected %3").arg(i - 1).arg(v, 0, 'g', 17).arg(e, 0, 'g', 17)));
    }
}

} // namespace

class TestLosses : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void hingeActiveAndInactive()
    {
        // Pair 0: margin -0.5 < beta = 1, loss 1.5 (active). Pair 1: margin 2 >= 1, loss 0.
        auto pos = vec({-2.0, -1.0}, true);
        auto neg = vec({-1.5, -3.0}, true);
        const auto losses = rankingHingeLoss(pos, neg, 1.0);
        expectClose(losses, {1.5, 0.0});
        weightedMean(losses, {}).backward();
        expectClose(pos.grad(), {-0.5, 0.0}); // raise s(y+) of the violating pair only
        expectClose(neg.grad(), {0.5, 0.0});
        const auto stats = pairBatchStats(pos, neg);
        QCOMPARE(stats.rankingAccuracy, 0.5);
        QCOMPARE(stats.meanMargin, 0.75);
    }

    void logistic()
    {
        auto pos = vec({-2.0, -1.0}, true);
        auto neg = vec({-1.5, -3.0}, true);
        // -log sigmoid(2 m - 0.5) for margins -0.5 and 2.
        const auto losses = rankingLogisticLoss(pos, neg, 2.0, 0.5);
        expectClose(losses, {1.7014132779827524, 0.029750418272620607});
        losses.mean().backward();
        expectClose(pos.grad(), {-0.8175744761936437, -0.02931223075135636});
        expectClose(neg.grad(), {0.8175744761936437, 0.02931223075135636});
    }

    void dpoWithReference()
    {
        auto pp = vec({-10.0, -8.0}, true);
        auto pn = vec({-12.0, -7.0}, true);
        // Pair 1 has the same log-ratio for both outputs: loss ln 2, the DPO starting point.
        const auto losses = dpoLoss(pp, pn, vec({-11.0, -8.5}), vec({-11.5, -7.5}), 0.1);
        expectClose(losses, {0.620957047789532, 0.6931471805599453});
        losses.mean().backward();
        expectClose(pp.grad(), {-0.023128507732812522, -0.025});
        expectClose(pn.grad(), {0.023128507732812522, 0.025});
    }

    void tokenCrossEntropyWeighsTokensAndSequences()
    {
        // Two sequences: 2 tokens (log-probs -1, -3) and 1 token (-2), padded with 0 past the end.
        auto lp = torch::tensor(std::vector<double>{-1, -3, -2, 0}, torch::kFloat64).view({2, 2}).clone().requires_grad_(true);
        const auto mask = torch::tensor(std::vector<double>{1, 1, 1, 0}, torch::kFloat64).view({2, 2});
        // Unweighted: (1 + 3 + 2) / 3 tokens.
        expectClose(tokenCrossEntropy(lp, mask, {}), {6.0 / 3});
        // Weights 1 and 3: (1 * 4 + 3 * 2) / (1 * 2 + 3 * 1).
        const auto w = vec({1, 3});
        const auto loss = tokenCrossEntropy(lp, mask, w);
        expectClose(loss, {10.0 / 5});
        loss.backward();
        // d loss / d logp[b, l] = -w_b / 5 on real tokens; the padding is 0 in the sum already.
        expectClose(lp.grad(), {-1.0 / 5, -1.0 / 5, -3.0 / 5, -3.0 / 5});
        // Every weight zero: no signal and no division by zero.
        expectClose(tokenCrossEntropy(lp.detach(), mask, vec({0, 0})), {0.0});
        test::expectError([&] { tokenCrossEntropy(lp, mask.view({4}), {}); }, "same shape [B, L]");
        test::expectError([&] { tokenCrossEntropy(lp, mask, vec({1, 2, 3})); }, "one weight per sequence");
    }

    void sftMixingAndWeights()
    {
        // PLaD + lambda * CE(y+): the two gradients add.
        auto pos = vec({-2.0, -1.0}, true);
        auto neg = vec({-1.5, -3.0}, true);
        const double lambda = 0.3;
        const auto total = weightedMean(rankingHingeLoss(pos, neg, 1.0), {}) + lambda * (-pos).mean();
        expectClose(total, {0.75 + 0.3 * 1.5});
        total.backward();
        expectClose(pos.grad(), {-0.5 - 0.15, -0.15});

        // Weights are relative: (2 * 1.5 + 1 * 0) / 3; a zero-weight (discarded) pair has no say.
        const auto losses = rankingHingeLoss(vec({-2.0, -1.0}), vec({-1.5, -3.0}), 1.0);
        expectClose(weightedMean(losses, vec({2.0, 1.0})), {1.0});
        expectClose(weightedMean(losses, vec({0.0, 1.0})), {0.0});
        expectClose(weightedMean(losses, vec({0.0, 0.0})), {0.0});
        test::expectError([&] { weightedMean(losses, vec({1.0})); }, "one weight per pair");
        test::expectError([&] { rankingHingeLoss(vec({1.0}), vec({1.0, 2.0}), 1.0); }, "same length");
    }

    void klWithTemperature()
    {
        // One masked position and one real one: only the real position counts.
        auto student = torch::tensor({0.0, 0.0, 0.0, 1.0, 0.0, -1.0}, torch::kFloat64).view({1, 2, 3}).requires_grad_(true);
        const auto teacher = torch::tensor({5.0, -5.0, 0.0, 0.5, 0.5, 0.0}, torch::kFloat64).view({1, 2, 3});
        const auto mask = torch::tensor({0.0, 1.0}).view({1, 2});
        const auto forward = tokenKlLoss(student, teacher, mask, 2.0);
        expectClose(forward, {0.19353096671940034}, 1e-6); // float32 inside
        forward.sum().backward();
        // d/dz [T^2 KL(p_t || p_s)] = T (p_s - p_t) at T = 2.
        expectClose(student.grad()[0][1], {0.29322584746464275, -0.10534316320966852, -0.18788268425497412}, 1e-6);
        expectClose(student.grad()[0][0], {0.0, 0.0, 0.0});
        expectClose(tokenKlLoss(student, teacher, mask, 2.0, true), {0.1936362228727294}, 1e-6);
        // Identical distributions: zero.
        expectClose(tokenKlLoss(student, student.detach(), torch::ones({1, 2}), 1.0), {0.0}, 1e-7);
        test::expectError([&] { tokenKlLoss(student, torch::zeros({1, 2, 4}), mask, 1.0); }, "one shared vocabulary");
        test::expectError([&] { tokenKlLoss(student, teacher, mask, 0.0); }, "kd.temperature");
    }
};

QTEST_GUILESS_MAIN(TestLosses)
#include "tst_losses.moc"
