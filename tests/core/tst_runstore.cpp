// The workspace database: runs, metrics and events survive reopening; schema versions,
// corrupt files, read-only access and a full disk give clear errors and keep saved data.
#include "store/runstore.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <fstream>
#include <thread>

using namespace plad;

class TestRunStore : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    int mCounter = 0;

    std::filesystem::path freshWorkspace()
    {
        return std::filesystem::path(mTmp.path().toStdString()) / ("ws" + std::to_string(++mCounter));
    }

private Q_SLOTS:
    void runsPersistAcrossReopening()
    {
        const auto ws = freshWorkspace();
        std::string firstId;
        {
            auto store = RunStore::open(ws);
            const auto a = store.createRun("plad", R"({"loss": "hinge"})");
            const auto b = store.createRun("dpo", "{}", "baseline");
            firstId = a.id;
            QCOMPARE(a.id, std::string("r0001-plad"));
            QCOMPARE(b.id, std::string("r0002-dpo"));
            QCOMPARE(b.name, std::string("baseline"));
            QCOMPARE(toString(a.status), std::string("created"));
            store.setStatus(a.id, RunStatus::Failed, "out of memory at step 12");
            store.rename(b.id, "DPO beta 0.1");
            store.setTags(b.id, {"baseline", "demo"});
        }
        auto store = RunStore::open(ws, false);
        const auto runs = store.runs();
        QCOMPARE(runs.size(), size_t(2));
        QCOMPARE(runs[0].id, std::string("r0002-dpo")); // newest first
        QCOMPARE(runs[0].name, std::string("DPO beta 0.1"));
        QCOMPARE(runs[0].tags, (std::vector<std::string>{"baseline", "demo"}));
        QCOMPARE(toString(runs[1].status), std::string("failed"));
        QCOMPARE(runs[1].error, std::string("out of memory at step 12"));
        QCOMPARE(runs[1].configJson, std::string(R"({"loss": "hinge"})"));
        QVERIFY(runs[1].createdAt.size() == 24 && runs[1].createdAt.back() == 'Z');

        test::expectError([&] { store.requireRun("r0042-plad"); }, "no run \"r0042-plad\"");
        test::expectError([&] { store.setStatus("nope", RunStatus::Running); }, "no run \"nope\"");
        test::expectError([&] { store.rename(firstId, ""); }, "cannot be empty");

        // Deleting a run removes its metrics and events too; ids are never reused.
        store.addMetrics(firstId, {{1, "loss", 0.5}});
        store.addEvent(firstId, "info", "started");
        store.deleteRun(firstId);
        QVERIFY(!store.run(firstId));
        QVERIFY(store.metricNames(firstId).empty());
        QVERIFY(store.events(firstId).empty());
        QCOMPARE(store.createRun("plad", "{}").id, std::string("r0003-plad"));
        QCOMPARE(store.integrityCheck(), std::string("ok"));
    }

    void metricsAndEvents()
    {
        auto store = RunStore::open(freshWorkspace());
        const auto id = store.createRun("plad", "{}").id;
        std::vector<MetricPoint> points;
        for (int step = 1; step <= 10; ++step) {
            points.push_back({step, "loss", 1.0 / step});
            points.push_back({step, "margin", 0.1 * step});
        }
        store.addMetrics(id, points);
        store.addMetrics(id, {{10, "loss", 0.05}}); // replaces the value at step 10
        const auto loss = store.metrics(id, "loss");
        QCOMPARE(loss.size(), size_t(10));
        QCOMPARE(loss.front().value, 1.0);
        QCOMPARE(loss.back().value, 0.05);
        QCOMPARE(store.metrics(id, "margin", 7).size(), size_t(3)); // steps 8, 9, 10
        QCOMPARE(store.metricNames(id), (std::vector<std::string>{"loss", "margin"}));
        QCOMPARE(store.lastMetricStep(id), int64_t(10));
        store.truncateMetrics(id, 6);
        QCOMPARE(store.lastMetricStep(id), int64_t(6));
        QCOMPARE(store.metrics(id, "margin").size(), size_t(6));
        QCOMPARE(store.lastMetricStep(store.createRun("sft", "{}").id), int64_t(-1));

        store.addEvent(id, "info", "pairs: 120 generated");
        store.addEvent(id, "warning", "3 pairs dropped: identical outputs");
        const auto all = store.events(id);
        QCOMPARE(all.size(), size_t(2));
        QCOMPARE(all[1].level, std::string("warning"));
        const auto after = store.events(id, all[0].id);
        QCOMPARE(after.size(), size_t(1));
        QCOMPARE(after[0].message, std::string("3 pairs dropped: identical outputs"));
    }

    void readerSeesWriterProgress()
    {
        // A worker thread writes metrics in many small transactions while this thread reads
        // through its own connection, as the GUI does during training.
        const auto ws = freshWorkspace();
        // The creator stays open, as the GUI's own connection would.
        auto owner = RunStore::open(ws);
        const std::string id = owner.createRun("plad", "{}").id;
        std::atomic<bool> done{false};
        std::thread writer([&] {
            auto store = RunStore::open(ws, false);
            for (int step = 1; step <= 200; ++step)
                store.addMetrics(id, {{step, "loss", 1.0}, {step, "accuracy", 0.5}});
            done = true;
        });
        auto reader = RunStore::openReadOnly(ws);
        int64_t seen = -1;
        bool monotonic = true;
        while (!done) {
            const int64_t last = reader.lastMetricStep(id);
            monotonic = monotonic && last >= seen;
            seen = last;
            // A committed step always carries both series: transactions are all or nothing.
            if (last > 0) {
                const auto accuracy = reader.metrics(id, "accuracy", last - 1);
                monotonic = monotonic && !accuracy.empty() && accuracy.front().step == last;
            }
        }
        writer.join();
        QVERIFY(monotonic);
        QCOMPARE(reader.lastMetricStep(id), int64_t(200));
        test::expectError([&] { reader.addEvent(id, "info", "x"); }, "read-only");
    }

    void schemaVersions()
    {
        const auto ws = freshWorkspace();
        {
            auto store = RunStore::open(ws);
            auto s = store.database().prepare("PRAGMA user_version");
            QVERIFY(s.step());
            QCOMPARE(s.integer(0), int64_t(RunStore::schemaVersion));
            store.createRun("plad", "{}");
            store.database().execute("PRAGMA user_version=99");
        }
        test::expectError([&] { RunStore::open(ws); }, "newer PLaD Workbench (schema version 99");
        test::expectError([&] { RunStore::openReadOnly(ws); }, "schema version 99");
        test::expectError([&] { RunStore::open(freshWorkspace(), false); }, "no workspace here");
    }

    void corruptFileIsRefusedUntouched()
    {
        const auto ws = freshWorkspace();
        std::filesystem::create_directories(ws);
        const std::string garbage(4096, 'x');
        test::writeBytes(ws / RunStore::fileName, garbage);
        test::expectError([&] { RunStore::open(ws); }, "not a PLaD workspace database or is corrupt", RunStore::fileName);
        std::ifstream in(ws / RunStore::fileName, std::ios::binary);
        QCOMPARE(std::string(std::istreambuf_iterator<char>(in), {}), garbage);
    }

    void fullDiskKeepsSavedData()
    {
        auto store = RunStore::open(freshWorkspace());
        const auto id = store.createRun("plad", "{}").id;
        store.addMetrics(id, {{1, "loss", 1.0}});
        // Cap the file at its current size: the next growth fails as a full disk would.
        auto pages = store.database().prepare("PRAGMA page_count");
        QVERIFY(pages.step());
        store.database().execute("PRAGMA max_page_count=" + std::to_string(pages.integer(0)));
        pages.reset();
        std::vector<MetricPoint> many;
        for (int step = 2; step < 20000; ++step)
            many.push_back({step, "loss", 0.5});
        test::expectError([&] { store.addMetrics(id, many); }, "the disk is full");
        // The failed transaction left nothing half-written; earlier data is intact.
        QCOMPARE(store.lastMetricStep(id), int64_t(1));
        QCOMPARE(store.integrityCheck(), std::string("ok"));
        store.addEvent(id, "error", "disk full"); // small writes that fit still work
        QCOMPARE(store.events(id).size(), size_t(1));
    }
};

QTEST_GUILESS_MAIN(TestRunStore)
#include "tst_runstore.moc"
