// The workspace database: runs, metrics and events survive reopening; schema versions,
// corrupt files, read-only access and a full disk give clear errors and keep saved data.
#include "store/workspace.h"
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
            auto store = Workspace::open(ws);
            const auto a = store.runs().createRun("plad", R"({"loss": "hinge"})");
            const auto b = store.runs().createRun("dpo", "{}", "baseline");
            firstId = a.id;
            QCOMPARE(a.id, std::string("r0001-plad"));
            QCOMPARE(b.id, std::string("r0002-dpo"));
            QCOMPARE(b.name, std::string("baseline"));
            QCOMPARE(toString(a.status), std::string("created"));
            store.runs().setStatus(a.id, RunStatus::Failed, "out of memory at step 12");
            store.runs().rename(b.id, "DPO beta 0.1");
            store.runs().setTags(b.id, {"baseline", "demo"});
        }
        auto store = Workspace::open(ws, false);
        const auto runs = store.runs().list();
        QCOMPARE(runs.size(), size_t(2));
        QCOMPARE(runs[0].id, std::string("r0002-dpo")); // newest first
        QCOMPARE(runs[0].name, std::string("DPO beta 0.1"));
        QCOMPARE(runs[0].tags, (std::vector<std::string>{"baseline", "demo"}));
        QCOMPARE(toString(runs[1].status), std::string("failed"));
        QCOMPARE(runs[1].error, std::string("out of memory at step 12"));
        QCOMPARE(runs[1].configJson, std::string(R"({"loss": "hinge"})"));
        QVERIFY(runs[1].createdAt.size() == 24 && runs[1].createdAt.back() == 'Z');

        test::expectError([&] { store.runs().requireRun("r0042-plad"); }, "no run \"r0042-plad\"");
        test::expectError([&] { store.runs().setStatus("nope", RunStatus::Running); }, "no run \"nope\"");
        test::expectError([&] { store.runs().rename(firstId, ""); }, "cannot be empty");

        // Deleting a run removes its metrics and events too; ids are never reused.
        store.runs().addMetrics(firstId, {{1, "loss", 0.5}});
        store.runs().addEvent(firstId, "info", "started");
        store.runs().deleteRun(firstId);
        QVERIFY(!store.runs().run(firstId));
        QVERIFY(store.runs().metricNames(firstId).empty());
        QVERIFY(store.runs().events(firstId).empty());
        QCOMPARE(store.runs().createRun("plad", "{}").id, std::string("r0003-plad"));
        QCOMPARE(store.integrityCheck(), std::string("ok"));
    }

    void metricsAndEvents()
    {
        auto store = Workspace::open(freshWorkspace());
        const auto id = store.runs().createRun("plad", "{}").id;
        std::vector<MetricPoint> points;
        for (int step = 1; step <= 10; ++step) {
            points.push_back({step, "loss", 1.0 / step});
            points.push_back({step, "margin", 0.1 * step});
        }
        store.runs().addMetrics(id, points);
        store.runs().addMetrics(id, {{10, "loss", 0.05}}); // replaces the value at step 10
        const auto loss = store.runs().metrics(id, "loss");
        QCOMPARE(loss.size(), size_t(10));
        QCOMPARE(loss.front().value, 1.0);
        QCOMPARE(loss.back().value, 0.05);
        QCOMPARE(store.runs().metrics(id, "margin", 7).size(), size_t(3)); // steps 8, 9, 10
        QCOMPARE(store.runs().metricNames(id), (std::vector<std::string>{"loss", "margin"}));
        QCOMPARE(store.runs().lastMetricStep(id), int64_t(10));
        store.runs().truncateMetrics(id, 6);
        QCOMPARE(store.runs().lastMetricStep(id), int64_t(6));
        QCOMPARE(store.runs().metrics(id, "margin").size(), size_t(6));
        QCOMPARE(store.runs().lastMetricStep(store.runs().createRun("sft", "{}").id), int64_t(-1));

        store.runs().addEvent(id, "info", "pairs: 120 generated");
        store.runs().addEvent(id, "warning", "3 pairs dropped: identical outputs");
        const auto all = store.runs().events(id);
        QCOMPARE(all.size(), size_t(2));
        QCOMPARE(all[1].level, std::string("warning"));
        const auto after = store.runs().events(id, all[0].id);
        QCOMPARE(after.size(), size_t(1));
        QCOMPARE(after[0].message, std::string("3 pairs dropped: identical outputs"));
    }

    void readerSeesWriterProgress()
    {
        // A worker thread writes metrics in many small transactions while this thread reads
        // through its own connection, as the GUI does during training.
        const auto ws = freshWorkspace();
        // The creator stays open, as the GUI's own connection would.
        auto owner = Workspace::open(ws);
        const std::string id = owner.runs().createRun("plad", "{}").id;
        std::atomic<bool> done{false};
        std::thread writer([&] {
            auto store = Workspace::open(ws, false);
            for (int step = 1; step <= 200; ++step)
                store.runs().addMetrics(id, {{step, "loss", 1.0}, {step, "accuracy", 0.5}});
            done = true;
        });
        auto reader = Workspace::openReadOnly(ws);
        int64_t seen = -1;
        bool monotonic = true;
        while (!done) {
            const int64_t last = reader.runs().lastMetricStep(id);
            monotonic = monotonic && last >= seen;
            seen = last;
            // A committed step always carries both series: transactions are all or nothing.
            if (last > 0) {
                const auto accuracy = reader.runs().metrics(id, "accuracy", last - 1);
                monotonic = monotonic && !accuracy.empty() && accuracy.front().step == last;
            }
        }
        writer.join();
        QVERIFY(monotonic);
        QCOMPARE(reader.runs().lastMetricStep(id), int64_t(200));
        test::expectError([&] { reader.runs().addEvent(id, "info", "x"); }, "read-only");
    }

    void schemaVersions()
    {
        const auto ws = freshWorkspace();
        {
            auto store = Workspace::open(ws);
            auto s = store.database().prepare("PRAGMA user_version");
            QVERIFY(s.step());
            QCOMPARE(s.integer(0), int64_t(Workspace::schemaVersion));
            store.runs().createRun("plad", "{}");
            store.database().execute("PRAGMA user_version=99");
        }
        test::expectError([&] { Workspace::open(ws); }, "newer PLaD Workbench (schema version 99");
        test::expectError([&] { Workspace::openReadOnly(ws); }, "schema version 99");
        test::expectError([&] { Workspace::open(freshWorkspace(), false); }, "no workspace here");
    }

    void aVersion3WorkspaceIsMigratedAndRecordsWhenAnnotationsWereRead()
    {
        const auto ws = freshWorkspace();
        std::string id;
        {
            auto store = Workspace::open(ws);
            id = store.runs().createRun("plad", "{}").id;
            QVERIFY(store.runs().requireRun(id).annotationsReadAt.empty());
            // What version 3 had: no annotations_read_at column.
            store.database().execute("ALTER TABLE runs DROP COLUMN annotations_read_at");
            store.database().execute("PRAGMA user_version=3");
        }
        test::expectError([&] { Workspace::openReadOnly(ws); }, "open it read-write once to migrate it");
        auto store = Workspace::open(ws, false);
        const auto run = store.runs().requireRun(id);
        QCOMPARE(run.method, std::string("plad"));
        QVERIFY(run.annotationsReadAt.empty());
        store.runs().markAnnotationsRead(id, "2026-12-07T10:00:00.000Z");
        QCOMPARE(store.runs().requireRun(id).annotationsReadAt, std::string("2026-12-07T10:00:00.000Z"));
        test::expectError([&] { store.runs().markAnnotationsRead("r9999-none", "x"); }, "r9999-none");
    }

    void corruptFileIsRefusedUntouched()
    {
        const auto ws = freshWorkspace();
        std::filesystem::create_directories(ws);
        const std::string garbage(4096, 'x');
        test::writeBytes(ws / Workspace::fileName, garbage);
        test::expectError([&] { Workspace::open(ws); }, "not a PLaD workspace database or is corrupt", Workspace::fileName);
        std::ifstream in(ws / Workspace::fileName, std::ios::binary);
        QCOMPARE(std::string(std::istreambuf_iterator<char>(in), {}), garbage);
    }

    void fullDiskKeepsSavedData()
    {
        auto store = Workspace::open(freshWorkspace());
        const auto id = store.runs().createRun("plad", "{}").id;
        store.runs().addMetrics(id, {{1, "loss", 1.0}});
        // Cap the file at its current size: the next growth fails as a full disk would.
        auto pages = store.database().prepare("PRAGMA page_count");
        QVERIFY(pages.step());
        store.database().execute("PRAGMA max_page_count=" + std::to_string(pages.integer(0)));
        pages.reset();
        std::vector<MetricPoint> many;
        for (int step = 2; step < 20000; ++step)
            many.push_back({step, "loss", 0.5});
        test::expectError([&] { store.runs().addMetrics(id, many); }, "the disk is full");
        // The failed transaction left nothing half-written; earlier data is intact.
        QCOMPARE(store.runs().lastMetricStep(id), int64_t(1));
        QCOMPARE(store.integrityCheck(), std::string("ok"));
        store.runs().addEvent(id, "error", "disk full"); // small writes that fit still work
        QCOMPARE(store.runs().events(id).size(), size_t(1));
    }
};

QTEST_GUILESS_MAIN(TestRunStore)
#include "tst_runstore.moc"
