// The pieces of a run on several processes, in one process: ranks on threads joined through a
// real TCPStore and Gloo on loopback. The rendezvous from the environment, broadcasts, sums,
// messages to rank 0, and the gradient allreduce against gradients summed by hand.
#include "dist/gradientallreduce.h"
#include "dist/rankgroup.h"
#include "dist/workerlauncher.h"
#include "plad/losses.h"
#include "testsupport.h"

#include <QtTest>

#include <cstdlib>
#include <functional>
#include <future>
#include <thread>

#include <torch/torch.h>

using namespace plad;

namespace {

/** Runs `body(group)` on `n` ranks, one thread each, and rethrows the first error. */
void onRanks(int n, const std::function<void(RankGroup &)> &body, std::chrono::seconds timeout = std::chrono::seconds(60))
{
    const int port = freeLocalPort();
    std::vector<std::future<void>> ranks;
    for (int r = 0; r < n; ++r)
        ranks.push_back(std::async(std::launch::async, [=] {
            torch::NoGradGuard none; // grad mode is per thread: switched on again where a test needs it
            Rendezvous rendezvous;
            rendezvous.port = port;
            rendezvous.rank = r;
            rendezvous.worldSize = n;
            rendezvous.timeout = timeout;
            auto group = RankGroup::join(rendezvous);
            body(*group);
        }));
    for (auto &f : ranks)
        f.get();
}

/** A model with a parameter used twice (tied, like embeddings and the output layer) and one unused. */
struct TinyNet : torch::nn::Module
{
    torch::Tensor tied, head, unused;
    TinyNet()
    {
        // Fixed values, not the global generator: ranks on threads would draw different numbers.
        tied = register_parameter("tied", torch::sin(torch::arange(12, torch::kFloat32)).view({4, 3}));
        head = register_parameter("head", torch::cos(torch::arange(3, torch::kFloat32)));
        unused = register_parameter("unused", torch::ones({5}));
    }
    torch::Tensor loss(const torch::Tensor &x) // x [B, 4]
    {
        const auto h = torch::tanh(x.matmul(tied)); // [B, 3]
        return (h * head).sum() + h.matmul(tied.t()).pow(2).sum(); // tied used twice
    }
};

struct EnvironmentGuard
{
    std::vector<std::string> names;
    void set(const std::string &name, const std::string &value)
    {
        names.push_back(name);
        ::setenv(name.c_str(), value.c_str(), 1);
    }
    ~EnvironmentGuard()
    {
        for (const auto &n : names)
            ::unsetenv(n.c_str());
    }
};

} // namespace

class TestDistributed : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void rendezvousFromTheEnvironment()
    {
        {
            const Rendezvous alone = Rendezvous::fromEnvironment();
            QCOMPARE(alone.worldSize, 1);
            QCOMPARE(alone.rank, 0);
        }
        {
            EnvironmentGuard env;
            env.set("WORLD_SIZE", "4");
            env.set("RANK", "3");
            env.set("LOCAL_RANK", "1");
            env.set("MASTER_ADDR", "10.0.0.7");
            env.set("MASTER_PORT", "29511");
            env.set("PLAD_DIST_TIMEOUT", "42");
            const Rendezvous r = Rendezvous::fromEnvironment();
            QCOMPARE(r.worldSize, 4);
            QCOMPARE(r.rank, 3);
            QCOMPARE(r.localRank, 1);
            QCOMPARE(r.masterAddress, std::string("10.0.0.7"));
            QCOMPARE(r.port, 29511);
            QCOMPARE(r.timeout.count(), int64_t{42000});
            // What a launched worker is given reads back the same.
            EnvironmentGuard again;
            for (const auto &[name, value] : r.environment())
                again.set(name, value);
            const Rendezvous back = Rendezvous::fromEnvironment();
            QCOMPARE(back.rank, 3);
            QCOMPARE(back.masterAddress, r.masterAddress);
        }
        {
            EnvironmentGuard env;
            env.set("WORLD_SIZE", "2");
            env.set("RANK", "2");
            test::expectError([] { Rendezvous::fromEnvironment(); }, "RANK=2 is not below WORLD_SIZE=2");
        }
        {
            EnvironmentGuard env;
            env.set("MASTER_PORT", "http");
            test::expectError([] { Rendezvous::fromEnvironment(); }, "MASTER_PORT=\"http\"");
        }
    }

    void broadcastsSumsAndMessages()
    {
        std::string big(3 << 20, '\0');
        for (size_t i = 0; i < big.size(); ++i)
            big[i] = static_cast<char>(i * 131 % 251);
        onRanks(3, [&](RankGroup &g) {
            // Rank 0's values reach everyone, whatever the others pass.
            const auto doc = g.broadcastJson(g.isRoot() ? nlohmann::json{{"run", "r0001"}, {"steps", 12}} : nlohmann::json{{"x", 1}});
            QCOMPARE(doc.at("run").get<std::string>(), std::string("r0001"));
            QVERIFY(g.broadcast(g.isRoot() ? big : std::string("other")) == big);
            QCOMPARE(g.broadcast(std::string()), std::string());
            auto t = g.isRoot() ? torch::arange(6, torch::kFloat32) : torch::zeros({6});
            std::vector<torch::Tensor> tensors{t};
            g.broadcastTensors(tensors);
            QVERIFY(torch::equal(t, torch::arange(6, torch::kFloat32)));
            // Sums: exact in float64, counts included.
            const auto sums = g.allreduceSum(std::vector<double>{1.0 + g.rank(), 0.1, g.rank() == 2 ? 1.0 : 0.0});
            QCOMPARE(sums[0], 6.0);
            QVERIFY(std::abs(sums[1] - 0.3) < 1e-15);
            QCOMPARE(sums[2], 1.0);
            // Messages to rank 0 arrive whole and in order per sender.
            if (!g.isRoot()) {
                for (int m = 0; m < 5; ++m)
                    g.sendToRoot("rank " + std::to_string(g.rank()) + " message " + std::to_string(m));
                g.sendToRoot(big);
            } else {
                std::map<int, std::vector<std::string>> got;
                for (int m = 0; m < 12; ++m) {
                    const auto message = g.receive(true);
                    QVERIFY(message.has_value());
                    got[message->from].push_back(message->payload);
                }
                QVERIFY(!g.receive(false).has_value());
                for (int from : {1, 2}) {
                    QCOMPARE(got[from].size(), size_t{6});
                    for (int m = 0; m < 5; ++m)
                        QCOMPARE(got[from][static_cast<size_t>(m)], "rank " + std::to_string(from) + " message " + std::to_string(m));
                    QVERIFY(got[from][5] == big);
                }
            }
            // A flag raised by one rank is seen by all once they meet again.
            QVERIFY(!g.isRaised("stop"));
            g.barrier();
            if (g.rank() == 1)
                g.raise("stop");
            g.barrier();
            QVERIFY(g.isRaised("stop"));
            test::expectError([&] { g.isRoot() ? g.sendToRoot("x") : (void)g.receive(false); }, g.isRoot() ? "rank 0 cannot send" : "only rank 0 receives");
            g.barrier();
        });
    }

    void aGroupOfOneNeedsNoNetwork()
    {
        auto g = RankGroup::single();
        QVERIFY(!g->isDistributed());
        QCOMPARE(g->broadcast("x"), std::string("x"));
        QCOMPARE(g->allreduceSum(std::vector<double>{2.5}).front(), 2.5);
        QVERIFY(!g->receive(true).has_value());
        g->barrier();
    }

    void gradientAllreduceSumsWhatEachRankComputed_data()
    {
        QTest::addColumn<int64_t>("bucketBytes");
        QTest::addColumn<int>("microBatches");
        QTest::newRow("one bucket") << int64_t{25} * 1024 * 1024 << 1;
        QTest::newRow("a bucket per parameter, accumulated") << int64_t{4} << 2;
    }

    void gradientAllreduceSumsWhatEachRankComputed()
    {
        QFETCH(int64_t, bucketBytes);
        QFETCH(int, microBatches);
        const int ranks = 2;
        auto input = [](int rank, int micro, int step) { return torch::full({2, 4}, 0.1 * (rank + 1) + 0.01 * micro - 0.05 * step); };
        // The expectation: every rank's local gradients, summed by hand.
        std::vector<std::vector<torch::Tensor>> expected(2);
        for (int step = 0; step < 2; ++step) {
            TinyNet net;
            for (int r = 0; r < ranks; ++r)
                for (int m = 0; m < microBatches; ++m)
                    net.loss(input(r, m, step)).backward();
            for (auto &p : net.parameters())
                expected[static_cast<size_t>(step)].push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
        }
        onRanks(ranks, [&](RankGroup &g) {
            torch::AutoGradMode grad(true);
            TinyNet net;
            std::shared_ptr<RankGroup> group(&g, [](RankGroup *) {});
            GradientAllreduce sync(group, net.parameters(), bucketBytes);
            QCOMPARE(sync.buckets(), bucketBytes < 8 ? int64_t{3} : int64_t{1});
            QCOMPARE(sync.bytesPerExchange(), int64_t{(12 + 3 + 5) * 4});
            for (int step = 0; step < 2; ++step) { // the hooks serve every step
                for (auto &p : net.parameters())
                    p.mutable_grad() = torch::Tensor();
                for (int m = 0; m < microBatches; ++m) {
                    if (m + 1 == microBatches)
                        sync.prepare();
                    net.loss(input(g.rank(), m, step)).backward();
                }
                sync.finish();
                const auto params = net.parameters();
                for (size_t i = 0; i < params.size(); ++i) {
                    const auto diff = (params[i].grad() - expected[static_cast<size_t>(step)][i]).abs().max().item<double>();
                    QVERIFY2(diff < 1e-5, ("step " + std::to_string(step) + ", parameter " + std::to_string(i) + ": off by " + std::to_string(diff)).c_str());
                }
            }
        });
    }

    void lossRatiosOverTheWholeBatchAddUpToItsLoss()
    {
        // Two ranks each holding half a batch, dividing by the batch's denominator, sum to the batch's loss.
        const auto losses = torch::tensor({0.5f, 1.5f, 2.0f, 0.25f, 3.0f});
        const auto weights = torch::tensor({1.0f, 0.0f, 2.0f, 1.0f, 0.5f});
        const auto whole = weightedMean(losses, weights).item<double>();
        const auto a = weightedMeanRatio(losses.slice(0, 0, 2), weights.slice(0, 0, 2));
        const auto b = weightedMeanRatio(losses.slice(0, 2, 5), weights.slice(0, 2, 5));
        const auto total = a.denominator + b.denominator;
        QVERIFY(std::abs((a.over(total) + b.over(total)).item<double>() - whole) < 1e-6);
        QVERIFY(std::abs(a.value().item<double>() - 0.5) < 1e-7);
        const auto lp = torch::tensor({{-1.0f, -2.0f, 0.0f}, {-0.5f, 0.0f, 0.0f}}), mask = torch::tensor({{1.0f, 1.0f, 0.0f}, {1.0f, 0.0f, 0.0f}});
        const auto ce = tokenCrossEntropyRatio(lp, mask, {});
        QVERIFY(std::abs(ce.value().item<double>() - 3.5 / 3) < 1e-6);
        QCOMPARE(ce.denominator.item<double>(), 3.0);
    }

    void aRankThatStopsIsNoticed()
    {
        // Rank 1 leaves without sending anything: rank 0, waiting for its results, fails with
        // an error that says so instead of waiting forever.
        const auto start = std::chrono::steady_clock::now();
        onRanks(
            2,
            [](RankGroup &g) {
                g.barrier();
                if (g.isRoot())
                    test::expectError([&] { g.receive(true); }, "rank", "resume the run");
            },
            std::chrono::seconds(3));
        QVERIFY(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
    }
};

QTEST_GUILESS_MAIN(TestDistributed)
#include "tst_distributed.moc"
