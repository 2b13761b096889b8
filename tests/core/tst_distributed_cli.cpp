// plad run on several processes (Gloo on loopback), end to end through the command line: the
// same pairs and losses as one process, the launcher's --nproc, two "machines" joined with
// --nnodes and with torchrun's variables, a rank killed or frozen mid-run, and resuming with
// another number of processes.
#include "clirunner.h"
#include "dist/workerlauncher.h"
#include "model/modelloader.h"
#include "store/workspace.h"
#include "testsupport.h"

#include <QProcess>
#include <QProcessEnvironment>
#include <QTemporaryDir>
#include <QtTest>

#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <unistd.h>

#include <torch/torch.h>

using namespace plad;
using test::runPlad;
using test::str;
namespace fs = std::filesystem;

namespace {

const std::string run1 = "r0001-plad";

/** The processes whose parent is `parent` (the launcher's workers), by reading /proc. */
std::vector<pid_t> childrenOf(pid_t parent)
{
    std::vector<pid_t> out;
    for (const auto &entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream rest(line.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == parent)
            out.push_back(static_cast<pid_t>(std::stol(name)));
    }
    std::sort(out.begin(), out.end());
    return out;
}

/** The rank a worker process was given (its RANK variable). */
int rankOf(pid_t pid)
{
    std::ifstream env("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string entry;
    while (std::getline(env, entry, '\0'))
        if (entry.rfind("RANK=", 0) == 0)
            return std::stoi(entry.substr(5));
    return -1;
}

int64_t lastStep(const fs::path &ws)
{
    try {
        if (fs::exists(ws / Workspace::fileName))
            return Workspace::openReadOnly(ws).runs().lastMetricStep(run1);
    } catch (const StoreError &) {
    }
    return -1;
}

/** Waits until the run in `ws` has trained past `step` (or 120 s passed). */
void waitForStep(const fs::path &ws, int64_t step)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (lastStep(ws) < step && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::vector<double> losses(const fs::path &ws)
{
    std::vector<double> out;
    for (const auto &p : Workspace::openReadOnly(ws).runs().metrics(run1, "loss"))
        out.push_back(p.value);
    return out;
}

struct Output
{
    std::string text;
    std::vector<float> logprobs;
};

/** Outputs keyed by what they are (prompt, source, sample), not by row id. */
std::map<std::tuple<std::string, int, int64_t>, Output> outputsOf(const fs::path &ws)
{
    std::map<std::tuple<std::string, int, int64_t>, Output> out;
    for (const auto &o : Workspace::openReadOnly(ws).pairs().outputs(run1))
        out[{o.promptId, static_cast<int>(o.source), o.sample}] = {o.text, o.studentLogprobs};
    return out;
}

std::multiset<std::tuple<std::string, std::string, std::string, std::string>> pairsOf(const fs::path &ws)
{
    auto store = Workspace::openReadOnly(ws);
    std::map<int64_t, std::string> texts;
    for (const auto &o : store.pairs().outputs(run1))
        texts[o.id] = o.text;
    std::multiset<std::tuple<std::string, std::string, std::string, std::string>> out;
    for (const auto &p : store.pairs().list(run1))
        out.insert({p.promptId, texts[p.chosenOutput], texts[p.rejectedOutput], p.labeller});
    return out;
}

} // namespace

class TestDistributedCli : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    fs::path mRoot;

    /** The tiny run with 80 prompts, sampled on both sides, 4 prompts a batch; `patch` on top. */
    fs::path writeConfig(const std::string &name, const nlohmann::json &patch)
    {
        nlohmann::json doc = {
            {"pairs", {{"prompts", 80}, {"batch_size", 4}, {"teacher", {{"temperature", 0.9}}}, {"student", {{"temperature", 1.0}}}}}};
        if (!patch.is_null())
            doc.merge_patch(patch);
        return test::writeTinyRunConfig(mRoot, name, doc);
    }

    /** A long run (the kill tests): every prompt, 1,500 steps, a checkpoint every 50. */
    fs::path longConfig(const std::string &name)
    {
        return writeConfig(name, {{"pairs", {{"prompts", 0}}}, {"train", {{"max_steps", 1500}, {"checkpoint_every", 50}, {"eval_every", 0}}}});
    }

    /** Starts `plad run` with a launcher and returns its workers once both are up. */
    std::vector<pid_t> startWorkers(QProcess &process, const QStringList &args, int count)
    {
        process.start(QStringLiteral(PLAD_CLI_PATH), args);
        if (!process.waitForStarted())
            return {};
        std::vector<pid_t> workers;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (static_cast<int>(workers.size()) < count && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            workers = childrenOf(static_cast<pid_t>(process.processId()));
        }
        return workers;
    }

    void expectComplete(const fs::path &ws, int64_t steps)
    {
        auto store = Workspace::openReadOnly(ws);
        QCOMPARE(store.integrityCheck(), std::string("ok"));
        QCOMPARE(toString(store.runs().requireRun(run1).status), std::string("completed"));
        const auto series = store.runs().metrics(run1, "loss");
        QCOMPARE(static_cast<int64_t>(series.size()), steps); // every step once: resumed where the checkpoint was
        for (size_t i = 0; i < series.size(); ++i)
            QCOMPARE(series[i].step, static_cast<int64_t>(i + 1));
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(mTmp.isValid());
        mRoot = fs::path(mTmp.path().toStdString());
        test::buildTinyTask(mRoot);
    }

    void twoProcessesMakeTheSamePairsAndLossesAsOne()
    {
        // With the calibration diagnostics, which the ranks measure in parts.
        const auto config = writeConfig("same.json", {{"eval", {{"prompts", 8}, {"samples", 3}, {"every", 6}}}});
        const fs::path one = mRoot / "ws-one", two = mRoot / "ws-two";
        auto r = runPlad({"--threads", "1", "run", str(config), "--workspace", str(one), "--quiet"}, 300000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        r = runPlad({"--threads", "1", "run", str(config), "--workspace", str(two), "--nproc", "2"}, 300000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.err.contains("starting ranks 0..1 of 2"), r.err.constData());
        QCOMPARE(r.json()["status"].get<std::string>(), std::string("completed")); // one result, rank 0's

        // The pairs: every output and every pair the same, whatever process generated it.
        const auto a = outputsOf(one), b = outputsOf(two);
        QCOMPARE(a.size(), size_t{(80 + 8) * 4}); // training and held-out prompts
        QCOMPARE(b.size(), a.size());
        for (const auto &[key, o] : a) {
            const auto &other = b.at(key);
            QVERIFY2(other.text == o.text, ("prompt " + std::get<0>(key) + ": " + other.text + " vs " + o.text).c_str());
            QCOMPARE(other.logprobs.size(), o.logprobs.size());
            for (size_t t = 0; t < o.logprobs.size(); ++t)
                QVERIFY(std::abs(other.logprobs[t] - o.logprobs[t]) < 1e-4); // other batch shapes round differently
        }
        QCOMPARE(pairsOf(two), pairsOf(one));

        // The losses: the same global batches, summed in another order.
        const auto la = losses(one), lb = losses(two);
        QCOMPARE(la.size(), size_t{12});
        QCOMPARE(lb.size(), la.size());
        for (size_t i = 0; i < la.size(); ++i)
            QVERIFY2(std::abs(la[i] - lb[i]) <= 1e-5 * std::abs(la[i]),
                     ("step " + std::to_string(i + 1) + ": " + std::to_string(la[i]) + " vs " + std::to_string(lb[i])).c_str());

        // The diagnostics, measured in two parts and joined, are one process's.
        {
            auto a1 = Workspace::openReadOnly(one), b1 = Workspace::openReadOnly(two);
            for (const std::string name : {"eval_pair_accuracy", "eval_margin", "eval_ece", "eval_sequence_ece", "eval_spearman", "eval_rerank_win_rate"}) {
                const auto x = a1.runs().metrics(run1, name), y = b1.runs().metrics(run1, name);
                QVERIFY2(x.size() == 3 && y.size() == x.size(), name.c_str()); // steps 0, 6, 12
                for (size_t i = 0; i < x.size(); ++i)
                    QVERIFY2(x[i].step == y[i].step && std::abs(x[i].value - y[i].value) <= 1e-5 * std::max(1.0, std::abs(x[i].value)),
                             (name + " at step " + std::to_string(x[i].step) + ": " + std::to_string(x[i].value) + " vs " + std::to_string(y[i].value)).c_str());
            }
            // Monitor's per-rank throughput.
            QCOMPARE(b1.runs().metrics(run1, "tokens_per_second_rank1").size(), size_t{12});
            QVERIFY(a1.runs().metrics(run1, "tokens_per_second_rank0").empty());
        }
        // The exported students agree within float rounding.
        const auto ma = loadModel(one / "runs" / run1 / "model").model, mb = loadModel(two / "runs" / run1 / "model").model;
        const auto pa = ma->named_parameters(), pb = mb->named_parameters();
        QCOMPARE(pa.size(), pb.size());
        for (const auto &item : pa) {
            const double diff = (item.value() - pb[item.key()]).abs().max().item<double>();
            QVERIFY2(diff < 1e-5, (item.key() + " differs by " + std::to_string(diff)).c_str());
        }
        // The run says how many processes it ran on.
        auto store = Workspace::openReadOnly(two);
        bool recorded = false;
        for (const auto &e : store.results().evaluations(run1, "environment"))
            recorded = nlohmann::json::parse(e.resultJson).value("processes", 0) == 2;
        QVERIFY(recorded);
    }

    void twoMachinesJoinedByNodeRankAndByTorchrunVariables()
    {
        // The two-machine example of docs/distributed.md, both "machines" on loopback: machine 0
        // holds the workspace and the config; machine 1 only joins.
        const auto config = writeConfig("nodes.json", {{"eval", {{"prompts", 8}, {"samples", 3}, {"every", 6}}}}); // as in the test above
        const fs::path ws = mRoot / "ws-nodes";
        const QString port = QString::number(freeLocalPort());
        QProcess node0, node1;
        node0.start(QStringLiteral(PLAD_CLI_PATH), {"--threads", "1", "run", str(config), "--workspace", str(ws), "--nproc", "1", "--nnodes", "2",
                                                    "--node-rank", "0", "--master-addr", "127.0.0.1", "--master-port", port});
        node1.start(QStringLiteral(PLAD_CLI_PATH),
                    {"--threads", "1", "run", "--nproc", "1", "--nnodes", "2", "--node-rank", "1", "--master-addr", "127.0.0.1", "--master-port", port});
        QVERIFY(node0.waitForFinished(300000) && node1.waitForFinished(300000));
        QVERIFY2(node0.exitCode() == 0, node0.readAllStandardError().constData());
        QVERIFY2(node1.exitCode() == 0, node1.readAllStandardError().constData());
        QCOMPARE(pairsOf(ws), pairsOf(mRoot / "ws-one"));
        expectComplete(ws, 12);

        // torchrun's way: the launcher sets the variables, and each process is one rank.
        const fs::path ws2 = mRoot / "ws-torchrun";
        std::vector<std::unique_ptr<QProcess>> ranks;
        const QString port2 = QString::number(freeLocalPort());
        for (int r = 0; r < 2; ++r) {
            auto p = std::make_unique<QProcess>();
            auto env = QProcessEnvironment::systemEnvironment();
            env.insert("MASTER_ADDR", "127.0.0.1");
            env.insert("MASTER_PORT", port2);
            env.insert("WORLD_SIZE", "2");
            env.insert("RANK", QString::number(r));
            env.insert("LOCAL_RANK", QString::number(r));
            p->setProcessEnvironment(env);
            QStringList args{"--threads", "1", "run", "--quiet"};
            if (r == 0)
                args << str(config) << "--workspace" << str(ws2);
            p->start(QStringLiteral(PLAD_CLI_PATH), args);
            ranks.push_back(std::move(p));
        }
        for (auto &p : ranks) {
            QVERIFY(p->waitForFinished(300000));
            QVERIFY2(p->exitCode() == 0, p->readAllStandardError().constData());
        }
        QCOMPARE(pairsOf(ws2), pairsOf(mRoot / "ws-one"));
        const auto a = losses(mRoot / "ws-two"), b = losses(ws2);
        QCOMPARE(a, b); // the same two ranks, the same sums
    }

    void aKilledRankFailsTheRunAndAnotherCountResumesIt_data()
    {
        QTest::addColumn<int>("killRank");
        QTest::addColumn<QString>("resumeProcesses");
        QTest::newRow("rank 1 killed, resumed on 1 process") << 1 << "1";
        QTest::newRow("rank 0 killed, resumed on 3 processes") << 0 << "3";
    }

    void aKilledRankFailsTheRunAndAnotherCountResumesIt()
    {
        QFETCH(int, killRank);
        QFETCH(QString, resumeProcesses);
        const fs::path ws = mRoot / ("ws-kill" + std::to_string(killRank));
        QProcess launcher;
        const auto workers = startWorkers(launcher, {"--threads", "1", "run", str(longConfig("kill.json")), "--workspace", str(ws), "--nproc", "2"}, 2);
        QCOMPARE(workers.size(), size_t{2});
        waitForStep(ws, 120); // past two checkpoints
        QVERIFY(lastStep(ws) >= 120);
        pid_t victim = -1;
        for (const pid_t w : workers)
            if (rankOf(w) == killRank)
                victim = w;
        QVERIFY(victim > 0);
        ::kill(victim, SIGKILL);
        // No hang: the other rank's collective fails at once, the launcher reports the dead rank.
        const auto killed = std::chrono::steady_clock::now();
        QVERIFY(launcher.waitForFinished(90000));
        QVERIFY(std::chrono::steady_clock::now() - killed < std::chrono::seconds(60));
        QCOMPARE(launcher.exitCode(), 1);
        const QByteArray err = launcher.readAllStandardError();
        QVERIFY2(err.contains(QByteArray("rank ") + QByteArray::number(killRank) + " failed (exit status 137)"), err.constData());
        for (const pid_t w : workers)
            QVERIFY2(::kill(w, 0) != 0, "a worker outlived the launcher");
        {
            auto store = Workspace::openReadOnly(ws);
            QCOMPARE(store.integrityCheck(), std::string("ok"));
            QVERIFY(toString(store.runs().requireRun(run1).status) != "completed");
        }
        QStringList resume{"--threads", "1", "run", "--resume", test::q(run1), "--workspace", str(ws)};
        if (resumeProcesses != "1")
            resume << "--nproc" << resumeProcesses;
        const auto r = runPlad(resume, 600000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.err.contains("resumed from the checkpoint at step"), r.err.constData());
        expectComplete(ws, 1500);
    }

    void ctrlCStopsEveryRankAtOneStep()
    {
        // Ctrl-C to the launcher: every rank stops after the same step, rank 0 saves a
        // checkpoint, the run is cancelled (exit 130) and resumable.
        const fs::path ws = mRoot / "ws-interrupt";
        QProcess launcher;
        const auto workers = startWorkers(launcher, {"--threads", "1", "run", str(longConfig("interrupt.json")), "--workspace", str(ws), "--nproc", "2"}, 2);
        QCOMPARE(workers.size(), size_t{2});
        waitForStep(ws, 60);
        ::kill(static_cast<pid_t>(launcher.processId()), SIGINT);
        QVERIFY(launcher.waitForFinished(120000));
        QCOMPARE(launcher.exitCode(), 130);
        const auto result = nlohmann::json::parse(launcher.readAllStandardOutput().toStdString());
        QCOMPARE(result["status"].get<std::string>(), std::string("cancelled"));
        const int64_t stopped = result["steps"].get<int64_t>();
        QVERIFY(stopped >= 60 && stopped < 1500);
        QCOMPARE(lastStep(ws), stopped);
        const auto r = runPlad({"--threads", "1", "run", "--resume", test::q(run1), "--workspace", str(ws), "--nproc", "2", "--quiet"}, 600000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        expectComplete(ws, 1500);
    }

    void aFrozenRankTimesOut()
    {
        // A rank that stops answering without dying (SIGSTOP): the others give up after
        // PLAD_DIST_TIMEOUT seconds, and the launcher ends the frozen one.
        const fs::path ws = mRoot / "ws-frozen";
        QProcess launcher;
        auto env = QProcessEnvironment::systemEnvironment();
        env.insert("PLAD_DIST_TIMEOUT", "3");
        launcher.setProcessEnvironment(env);
        const auto workers = startWorkers(launcher, {"--threads", "1", "run", str(longConfig("frozen.json")), "--workspace", str(ws), "--nproc", "2"}, 2);
        QCOMPARE(workers.size(), size_t{2});
        waitForStep(ws, 60);
        for (const pid_t w : workers)
            if (rankOf(w) == 1)
                ::kill(w, SIGSTOP);
        QVERIFY(launcher.waitForFinished(120000));
        QCOMPARE(launcher.exitCode(), 1);
        const QByteArray err = launcher.readAllStandardError();
        QVERIFY2(err.contains("cannot be reached within 3 s"), err.constData());
        for (const pid_t w : workers)
            QVERIFY2(::kill(w, 0) != 0, "the frozen worker outlived the launcher");
    }

    void badInvocations()
    {
        const auto config = writeConfig("bad.json", {});
        auto r = runPlad({"run", str(config), "--workspace", str(mRoot / "ws-bad"), "--nproc", "2", "--nnodes", "2", "--node-rank", "2"});
        QCOMPARE(r.exitCode, 2); // a usage error
        QVERIFY2(r.err.contains("--node-rank 2 is not below --nnodes 2"), r.err.constData());
        // A batch too small to share.
        r = runPlad({"--threads", "1", "run", str(writeConfig("tiny-batch.json", {{"train", {{"batch_size", 1}}}})), "--workspace",
                     str(mRoot / "ws-bad2"), "--nproc", "2", "--quiet"},
                    300000);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("train.batch_size: 1 cannot be shared by 2 processes"), r.err.constData());
        // A launcher inside a launcher.
        QProcess process;
        auto env = QProcessEnvironment::systemEnvironment();
        env.insert("WORLD_SIZE", "2");
        process.setProcessEnvironment(env);
        process.start(QStringLiteral(PLAD_CLI_PATH), {"run", str(config), "--workspace", str(mRoot / "ws-bad3"), "--nproc", "2"});
        QVERIFY(process.waitForFinished(60000));
        QCOMPARE(process.exitCode(), 2);
        QVERIFY(process.readAllStandardError().contains("use one or the other"));
    }
};

QTEST_GUILESS_MAIN(TestDistributedCli)
#include "tst_distributed_cli.moc"
