// The workbench driven through its real widgets (offscreen): fill the setup form and launch a
// tiny run, watch the monitor fill up while the event loop stays responsive, annotate a pair
// and find the annotation in the database, stop a running job, compare two runs' configs,
// export the report, and close the window during a job. (QCustomPlot's header needs Qt's
// keywords, which the test support turns off: the test reaches charts through MonitorView.)
#include "jobs/runjobcontroller.h"
#include "mainwindow/mainwindow.h"
#include "monitor/monitorview.h"
#include "pairs/pairinspector.h"
#include "playground/playgroundview.h"

#include <QLabel>
#include "report/reportview.h"
#include "runs/runsview.h"
#include "setup/setupview.h"
#include "plad/runconfig.h"
#include "plad/runconfigschema.h"
#include "store/workspace.h"
#include "testsupport.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QMimeData>
#include <QProcess>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableView>
#include <QTemporaryDir>
#include <QTabWidget>
#include <QTextBrowser>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <tuple>

#include <nlohmann/json.hpp>

using namespace plad;
using namespace plad::ui;
namespace fs = std::filesystem;
using plad::test::child;

namespace {

int runPlad(const QStringList &args)
{
    QProcess process;
    process.start(QStringLiteral(PLAD_CLI_PATH), args);
    if (!process.waitForFinished(300000))
        return -1;
    if (process.exitCode() != 0)
        qWarning("plad %s: %s", qPrintable(args.join(' ')), process.readAllStandardError().constData());
    return process.exitCode();
}

QString str(const fs::path &p)
{
    return QString::fromStdString(p.string());
}

} // namespace

class TestWorkbench : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    fs::path mRoot;

    /** Fills the setup form with the tiny synthetic task; `steps` optimiser steps. */
    void fillSetup(SetupView *setup, int steps)
    {
        child<QLineEdit>(setup, "teacherEdit")->setText(str(mRoot / "teacher" / "model"));
        child<QLineEdit>(setup, "studentEdit")->setText(str(mRoot / "student" / "model"));
        child<QLineEdit>(setup, "dataEdit")->setText(str(mRoot / "rev.jsonl"));
        child<QLineEdit>(setup, "responseFieldEdit")->setText("reference");
        child<QLineEdit>(setup, "idFieldEdit")->setText("id");
        child<QComboBox>(setup, "methodCombo")->setCurrentText("plad");
        child<QSpinBox>(setup, "promptsSpin")->setValue(40);
        child<QSpinBox>(setup, "maxPromptSpin")->setValue(30);
        child<QSpinBox>(setup, "maxResponseSpin")->setValue(12);
        child<QSpinBox>(setup, "stepsSpin")->setValue(steps);
        child<QSpinBox>(setup, "batchSpin")->setValue(4);
        child<QSpinBox>(setup, "evalPromptsSpin")->setValue(0);
        child<QDoubleSpinBox>(setup, "learningRateSpin")->setValue(0.001);
        child<QDoubleSpinBox>(setup, "lambdaSpin")->setValue(0.1);
    }

    std::vector<RunRecord> runs()
    {
        return Workspace::openReadOnly(mRoot / "ws").runs().list();
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(mTmp.isValid());
        mRoot = fs::path(mTmp.path().toStdString());
        // Settings of this test only, so a developer's workbench settings are neither read nor changed.
        QCoreApplication::setOrganizationName(QStringLiteral("PLaD-tests"));
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, mTmp.path());
        QCOMPARE(runPlad({"data", "synthetic", "--out", str(mRoot / "rev.jsonl"), "--count", "300"}), 0);
        std::ifstream in(mRoot / "rev.jsonl");
        std::string corpus;
        for (std::string line; std::getline(in, line);) {
            const auto doc = nlohmann::json::parse(line);
            corpus += doc["prompt"].get<std::string>() + doc["reference"].get<std::string>() + "\n";
        }
        test::writeBytes(mRoot / "corpus.txt", corpus);
        QCOMPARE(runPlad({"tokenizer", "train", "--corpus", str(mRoot / "corpus.txt"), "--vocab-size", "300", "--out", str(mRoot / "tok")}), 0);
        for (const auto &[name, hidden, steps] : {std::tuple{"teacher", 48, 30}, {"student", 16, 8}}) {
            const nlohmann::json config = {
                {"output", name},
                {"tokenizer", "tok"},
                {"model", {{"scratch", {{"hidden_size", hidden}, {"layers", 1}, {"heads", 2}, {"context_length", 48}}}}},
                {"data", {{"file", "rev.jsonl"}, {"fields", {{"response", "reference"}, {"id", "id"}}}}},
                {"train", {{"max_steps", steps}, {"batch_size", 8}, {"warmup_steps", 2}, {"learning_rate", 0.01}}}};
            test::writeBytes(mRoot / (std::string(name) + ".json"), config.dump());
            QCOMPARE(runPlad({"sft", "--config", str(mRoot / (std::string(name) + ".json")), "--quiet"}), 0);
        }
    }

    void setupLaunchesARunAndTheMonitorFillsUp()
    {
        MainWindow window;
        window.setConfirmClose(false);
        window.openWorkspace(str(mRoot / "ws"));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        SetupView *setup = window.setupView();
        fillSetup(setup, 30);
        // Calibration diagnostics on 8 held-out prompts at steps 0, 15 and 30.
        child<QSpinBox>(setup, "evalPromptsSpin")->setValue(8);
        child<QSpinBox>(setup, "evalEverySpin")->setValue(15);

        // The pre-flight check reads the models and data in the background and finds nothing to fix.
        QSignalSpy checked(setup, &SetupView::preflightDone);
        QTest::mouseClick(child<QPushButton>(setup, "checkButton"), Qt::LeftButton);
        QVERIFY(checked.wait(60000));
        QCOMPARE(checked.first().first().toInt(), 0);
        QVERIFY2(setup->preflightText().contains("memory") && setup->preflightText().contains("share one vocabulary"), qPrintable(setup->preflightText()));
        QVERIFY2(setup->preflightText().contains("pair generation decodes"), qPrintable(setup->preflightText())); // the decode batch it will use

        // Launch, and measure how late a 20 ms timer fires on the GUI thread while the worker trains.
        QSignalSpy finished(window.jobs(), &RunJobController::finished);
        QElapsedTimer clock;
        qint64 last = -1, worstDelay = 0;
        QTimer probe;
        probe.setInterval(20);
        connect(&probe, &QTimer::timeout, this, [&] {
            const qint64 now = clock.elapsed();
            if (last >= 0)
                worstDelay = std::max(worstDelay, now - last - 20);
            last = now;
        });
        QTest::mouseClick(child<QPushButton>(setup, "launchButton"), Qt::LeftButton);
        clock.start();
        probe.start();
        QVERIFY(window.jobs()->isRunning());
        QCOMPARE(window.tabs()->currentWidget(), static_cast<QWidget *>(window.monitorView()));
        // The loss curve gets points while the run is going.
        QTRY_VERIFY2_WITH_TIMEOUT(window.monitorView()->pointCount("loss") > 0, qPrintable(window.logText()), 60000);
        QVERIFY2(finished.count() > 0 || finished.wait(180000), qPrintable(window.logText()));
        probe.stop();
        qInfo("GUI event loop during the job: a 20 ms timer fired at worst %lld ms late", static_cast<long long>(worstDelay));
        QVERIFY2(worstDelay < 100, qPrintable(QStringLiteral("the event loop stalled for %1 ms").arg(worstDelay)));
        QCOMPARE(finished.first().at(1).toString(), QStringLiteral("completed"));
        const QString runId = finished.first().at(0).toString();
        // Every step reached the chart (the watcher reads the store as the worker writes it).
        QTRY_COMPARE_WITH_TIMEOUT(window.monitorView()->pointCount("loss"), 2 * 30, 5000); // raw and smoothed lines
        QVERIFY(window.monitorView()->pointCount("ranking-accuracy") > 0);
        // The calibration chart and the reliability diagram follow the evaluations.
        QTRY_COMPARE_WITH_TIMEOUT(window.monitorView()->reliabilityStep(), qint64(30), 5000);
        QVERIFY(window.monitorView()->pointCount("calibration") >= 3);

        // The run as `plad run` would have stored it: the form's settings are in its config.
        const auto stored = Workspace::openReadOnly(mRoot / "ws").runs().requireRun(runId.toStdString());
        const auto config = nlohmann::json::parse(stored.configJson);
        QCOMPARE(config["train"]["max_steps"].get<int>(), 30);
        QCOMPARE(config["loss"]["lambda"].get<double>(), 0.1);
        QCOMPARE(toString(stored.status), std::string("completed"));
    }

    void setupLaunchesARunOnTwoProcessesAndTheMonitorShowsEachRank()
    {
        qputenv("PLAD_CLI", PLAD_CLI_PATH); // the tests' plad, not one beside the test program
        MainWindow window;
        window.setConfirmClose(false);
        window.openWorkspace(str(mRoot / "ws-ranks")); // its own: other tests count the runs of "ws"
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        SetupView *setup = window.setupView();
        fillSetup(setup, 20);
        child<QSpinBox>(setup, "processesSpin")->setValue(2);
        QSignalSpy finished(window.jobs(), &RunJobController::finished);
        QTest::mouseClick(child<QPushButton>(setup, "launchButton"), Qt::LeftButton);
        QVERIFY(window.jobs()->isRunning());
        QVERIFY2(finished.wait(180000), qPrintable(window.logText()));
        QCOMPARE(finished.first().at(1).toString(), QStringLiteral("completed"));
        QVERIFY2(window.logText().contains("starting 1 more process(es)"), qPrintable(window.logText()));
        // The throughput chart has the run's line and one per rank, with every step.
        QTRY_COMPARE_WITH_TIMEOUT(window.monitorView()->pointCount("throughput"), 3 * 20, 5000);
        auto store = Workspace::openReadOnly(mRoot / "ws-ranks");
        const std::string runId = finished.first().at(0).toString().toStdString();
        QCOMPARE(store.runs().metrics(runId, "tokens_per_second_rank1").size(), size_t{20});
        bool twoProcesses = false;
        for (const auto &e : store.results().evaluations(runId, "environment"))
            twoProcesses = nlohmann::json::parse(e.resultJson).value("processes", 0) == 2;
        QVERIFY(twoProcesses);
    }

    void playgroundStreamsBothModelsAndSetupShowsTheRenderedPrompt()
    {
        // Two models answer one prompt through their prompt formats, in workers; the greedy text is
        // what plad generate prints for the same prompt.
        MainWindow window;
        window.setConfirmClose(false);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        PlaygroundView *playground = window.playground();
        child<QTabWidget>(&window, "areas")->setCurrentWidget(playground);
        playground->setModel(0, str(mRoot / "teacher" / "model"));
        playground->setModel(1, str(mRoot / "student" / "model"));
        playground->setPrompt("reverse: alpha beta gamma");
        playground->setMaxNewTokens(8);
        QSignalSpy done(playground, &PlaygroundView::finished);
        playground->generate();
        QVERIFY(playground->isRunning());
        QVERIFY2(done.wait(60000), qPrintable(window.logText()));
        for (int side = 0; side < 2; ++side) {
            const auto dir = mRoot / (side == 0 ? "teacher" : "student") / "model";
            QProcess cli;
            cli.start(QStringLiteral(PLAD_CLI_PATH), {"generate", str(dir), "--prompt", "reverse: alpha beta gamma", "--max-new-tokens", "8"});
            QVERIFY(cli.waitForFinished(60000));
            const auto expected = nlohmann::json::parse(cli.readAllStandardOutput().toStdString());
            QCOMPARE(playground->output(side).toStdString(), expected["text"].get<std::string>());
            QCOMPARE(playground->renderedPrompt(side).toStdString(), expected["prompt"].get<std::string>());
            if (!playground->output(side).isEmpty()) { // tokens are tinted by their log-probs, which hovering shows
                QVERIFY(playground->outputView(side)->toHtml().contains("background-color:#"));
                QTextBrowser *view = playground->outputView(side);
                const QRect first = view->cursorRect(QTextCursor(view->document()));
                const QString info = playground->tokenInfoAt(side, first.center() + QPoint(2, 0));
                QVERIFY2(info.contains("log p = -") || info.contains("log p = 0.000"),
                         qPrintable(QStringLiteral("%1 at %2,%3 of [%4]").arg(info).arg(first.center().x()).arg(first.center().y()).arg(playground->output(side))));
                QVERIFY(playground->tokenInfoAt(side, QPoint(view->viewport()->width() - 2, view->viewport()->height() - 2)).isEmpty());
            }
        }
        // Stop ends a long generation early.
        playground->setMaxNewTokens(4000);
        playground->generate();
        playground->stop();
        QVERIFY(done.wait(60000));

        // Setup shows the first training prompt as the student is given it.
        SetupView *setup = window.setupView();
        fillSetup(setup, 10);
        Q_EMIT child<QLineEdit>(setup, "dataEdit")->editingFinished(); // as when the user leaves the field
        auto *rendered = child<QTextBrowser>(setup, "renderedPrompt");
        QTRY_VERIFY_WITH_TIMEOUT(rendered->toPlainText().contains("reverse:"), 20000);
        QVERIFY2(rendered->toPlainText().contains("text format"), qPrintable(rendered->toPlainText()));
    }

    void setupSavesAndLoadsTheRunConfig()
    {
        // What Setup saves is the document `plad run` reads, and loading it gives the same form.
        SetupView setup;
        fillSetup(&setup, 77);
        QSignalSpy done(&setup, &SetupView::configFileDone);
        setup.saveFile(str(mRoot / "form.json"));
        QVERIFY(done.wait(10000));
        QCOMPARE(done.first().at(1).toString(), QString());
        std::ifstream in(mRoot / "form.json");
        const auto saved = nlohmann::json::parse(in);
        QCOMPARE(saved["train"]["max_steps"].get<int>(), 77);
        QCOMPARE(saved["data"]["fields"]["response"].get<std::string>(), std::string("reference"));
        // Only what was set is written; the rest is the schema's default, as `plad run` fills it in.
        QVERIFY(!saved.contains("eval") || !saved["eval"].contains("every"));
        QCOMPARE(effectiveRunConfig(saved, mRoot)["teacher"]["type"].get<std::string>(), std::string("local"));
        SetupView other;
        QSignalSpy loaded(&other, &SetupView::configFileDone);
        other.loadFile(str(mRoot / "form.json"));
        QVERIFY(loaded.wait(10000));
        QCOMPARE(other.document(), saved);
        // The teacher's prompt format is set in Setup too, and reaches the teacher's config.
        auto *teacherChat = child<QLineEdit>(&other, "teacherChatTemplateEdit");
        QVERIFY(teacherChat->toolTip().contains("chatml"));
        teacherChat->setText("chatml");
        QCOMPARE(other.document()["teacher"]["template"], nlohmann::json({{"chat_template", "chatml"}}));
        QCOMPARE(effectiveRunConfig(other.document(), mRoot)["teacher"]["template"]["chat_template"].get<std::string>(), std::string("chatml"));
        teacherChat->clear();
        QVERIFY(!other.document()["teacher"].contains("template") || other.document()["teacher"]["template"].value("chat_template", "").empty());
        // A broken file is reported, and the form keeps what it had.
        test::writeBytes(mRoot / "broken.json", "{\"train\": ");
        loaded.clear();
        other.loadFile(str(mRoot / "broken.json"));
        QVERIFY(loaded.wait(10000));
        QVERIFY(!loaded.first().at(1).toString().isEmpty());
        QCOMPARE(other.document(), saved);
    }

    void setupRoundTripKeepsTheEffectiveConfig_data()
    {
        QTest::addColumn<QString>("file");
        for (const auto &entry : fs::directory_iterator(fs::path(PLAD_SOURCE_DIR) / "docs" / "examples"))
            if (entry.path().extension() == ".json")
                QTest::newRow(entry.path().filename().string().c_str()) << str(entry.path());
        const fs::path minimal = mRoot / "minimal-config.json";
        test::writeBytes(minimal, R"({"student": {"model": "s"}, "teacher": {"model": "t"}, "data": {"file": "d.jsonl"}})");
        QTest::newRow("minimal") << str(minimal);
    }
    void setupRoundTripKeepsTheEffectiveConfig()
    {
        // Load -> save without edits: the same document, so `plad run` stores the same effective
        // config byte for byte; and the form launches exactly that config too.
        QFETCH(QString, file);
        const fs::path folder = mRoot / "roundtrip";
        fs::create_directories(folder);
        const fs::path copy = folder / fs::path(file.toStdString()).filename();
        fs::copy_file(file.toStdString(), copy, fs::copy_options::overwrite_existing);
        const auto original = nlohmann::json::parse(std::ifstream(copy));
        const std::string expected = effectiveRunConfig(original, folder).dump(2);

        SetupView setup;
        QSignalSpy done(&setup, &SetupView::configFileDone);
        setup.loadFile(str(copy));
        QVERIFY(done.wait(10000));
        QCOMPARE(done.takeFirst().at(1).toString(), QString());
        QCOMPARE(effectiveRunConfig(setup.document(), setup.baseDirectory().toStdString()).dump(2), expected);

        const fs::path saved = folder / ("saved-" + copy.filename().string());
        setup.saveFile(str(saved));
        QVERIFY(done.wait(10000));
        QCOMPARE(done.takeFirst().at(1).toString(), QString());
        auto written = nlohmann::json::parse(std::ifstream(saved));
        QCOMPARE(effectiveRunConfig(written, folder).dump(2), expected);
        // Nothing but the format version was added, nothing the file had was changed.
        written.erase("version");
        auto unversioned = original;
        unversioned.erase("version");
        QCOMPARE(written.dump(), unversioned.dump());

        // Saved into another folder, relative paths become absolute and still mean the same files.
        fs::create_directories(mRoot / "elsewhere");
        setup.saveFile(str(mRoot / "elsewhere" / copy.filename()));
        QVERIFY(done.wait(10000));
        const auto moved = nlohmann::json::parse(std::ifstream(mRoot / "elsewhere" / copy.filename()));
        QCOMPARE(effectiveRunConfig(moved, mRoot / "elsewhere").dump(2), expected);
    }

    void setupEditorsFollowTheSchema()
    {
        SetupView setup;
        auto *lr = child<QDoubleSpinBox>(&setup, "learningRateSpin");
        // Defaults and tooltips are the schema's: an empty form shows what `plad run` would use.
        QCOMPARE(lr->value(), runConfigSchema().find("train.learning_rate")->defaultValue.get<double>());
        QCOMPARE(child<QSpinBox>(&setup, "batchSpin")->value(), runConfigSchema().find("train.batch_size")->defaultValue.get<int>());
        QVERIFY(lr->toolTip().contains("peak learning rate"));
        QVERIFY(child<QSpinBox>(&setup, "stepsSpin")->toolTip().contains("train.max_steps"));
        QCOMPARE(child<QComboBox>(&setup, "methodCombo")->count(), int(std::size(distillMethodNames)));
        // A learning rate of any size survives the spin box.
        lr->setValue(5e-7);
        QCOMPARE(setup.document()["train"]["learning_rate"].get<double>(), 5e-7);
        lr->setValue(3.25e-12);
        QCOMPARE(setup.document()["train"]["learning_rate"].get<double>(), 3.25e-12);
        QCOMPARE(lr->textFromValue(5e-7), QStringLiteral("5e-07"));
        // A field nobody touched is not written.
        QVERIFY(!setup.document().contains("train") || !setup.document()["train"].contains("batch_size"));
    }

    void demoStudyRunsFromTheWorkbench()
    {
        // The whole demo study (PLaD, SeqKD, DPO, each evaluated), on the shipped demo models
        // with a tiny budget, started from the window as Run > Run the demo study does.
        MainWindow window;
        window.setConfirmClose(false);
        window.setDemoDirectory(str(fs::path(PLAD_SOURCE_DIR) / "resources" / "demo"));
        window.openWorkspace(str(mRoot / "ws-study"));
        QSignalSpy created(window.jobs(), &RunJobController::runCreated);
        QSignalSpy finished(window.jobs(), &RunJobController::finished);
        QVERIFY(window.runDemoStudy(8, 2, 6, 4));
        QVERIFY2(finished.wait(300000), qPrintable(window.logText()));
        QCOMPARE(finished.first().at(1).toString(), QStringLiteral("completed"));
        QVERIFY2(finished.first().at(2).toString().contains("win rate vs the initial student"), qPrintable(finished.first().at(2).toString()));
        QCOMPARE(created.count(), 3);
        auto ws = Workspace::openReadOnly(mRoot / "ws-study");
        const auto runs = ws.runs().list();
        QCOMPARE(runs.size(), size_t(3));
        for (const auto &r : runs) {
            QCOMPARE(toString(r.status), std::string("completed"));
            const auto evaluations = ws.results().evaluations(r.id, "generation");
            QCOMPARE(evaluations.size(), size_t(1));
            QCOMPARE(nlohmann::json::parse(evaluations[0].resultJson)["prompts"].get<int>(), 6);
        }
        // The first run's pairs open with the pair-quality readout of every policy above them.
        auto *pairs = window.findChild<PairInspector *>();
        QVERIFY(pairs);
        QSignalSpy loaded(pairs, &PairInspector::loaded);
        pairs->showRun(str(mRoot / "ws-study"), QStringLiteral("r0001-plad"));
        QVERIFY(loaded.wait(30000));
        const QString quality = pairs->findChild<QLabel *>(QStringLiteral("pairQuality"))->text();
        QVERIFY2(quality.contains(QStringLiteral("4 held-out prompts")) && quality.contains(QStringLiteral("teacher-preferred"))
                     && quality.contains(QStringLiteral("consensus")) && quality.contains(QStringLiteral("uses references")),
                 qPrintable(quality));
    }

    void droppingFilesFillsSetup()
    {
        // Models, data and configs dropped over any area go to Setup: first model the student, then the teacher.
        MainWindow window;
        window.setConfirmClose(false);
        window.openWorkspace(str(mRoot / "ws"));
        window.tabs()->setCurrentIndex(MainWindow::RunsTab);
        auto drop = [&](const fs::path &path) {
            QMimeData data;
            data.setUrls({QUrl::fromLocalFile(str(path))});
            QDropEvent event(QPointF(10, 10), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
            // As a real drag does: enter, then drop.
            QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
            QCoreApplication::sendEvent(window.tabs(), &enter);
            QVERIFY(enter.isAccepted());
            QCoreApplication::sendEvent(window.tabs(), &event);
            QVERIFY(event.isAccepted());
        };
        drop(mRoot / "student" / "model");
        drop(mRoot / "teacher" / "model");
        drop(mRoot / "rev.jsonl");
        SetupView *setup = window.setupView();
        QCOMPARE(window.tabs()->currentIndex(), int(MainWindow::SetupTab));
        QCOMPARE(setup->studentEdit()->text(), str(mRoot / "student" / "model"));
        QCOMPARE(setup->teacherEdit()->text(), str(mRoot / "teacher" / "model"));
        QCOMPARE(setup->dataEdit()->text(), str(mRoot / "rev.jsonl"));
    }

    void annotatingAPairReachesTheDatabase()
    {
        MainWindow window;
        window.setConfirmClose(false);
        window.openWorkspace(str(mRoot / "ws"));
        const std::string runId = runs().front().id;
        QSignalSpy loaded(window.pairInspector(), &PairInspector::loaded);
        window.openRun(QString::fromStdString(runId), "plad");
        QVERIFY(loaded.wait(30000));
        PairInspector *pairs = window.pairInspector();
        QVERIFY(loaded.first().first().toInt() > 0);
        // j moves down one pair; d discards it.
        window.tabs()->setCurrentWidget(pairs);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        pairs->table()->setFocus();
        const int64_t first = pairs->currentPairId();
        QTest::keyClick(pairs->table(), Qt::Key_J);
        const int64_t second = pairs->currentPairId();
        QVERIFY(second != first && second > 0);
        QSignalSpy annotated(pairs, &PairInspector::annotated);
        QTest::keyClick(pairs->table(), Qt::Key_D);
        QVERIFY(annotated.wait(10000));
        const auto pair = Workspace::openReadOnly(mRoot / "ws").pairs().requirePair(runId, second);
        QVERIFY(pair.annotation.has_value());
        QVERIFY(pair.annotation->action == AnnotationAction::Discard);
        // The "Annotated" quick filter finds exactly it.
        QSignalSpy listed(pairs, &PairInspector::loaded);
        pairs->setFilter(PairQuery::Filter::Annotated);
        QVERIFY(listed.wait(10000));
        QCOMPARE(pairs->model()->rowCount(), 1);
        QCOMPARE(pairs->model()->pairIdAt(0), second);
        pairs->setFilter(PairQuery::Filter::All);
        QVERIFY(listed.wait(10000));
    }

    void stoppingARunningJobReturnsQuicklyAndKeepsItResumable()
    {
        MainWindow window;
        window.setConfirmClose(false);
        window.openWorkspace(str(mRoot / "ws"));
        fillSetup(window.setupView(), 100000);
        QSignalSpy finished(window.jobs(), &RunJobController::finished);
        QVERIFY(window.launch());
        QTRY_VERIFY2_WITH_TIMEOUT(window.monitorView()->pointCount("loss") > 0, qPrintable(window.logText()), 60000);
        QElapsedTimer clock;
        clock.start();
        window.stopJob();
        QVERIFY(finished.wait(10000));
        qInfo("stop returned control in %lld ms", static_cast<long long>(clock.elapsed()));
        QVERIFY2(clock.elapsed() < 1000, qPrintable(QStringLiteral("%1 ms").arg(clock.elapsed())));
        QCOMPARE(finished.first().at(1).toString(), QStringLiteral("cancelled"));
        const auto run = Workspace::openReadOnly(mRoot / "ws").runs().requireRun(finished.first().at(0).toString().toStdString());
        QCOMPARE(toString(run.status), std::string("cancelled"));
        QVERIFY(!window.jobs()->isRunning());
    }

    void runsCompareConfigsAndReportExports()
    {
        MainWindow window;
        window.setConfirmClose(false);
        window.openWorkspace(str(mRoot / "ws"));
        RunsView *view = window.runsView();
        QSignalSpy refreshed(view, &RunsView::refreshed);
        view->refresh();
        QVERIFY(refreshed.wait(10000));
        QCOMPARE(view->runs().size(), size_t(2));
        QSignalSpy compared(view, &RunsView::compared);
        view->compare({QString::fromStdString(view->runs()[0].record.id), QString::fromStdString(view->runs()[1].record.id)});
        QVERIFY(compared.wait(10000));
        // Only the fields that differ: the step budget does, the method does not.
        bool steps = false;
        for (const auto &row : view->configDifferences()) {
            QVERIFY2(row.first() != "method", "an equal field is listed");
            if (row.first() == "train.max_steps") {
                steps = true;
                QCOMPARE(row.mid(1), (QStringList{"100000", "30"}));
            }
        }
        QVERIFY(steps);

        // The finished run's report: the preview, then HTML, TRL pairs and PDF written to disk.
        const QString finished = QString::fromStdString(view->runs()[1].record.id);
        ReportView *report = window.reportView();
        QSignalSpy ready(report, &ReportView::previewReady);
        report->showRun(str(mRoot / "ws"), finished);
        QVERIFY(ready.wait(30000));
        QVERIFY(report->preview()->toPlainText().contains("Pair gallery"));
        QSignalSpy exported(report, &ReportView::exported);
        report->exportTo("html", str(mRoot / "report.html"));
        QVERIFY(exported.wait(30000));
        report->exportTo("pairs", str(mRoot / "pairs.jsonl"));
        QVERIFY(exported.wait(30000));
        report->exportTo("pdf", str(mRoot / "report.pdf"));
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 3, 30000);
        QVERIFY(fs::file_size(mRoot / "report.html") > 1000);
        std::ifstream pairs(mRoot / "pairs.jsonl");
        std::string line;
        QVERIFY(static_cast<bool>(std::getline(pairs, line)));
        const auto doc = nlohmann::json::parse(line);
        QVERIFY(doc.contains("prompt") && doc.contains("chosen") && doc.contains("rejected"));
        std::ifstream pdf(mRoot / "report.pdf", std::ios::binary);
        std::string magic(5, '\0');
        pdf.read(magic.data(), 5);
        QCOMPARE(magic, std::string("%PDF-"));
    }

    void closingDuringAJobStopsItAndKeepsTheRun()
    {
        auto *window = new MainWindow;
        window->setConfirmClose(false);
        window->openWorkspace(str(mRoot / "ws"));
        fillSetup(window->setupView(), 100000);
        QVERIFY(window->launch());
        QTRY_VERIFY_WITH_TIMEOUT(window->monitorView()->pointCount("loss") > 0, 60000);
        QVERIFY(window->close());
        delete window;
        const auto all = runs();
        QCOMPARE(toString(all.front().status), std::string("cancelled"));
        QCOMPARE(Workspace::openReadOnly(mRoot / "ws").integrityCheck(), std::string("ok"));
    }
};

QTEST_MAIN(TestWorkbench)
#include "tst_workbench.moc"
