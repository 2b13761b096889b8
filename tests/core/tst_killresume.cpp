// Kill anywhere, lose nothing: a small PLaD run and an SFT job are killed with SIGKILL at seeded
// moments (named crash points inside pair generation, checkpoint writes, training steps,
// evaluation and export, and at random times), resumed until they complete, three times over,
// and compared with a run never stopped: the same outputs and pairs, the same loss series, a
// bit-identical exported student, and a workspace database that passes PRAGMA integrity_check.
#include "clirunner.h"
#include "runsnapshot.h"
#include "store/workspace.h"
#include "testsupport.h"

#include <QProcess>
#include <QProcessEnvironment>
#include <QTemporaryDir>
#include <QtTest>

#include <chrono>
#include <csignal>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>

using namespace plad;
using test::lines;
using test::readText;
using test::runPlad;
using test::str;
namespace fs = std::filesystem;

namespace {

/** How one attempt is to be stopped: at the N-th pass of a crash point, after a delay, or not. */
struct Kill
{
    std::string crashAt;  ///< PLAD_CRASH_AT, "NAME:N"; empty: none
    int afterMs = 0;      ///< SIGKILL from outside after this long; 0: none
    std::string describe() const { return crashAt.empty() ? (afterMs > 0 ? "SIGKILL after " + std::to_string(afterMs) + " ms" : "no kill") : crashAt; }
};

struct Attempt
{
    bool killed = false;
    int exitCode = -1;
    QByteArray err;
};

Attempt runAttempt(const QStringList &args, const Kill &kill)
{
    QProcess process;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("PLAD_THREADS", "2");
    if (!kill.crashAt.empty())
        env.insert("PLAD_CRASH_AT", QString::fromStdString(kill.crashAt));
    process.setProcessEnvironment(env);
    process.start(QStringLiteral(PLAD_CLI_PATH), args);
    if (!process.waitForStarted())
        qFatal("plad did not start");
    if (kill.afterMs > 0 && !process.waitForFinished(kill.afterMs)) {
        ::kill(static_cast<pid_t>(process.processId()), SIGKILL);
        process.waitForFinished(30000);
    } else {
        process.waitForFinished(600000);
    }
    Attempt a;
    a.killed = process.exitStatus() == QProcess::CrashExit;
    a.exitCode = a.killed ? -1 : process.exitCode();
    a.err = process.readAllStandardError();
    return a;
}

/** The SFT job's record: its metrics without the timings, and the exported weights. */
struct SftSnapshot
{
    std::vector<std::string> metrics;
    std::string exportedWeights;
};

SftSnapshot snapshotSft(const fs::path &out)
{
    SftSnapshot s;
    for (const auto &line : lines(out / "metrics.jsonl")) {
        auto doc = nlohmann::json::parse(line);
        doc.erase("tokens_per_second");
        s.metrics.push_back(doc.dump());
    }
    s.exportedWeights = readText(out / "model" / "model.safetensors");
    return s;
}

/**
 * A seeded plan of kills for one trial: `crashes` crash points picked from `points` (each with
 * how many passes it sees at most in one process), then `timed` kills at random fractions of
 * `wholeMs`, the time an uninterrupted run takes.
 */
std::vector<Kill> killPlan(unsigned seed, const std::vector<std::pair<std::string, int>> &points, int crashes, int timed, int wholeMs)
{
    std::mt19937 rng(seed);
    std::vector<Kill> plan;
    for (int i = 0; i < crashes; ++i) {
        const auto &[name, most] = points[std::uniform_int_distribution<size_t>(0, points.size() - 1)(rng)];
        // Early passes: a resumed process has less left to do and may not reach a later one.
        plan.push_back({name + ":" + std::to_string(std::uniform_int_distribution<int>(1, std::min(most, 3))(rng)), 0});
    }
    for (int i = 0; i < timed; ++i)
        plan.push_back({"", std::uniform_int_distribution<int>(wholeMs / 20, wholeMs / 2)(rng)});
    // Timed kills first, while the job still has most of its work ahead; then the crash points
    // in a seeded order.
    std::shuffle(plan.begin(), plan.begin() + crashes, rng);
    std::rotate(plan.begin(), plan.begin() + crashes, plan.end());
    return plan;
}

} // namespace

class TestKillResume : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    fs::path mRoot;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(mTmp.isValid());
        mRoot = fs::path(mTmp.path().toStdString());
        test::buildTinyTask(mRoot);
    }

    void pladRunKilledAnywhereEndsAsIfNeverStopped()
    {
        // Sampled outputs (each prompt has its own seed), held-out evaluation every 4 steps.
        const auto config = test::writeTinyRunConfig(
            mRoot, "kill-anywhere.json",
            {{"pairs", {{"prompts", 24}, {"per_prompt", 2}, {"batch_size", 4}, {"teacher", {{"temperature", 0.9}}}, {"student", {{"temperature", 1.0}}}}},
             {"eval", {{"prompts", 4}, {"samples", 2}, {"every", 4}}},
             {"train", {{"max_steps", 12}, {"checkpoint_every", 3}, {"eval_every", 6}}}});
        const fs::path whole = mRoot / "ws-whole";
        const auto started = std::chrono::steady_clock::now();
        const Attempt reference = runAttempt({"run", str(config), "--workspace", str(whole), "--quiet"}, {});
        const int wholeMs = static_cast<int>(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
        QVERIFY2(reference.exitCode == 0, reference.err.constData());
        const test::RunSnapshot want = test::snapshotRun(whole);
        QCOMPARE(want.status, std::string("completed"));
        QVERIFY(!want.pairs.empty());
        QCOMPARE(want.series.at("loss").size(), size_t(12));
        QVERIFY(want.exportedWeights.size() > 1000);

        // The passes each point sees in one uninterrupted process of this run.
        const std::vector<std::pair<std::string, int>> points = {
            {"generate.saved", 6},      // after a batch of prompts' outputs and pairs is committed
            {"checkpoint.partial", 4},  // weights written into checkpoint.new, the optimiser not yet
            {"checkpoint.swapping", 4}, // between the two renames that replace the checkpoint
            {"train.step", 12},         // a step's metrics stored, before the next
            {"eval.measured", 3},       // an evaluation measured, not yet stored
            {"export.model", 1}};       // the student's weights exported, its tokenizer files not yet
        std::set<std::string> stagesHit;
        int totalKills = 0;
        for (unsigned trial = 0; trial < 3; ++trial) {
            const fs::path ws = mRoot / ("ws-killed-" + std::to_string(trial));
            const auto plan = killPlan(100 + trial, points, 4, 2, wholeMs);
            int kills = 0, attempts = 0;
            bool done = false;
            auto next = [&](const Kill &kill) {
                // Until the run exists, it is started again from its config.
                bool exists = false;
                try {
                    if (fs::exists(ws / Workspace::fileName))
                        exists = Workspace::openReadOnly(ws).runs().run("r0001-plad").has_value();
                } catch (const StoreError &) {
                    // killed while the workspace was being created: start again
                }
                const QStringList args = exists ? QStringList{"run", "--resume", "r0001-plad", "--workspace", str(ws), "--quiet"}
                                                : QStringList{"run", str(config), "--workspace", str(ws), "--quiet"};
                const Attempt a = runAttempt(args, kill);
                ++attempts;
                if (a.killed) {
                    ++kills;
                    if (!kill.crashAt.empty())
                        stagesHit.insert(kill.crashAt.substr(0, kill.crashAt.find(':')));
                    // What a kill leaves behind is a consistent database (when it got as far
                    // as creating one).
                    if (fs::exists(ws / Workspace::fileName)) {
                        auto store = Workspace::openReadOnly(ws);
                        QCOMPARE(store.integrityCheck(), std::string("ok"));
                    }
                    return;
                }
                QVERIFY2(a.exitCode == 0, (kill.describe() + ": " + a.err.toStdString()).c_str());
                done = true;
            };
            for (const Kill &kill : plan) {
                next(kill);
                if (QTest::currentTestFailed() || done)
                    break;
            }
            while (!done && attempts < 20 && !QTest::currentTestFailed())
                next({});
            if (QTest::currentTestFailed())
                return;
            QVERIFY(done);
            qInfo("trial %u: %d kills in %d attempts", trial, kills, attempts);

            const std::string difference = test::differenceBetween(test::snapshotRun(ws), want);
            QVERIFY2(difference.empty(), ("trial " + std::to_string(trial) + ": " + difference).c_str());
            QVERIFY2(kills >= 1, "the plan never stopped the run");
            totalKills += kills;
        }
        QVERIFY2(totalKills >= 6, ("only " + std::to_string(totalKills) + " kills in three trials").c_str());
        qInfo("crash points hit: %s", [&] {
            std::string list;
            for (const auto &s : stagesHit)
                list += s + " ";
            return list;
        }().c_str());
        QVERIFY2(stagesHit.size() >= 3, "the seeded plans reached fewer than three kinds of crash point");
    }

    void sftKilledAnywhereEndsAsIfNeverStopped()
    {
        auto writeJob = [&](const std::string &name) {
            const nlohmann::json job = {
                {"output", (mRoot / name).string()},
                {"tokenizer", (mRoot / "tok").string()},
                {"model", {{"scratch", {{"hidden_size", 16}, {"layers", 1}, {"heads", 2}, {"context_length", 48}}}}},
                {"data", {{"file", (mRoot / "rev.jsonl").string()}, {"fields", {{"response", "reference"}, {"id", "id"}}}}},
                {"train", {{"max_steps", 30}, {"batch_size", 8}, {"warmup_steps", 2}, {"learning_rate", 0.01}, {"checkpoint_every", 5}, {"eval_every", 10}}}};
            test::writeBytes(mRoot / (name + ".json"), job.dump());
            return str(mRoot / (name + ".json"));
        };
        const QString wholeJob = writeJob("sft-whole");
        const auto started = std::chrono::steady_clock::now();
        const Attempt reference = runAttempt({"sft", "--config", wholeJob, "--quiet"}, {});
        const int wholeMs = static_cast<int>(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
        QVERIFY2(reference.exitCode == 0, reference.err.constData());
        const SftSnapshot want = snapshotSft(mRoot / "sft-whole");
        QCOMPARE(want.metrics.size(), size_t(30));

        const std::vector<std::pair<std::string, int>> points = {
            {"sft.step", 30}, {"checkpoint.partial", 6}, {"checkpoint.swapping", 6}, {"sft.export", 1}};
        int totalKills = 0;
        for (unsigned trial = 0; trial < 3; ++trial) {
            // The same job in another folder: its output may not depend on the folder's name.
            const std::string name = "sft-killed-" + std::to_string(trial);
            const QString job = writeJob(name);
            const auto plan = killPlan(200 + trial, points, 4, 2, wholeMs);
            int kills = 0, attempts = 0;
            bool done = false;
            for (size_t i = 0; !done && attempts < 20; ++i) {
                const Kill kill = i < plan.size() ? plan[i] : Kill{};
                // The first attempt starts the job; every later one resumes it (from step 0 when
                // it was stopped before its first checkpoint).
                const QStringList args = attempts == 0 ? QStringList{"sft", "--config", job, "--quiet"}
                                                       : QStringList{"sft", "--config", job, "--resume", "--quiet"};
                const Attempt a = runAttempt(args, kill);
                ++attempts;
                if (a.killed) {
                    ++kills;
                    continue;
                }
                QVERIFY2(a.exitCode == 0, (kill.describe() + ": " + a.err.toStdString()).c_str());
                done = true;
            }
            QVERIFY(done);
            qInfo("sft trial %u: %d kills in %d attempts", trial, kills, attempts);
            const SftSnapshot got = snapshotSft(mRoot / name);
            QCOMPARE(got.metrics.size(), want.metrics.size());
            for (size_t i = 0; i < want.metrics.size(); ++i)
                QCOMPARE(got.metrics[i], want.metrics[i]);
            QVERIFY2(got.exportedWeights == want.exportedWeights, "the exported model differs from the uninterrupted job's");
            QVERIFY2(kills >= 1, "the plan never stopped the job");
            totalKills += kills;
        }
        QVERIFY2(totalKills >= 6, ("only " + std::to_string(totalKills) + " kills in three trials").c_str());
    }
};

QTEST_GUILESS_MAIN(TestKillResume)
#include "tst_killresume.moc"
