// The workbench's second pass, through its real widgets (offscreen): edits that must not lose
// data (Rename and Tags start from the run's values, annotations undo and redo, a weight is not
// replaced by one key unasked, closing with unsaved Setup edits asks), the data preview under
// data.format, the Evaluate area (a worker that stores its result, and cancels without storing),
// and the pair inspector paging through a run with many pairs.
#include "evaluate/evaluateview.h"
#include "mainwindow/mainwindow.h"
#include "pairs/pairinspector.h"
#include "runs/runsview.h"
#include "setup/setupview.h"
#include "store/workspace.h"
#include "clirunner.h"
#include "manypairs.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QElapsedTimer>
#include <QInputDialog>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollBar>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QUndoStack>
#include <QtTest>

#include <filesystem>

#include <nlohmann/json.hpp>

using namespace plad;
using namespace plad::ui;
using plad::test::child;
using plad::test::str;
namespace fs = std::filesystem;

namespace {

/** Clicks `button` of the next modal message box named `name` once it is shown. */
void answerNextQuestion(const QString &name, QMessageBox::StandardButton button, bool *seen)
{
    QTimer::singleShot(0, [=] {
        QTRY_VERIFY_WITH_TIMEOUT(QApplication::activeModalWidget() != nullptr, 5000);
        auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget());
        QVERIFY(box);
        *seen = box->objectName() == name;
        box->button(button)->click();
    });
}

} // namespace

class TestWorkbenchEdits : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    fs::path mRoot, mWs;
    std::string mRun; ///< a completed PLaD run of the tiny task in mWs

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(mTmp.isValid());
        mRoot = fs::path(mTmp.path().toStdString());
        QCoreApplication::setOrganizationName(QStringLiteral("PLaD-tests"));
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, mTmp.path());
        test::buildTinyTask(mRoot);
        mWs = mRoot / "ws";
        const auto config = test::writeTinyRunConfig(mRoot, "run.json", nullptr);
        const auto r = test::runPlad({"run", str(config), "--workspace", str(mWs), "--quiet"}, 300000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        mRun = Workspace::openReadOnly(mWs).runs().list().front().id;
    }

    void renameAndTagsDialogsStartFromTheRunsValues()
    {
        {
            auto store = Workspace::open(mWs, false);
            store.runs().rename(mRun, "baseline");
            store.runs().setTags(mRun, {"keep", "cpu"});
        }
        RunsView runs;
        QSignalSpy refreshed(&runs, &RunsView::refreshed);
        runs.setWorkspace(str(mWs));
        QVERIFY(refreshed.wait(10000));
        QVERIFY(runs.selectRun(QString::fromStdString(mRun)));

        runs.editTags();
        auto *tags = child<QInputDialog>(&runs, "tagsDialog");
        QCOMPARE(tags->textValue(), QStringLiteral("keep, cpu"));
        tags->setTextValue(tags->textValue() + QStringLiteral(", sweep-3, keep"));
        tags->accept();
        QVERIFY(refreshed.wait(10000));
        QCOMPARE(Workspace::openReadOnly(mWs).runs().requireRun(mRun).tags, (std::vector<std::string>{"keep", "cpu", "sweep-3"}));

        QVERIFY(runs.selectRun(QString::fromStdString(mRun)));
        runs.rename();
        auto *name = child<QInputDialog>(&runs, "renameDialog");
        QCOMPARE(name->textValue(), QStringLiteral("baseline"));
        name->accept(); // unchanged: nothing is written
        QTest::qWait(200);
        QCOMPARE(Workspace::openReadOnly(mWs).runs().requireRun(mRun).name, std::string("baseline"));
        QVERIFY(runs.selectRun(QString::fromStdString(mRun)));
        runs.rename();
        name = child<QInputDialog>(&runs, "renameDialog");
        name->setTextValue(QStringLiteral("baseline, lr 1e-3"));
        name->accept();
        QVERIFY(refreshed.wait(10000));
        QCOMPARE(Workspace::openReadOnly(mWs).runs().requireRun(mRun).name, std::string("baseline, lr 1e-3"));
        QCOMPARE(Workspace::openReadOnly(mWs).runs().requireRun(mRun).tags.size(), size_t(3)); // renaming kept the tags
    }

    void annotationsUndoRedoAndAskBeforeReplacingAWeight()
    {
        PairInspector pairs;
        pairs.resize(1000, 700);
        pairs.show();
        QVERIFY(QTest::qWaitForWindowExposed(&pairs));
        QSignalSpy loaded(&pairs, &PairInspector::loaded);
        pairs.showRun(str(mWs), QString::fromStdString(mRun));
        QVERIFY(loaded.wait(20000));
        QVERIFY(loaded.first().first().toInt() > 4);
        const int64_t id = pairs.currentPairId();
        QVERIFY(id > 0);
        auto stored = [&] { return Workspace::openReadOnly(mWs).pairs().requirePair(mRun, id).annotation; };
        QSignalSpy annotated(&pairs, &PairInspector::annotated);

        // A note, then F: the pair is flipped and keeps its note.
        pairs.annotateCurrent(AnnotationAction::Note, 1.0, "check the second sentence");
        QVERIFY(annotated.wait(10000));
        pairs.table()->setFocus();
        QTest::keyClick(pairs.table(), Qt::Key_F);
        QVERIFY(annotated.wait(10000));
        QVERIFY(stored() && stored()->action == AnnotationAction::Flip);
        QCOMPARE(stored()->note, std::string("check the second sentence"));
        // Changed after training last read the annotations (the run finished before): pending.
        QVERIFY(pairs.model()->isPending(id));
        const QString cell = pairs.model()->data(pairs.model()->index(pairs.model()->rowOf(id), PairTableModel::Annotation), Qt::DisplayRole).toString();
        QVERIFY2(cell.contains("pending"), qPrintable(cell));

        // Ctrl+Z restores the note, Ctrl+Shift+Z the flip.
        QTest::keyClick(pairs.table(), Qt::Key_Z, Qt::ControlModifier);
        QVERIFY(annotated.wait(10000));
        QVERIFY(stored() && stored()->action == AnnotationAction::Note);
        QCOMPARE(stored()->note, std::string("check the second sentence"));
        QTest::keyClick(pairs.table(), Qt::Key_Z, Qt::ControlModifier | Qt::ShiftModifier);
        QVERIFY(annotated.wait(10000));
        QVERIFY(stored() && stored()->action == AnnotationAction::Flip);

        // A weight is not replaced by D without a question; cancelled, it stays.
        pairs.annotateCurrent(AnnotationAction::Weight, 2.5);
        QVERIFY(annotated.wait(10000));
        QTest::keyClick(pairs.table(), Qt::Key_D);
        auto *question = child<QMessageBox>(&pairs, "replaceAnnotationQuestion");
        question->button(QMessageBox::Cancel)->click();
        QTest::qWait(300);
        QVERIFY(stored()->action == AnnotationAction::Weight);
        QCOMPARE(stored()->weight, 2.5);
        pairs.annotateCurrent(AnnotationAction::Discard); // what the D key does
        QTRY_VERIFY(pairs.findChild<QMessageBox *>(QStringLiteral("replaceAnnotationQuestion")));
        pairs.findChild<QMessageBox *>(QStringLiteral("replaceAnnotationQuestion"))->button(QMessageBox::Yes)->click();
        QVERIFY(annotated.wait(10000));
        QVERIFY(stored()->action == AnnotationAction::Discard);
        // Undo brings the weight back; undoing everything clears the pair again.
        pairs.undoStack()->undo();
        QVERIFY(annotated.wait(10000));
        QVERIFY(stored()->action == AnnotationAction::Weight);
        QCOMPARE(stored()->weight, 2.5);
        while (pairs.undoStack()->canUndo()) {
            pairs.undoStack()->undo();
            QVERIFY(annotated.wait(10000));
        }
        QVERIFY(!stored());

        // Once training reads the annotations again, nothing is pending.
        pairs.annotateCurrent(AnnotationAction::Discard);
        QVERIFY(annotated.wait(10000));
        QVERIFY(pairs.model()->isPending(id));
        pairs.model()->setAnnotationsReadAt(QDateTime::currentDateTimeUtc().addSecs(1).toString(Qt::ISODateWithMs));
        QVERIFY(!pairs.model()->isPending(id));
        pairs.undoStack()->undo();
        QVERIFY(annotated.wait(10000));
    }

    void closingWithUnsavedSetupEditsAsks()
    {
        MainWindow window;
        window.openWorkspace(str(mRoot / "ws-close"));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        SetupView *setup = window.setupView();
        QVERIFY(!setup->isModified());
        window.close(); // nothing edited: no question
        QVERIFY(!window.isVisible());
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        child<QSpinBox>(setup, "stepsSpin")->setValue(77);
        QVERIFY(setup->isModified());
        bool asked = false;
        answerNextQuestion(QStringLiteral("unsavedSetupQuestion"), QMessageBox::Cancel, &asked);
        QVERIFY(!window.close());
        QVERIFY(asked);
        QVERIFY(window.isVisible());
        QCOMPARE(child<QSpinBox>(setup, "stepsSpin")->value(), 77); // the edit is still there
        // Saved, the edits are no longer unsaved.
        QSignalSpy saved(setup, &SetupView::configFileDone);
        setup->saveFile(str(mRoot / "edited.json"));
        QVERIFY(saved.wait(10000));
        QVERIFY(!setup->isModified());
        QCOMPARE(nlohmann::json::parse(test::readText(mRoot / "edited.json"))["train"]["max_steps"].get<int>(), 77);
        child<QSpinBox>(setup, "stepsSpin")->setValue(78);
        asked = false;
        answerNextQuestion(QStringLiteral("unsavedSetupQuestion"), QMessageBox::Discard, &asked);
        QVERIFY(window.close());
        QVERIFY(asked);
        // Loading the demo over unsaved edits asks too.
        window.show();
        window.setDemoDirectory(str(fs::path(PLAD_SOURCE_DIR) / "resources" / "demo"));
        child<QSpinBox>(setup, "stepsSpin")->setValue(79);
        asked = false;
        answerNextQuestion(QStringLiteral("unsavedSetupQuestion"), QMessageBox::Cancel, &asked);
        window.loadDemo();
        QVERIFY(asked);
        QCOMPARE(child<QSpinBox>(setup, "stepsSpin")->value(), 79);
        window.setConfirmClose(false);
    }

    void helpAboutShortcutsAndTheFirstScreen()
    {
        MainWindow window;
        window.setConfirmClose(false);
        window.setRuntimeDescription(QStringLiteral("Torch 1.13.1, OpenBLAS 0.3.21 (/usr/lib/libopenblas.so.0), 2 threads"));
        QSignalSpy refreshed(window.runsView(), &RunsView::refreshed);
        window.openWorkspace(str(mRoot / "ws-new"));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QTRY_VERIFY_WITH_TIMEOUT(refreshed.count() > 0, 10000);
        // An empty workspace: the first screen says what to do next and offers the demo.
        auto *welcome = window.findChild<QWidget *>(QStringLiteral("welcome"));
        QVERIFY(welcome && !welcome->isHidden());
        QVERIFY2(child<QLabel>(welcome, "welcomeState")->text().contains("no runs yet"), qPrintable(child<QLabel>(welcome, "welcomeState")->text()));
        QVERIFY(child<QPushButton>(welcome, "welcomeLoadDemo")->isVisible());
        // A workspace with runs: the panel steps aside and the recent workspaces are offered.
        refreshed.clear();
        window.openWorkspace(str(mWs));
        QTRY_VERIFY_WITH_TIMEOUT(refreshed.count() > 0 && welcome->isHidden(), 10000);
        // In the window, Ctrl+Z in Pairs undoes the last annotation (one action owns the key).
        {
            PairInspector *pairs = window.pairInspector();
            QSignalSpy loaded(pairs, &PairInspector::loaded);
            window.openRun(QString::fromStdString(mRun), QStringLiteral("plad"));
            QVERIFY(loaded.wait(20000));
            window.tabs()->setCurrentWidget(pairs);
            pairs->table()->setFocus();
            const int64_t id = pairs->currentPairId();
            QSignalSpy annotated(pairs, &PairInspector::annotated);
            QTest::keyClick(pairs->table(), Qt::Key_D);
            QVERIFY(annotated.wait(10000));
            QVERIFY(Workspace::openReadOnly(mWs).pairs().requirePair(mRun, id).annotation.has_value());
            QTest::keyClick(pairs->table(), Qt::Key_Z, Qt::ControlModifier);
            QVERIFY(annotated.wait(10000));
            QVERIFY(!Workspace::openReadOnly(mWs).pairs().requirePair(mRun, id).annotation.has_value());
        }
        refreshed.clear();
        window.openWorkspace(str(mRoot / "ws-new"));
        QTRY_VERIFY_WITH_TIMEOUT(refreshed.count() > 0 && !welcome->isHidden(), 10000);
        QVERIFY2(child<QLabel>(welcome, "welcomeRecent")->text().contains(str(mWs)), qPrintable(child<QLabel>(welcome, "welcomeRecent")->text()));

        // About names Qt, Torch, the BLAS and the threads.
        const QString about = window.aboutText();
        QVERIFY(about.contains(QString::fromLatin1(qVersion())));
        QVERIFY(about.contains("OpenBLAS 0.3.21") && about.contains("2 threads"));
        window.showAbout();
        QVERIFY(window.findChild<QMessageBox *>(QStringLiteral("aboutDialog")));
        // The quick tour is the README's: every area is in it, and the README points to the same file.
        const QString tour = MainWindow::quickTour();
        for (const char *area : {"Setup", "Pairs", "Monitor", "Runs", "Evaluate", "Report", "Playground"})
            QVERIFY2(tour.contains(QStringLiteral("**%1**").arg(QLatin1String(area))), area);
        QVERIFY(test::readText(fs::path(PLAD_SOURCE_DIR) / "README.md").find("resources/help/quick-tour.md") != std::string::npos);
        QCOMPARE(tour.toStdString(), test::readText(fs::path(PLAD_SOURCE_DIR) / "resources" / "help" / "quick-tour.md"));
        // Shortcuts lists the menus' keys and the inspector's.
        QStringList keys;
        for (const auto &[k, what] : window.shortcuts())
            keys << k + QStringLiteral(" = ") + what;
        for (const char *expected : {"Ctrl+Z = Pairs: undo the last annotation change", "Ctrl+D = Load the demo", "Ctrl+R = Launch", "F = Pairs: flip the pair"})
            QVERIFY2(keys.contains(QString::fromLatin1(expected)), qPrintable(keys.join('\n')));
    }

    void everySetupFieldHasATooltipAndTheFormulaFollows()
    {
        SetupView setup;
        QStringList missing;
        for (QWidget *w : setup.findChildren<QWidget *>()) {
            const bool editor = qobject_cast<QLineEdit *>(w) || qobject_cast<QAbstractSpinBox *>(w) || qobject_cast<QComboBox *>(w)
                                || qobject_cast<QCheckBox *>(w);
            // The line edits inside spin boxes and combo boxes belong to their owner.
            const bool inner = w->parentWidget() && (qobject_cast<QAbstractSpinBox *>(w->parentWidget()) || qobject_cast<QComboBox *>(w->parentWidget()));
            if (editor && !inner && w->toolTip().isEmpty())
                missing << (w->objectName().isEmpty() ? QString::fromLatin1(w->metaObject()->className()) : w->objectName());
        }
        QVERIFY2(missing.isEmpty(), qPrintable(missing.join(", ")));
        QCOMPARE(child<QSpinBox>(&setup, "stepsSpin")->suffix(), QStringLiteral(" steps"));
        QVERIFY(child<QSpinBox>(&setup, "stepsSpin")->toolTip().contains("train.max_steps"));
        // The loss formula follows beta and lambda as they are edited.
        auto *formula = child<QLabel>(&setup, "lossFormula");
        child<QComboBox>(&setup, "methodCombo")->setCurrentText("plad");
        child<QDoubleSpinBox>(&setup, "lambdaSpin")->setValue(0.25);
        QVERIFY2(formula->text().contains("0.25"), qPrintable(formula->text()));
        child<QDoubleSpinBox>(&setup, "lambdaSpin")->setValue(0);
        QVERIFY2(!formula->text().contains("CE("), qPrintable(formula->text()));
    }

    void dataPreviewReadsTheConfiguredFormat()
    {
        // TL;DR records: no "prompt" field. Read as TL;DR, the preview shows the post as the prompt.
        test::writeBytes(mRoot / "tldr.jsonl", R"({"id": "t1", "subreddit": "cooking", "title": "Rice", "post": "My rice burns.", "summary": "Burnt rice."})"
                                               "\n");
        SetupView setup;
        auto *preview = child<QTableWidget>(&setup, "dataPreview");
        child<QLineEdit>(&setup, "dataEdit")->setText(str(mRoot / "tldr.jsonl"));
        auto *format = child<QComboBox>(&setup, "dataFormat");
        format->setCurrentIndex(format->findData(QStringLiteral("tldr")));
        QTRY_VERIFY_WITH_TIMEOUT(preview->rowCount() == 1 && preview->item(0, 1) && preview->item(0, 1)->text().contains("POST: My rice burns."), 10000);
        QCOMPARE(preview->item(0, 0)->text(), QStringLiteral("t1"));
        QCOMPARE(preview->item(0, 2)->text(), QStringLiteral("Burnt rice."));
        // Read as plain JSONL it is an error naming the missing field, as plad run would report.
        format->setCurrentIndex(format->findData(QStringLiteral("jsonl")));
        QTRY_VERIFY_WITH_TIMEOUT(preview->item(0, 0) && preview->item(0, 0)->text() == QStringLiteral("error"), 10000);
        QVERIFY2(preview->item(0, 1)->text().contains("prompt"), qPrintable(preview->item(0, 1)->text()));
    }

    void evaluateStoresItsResultAndCancelsWithoutStoring()
    {
        EvaluateView view;
        view.resize(1300, 800);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QSignalSpy runsLoaded(&view, &EvaluateView::runsLoaded);
        view.setWorkspace(str(mWs));
        QVERIFY(runsLoaded.wait(10000));
        auto storedCount = [&] { return Workspace::openReadOnly(mWs).results().evaluations(mRun, "generation").size(); };
        const size_t before = storedCount();

        EvaluationSettings s;
        s.workspace = str(mWs);
        // Named opponents and a model folder (the teacher's, by its path).
        s.models = {QString::fromStdString(mRun), QStringLiteral("initial"), QStringLiteral("teacher"), str(mRoot / "teacher" / "model")};
        s.dataFile = str(mRoot / "rev.jsonl");
        s.referenceField = QStringLiteral("reference");
        s.idField = QStringLiteral("id");
        s.limit = 10;
        s.maxNewTokens = 6;
        view.setSettings(s);
        QCOMPARE(view.settings().models, s.models);
        QSignalSpy finished(view.controller(), &EvaluationController::finished);
        QSignalSpy progress(view.controller(), &EvaluationController::progress);
        QVERIFY(view.start());
        QVERIFY(view.controller()->isRunning());
        QVERIFY(finished.wait(120000));
        QCOMPARE(finished.first().at(0).toString(), QStringLiteral("completed"));
        QCOMPARE(finished.first().at(3).toString(), QString::fromStdString(mRun));
        QVERIFY(progress.count() > 0);
        QCOMPARE(storedCount(), before + 1);
        const auto stored = nlohmann::json::parse(Workspace::openReadOnly(mWs).results().evaluations(mRun, "generation").back().resultJson);
        QCOMPARE(stored["per_prompt"].size(), size_t(10));
        QCOMPARE(stored["head_to_head"].size(), size_t(3));
        // The teacher by name and by folder is the same model: the same verdicts.
        QCOMPARE(stored["head_to_head"][1]["wins"], stored["head_to_head"][2]["wins"]);
        QCOMPARE(stored["head_to_head"][1]["losses"], stored["head_to_head"][2]["losses"]);

        // The view: win rates with intervals, every prompt, sortable and filterable.
        QTRY_VERIFY(view.summaryText().contains("win rate"));
        QVERIFY2(view.summaryText().contains("vs initial") && view.summaryText().contains("vs teacher"), qPrintable(view.summaryText()));
        QCOMPARE(view.listedIds().size(), 10);
        view.setSort(EvaluateView::Sort::LossesFirst);
        const auto rows = stored["per_prompt"];
        auto rowOf = [&](const QString &id) {
            for (const auto &r : rows)
                if (QString::fromStdString(r["id"].get<std::string>()) == id)
                    return r;
            return nlohmann::json();
        };
        int lastOutcome = -2;
        for (const auto &id : view.listedIds()) { // losses, then ties, then wins
            const int outcome = rowOf(id)["verdicts"][0]["outcome"].get<int>();
            QVERIFY(outcome >= lastOutcome);
            lastOutcome = outcome;
        }
        view.setSort(EvaluateView::Sort::LargestRougeDifference);
        double lastDifference = 2;
        for (const auto &id : view.listedIds()) {
            const auto r = rowOf(id);
            const double d = std::abs(r["outputs"][0]["rougeL_f"].get<double>() - r["outputs"][1]["rougeL_f"].get<double>());
            QVERIFY(d <= lastDifference + 1e-12);
            lastDifference = d;
        }
        const QString firstId = view.listedIds().first();
        QVERIFY2(view.detailText().contains(QString::fromStdString(rowOf(firstId)["reference"].get<std::string>())), qPrintable(view.detailText()));
        view.setFilterText(QString::fromStdString(rowOf(firstId)["prompt"].get<std::string>()));
        QCOMPARE(view.listedIds(), QStringList{firstId});
        view.setFilterText({});
        // An evaluation stored by an earlier version has no per-prompt rows: it says so, and lists none.
        view.showResult({{"prompts", 3}, {"head_to_head", {{{"a", "x"}, {"b", "y"}, {"win_rate", 0.5}, {"wins", 1}, {"losses", 1}, {"ties", 1}}}}});
        QVERIFY2(view.summaryText().contains("without its per-prompt results"), qPrintable(view.summaryText()));
        QVERIFY(view.listedIds().isEmpty());

        // Cancelled part way: reported as such, and nothing stored.
        finished.clear();
        s.limit = 0;        // every record
        s.maxNewTokens = 12;
        view.setSettings(s);
        QVERIFY(view.start());
        QVERIFY(progress.wait(60000));
        view.cancel();
        QVERIFY(finished.wait(60000));
        QCOMPARE(finished.first().at(0).toString(), QStringLiteral("cancelled"));
        QVERIFY(finished.first().at(3).toString().isEmpty());
        QCOMPARE(storedCount(), before + 1);
        QVERIFY(!view.controller()->isRunning());
    }

    void theInspectorPagesThroughManyPairs()
    {
        const fs::path ws = mRoot / "ws-many";
        const std::string run = test::fillManyPairs(ws, 20000);
        PairInspector pairs;
        pairs.resize(1000, 700);
        pairs.show();
        QVERIFY(QTest::qWaitForWindowExposed(&pairs));
        QSignalSpy loaded(&pairs, &PairInspector::loaded);
        pairs.showRun(str(ws), QString::fromStdString(run));
        QVERIFY(loaded.wait(30000));
        QCOMPARE(loaded.first().first().toInt(), 20000);
        QCOMPARE(pairs.model()->rowCount(), 20000);
        QVERIFY2(pairs.model()->pagesLoaded() <= 2, qPrintable(QString::number(pairs.model()->pagesLoaded()))); // not every row
        // Scrolling to the end reads the last page only.
        QSignalSpy page(pairs.model(), &PairTableModel::pageLoaded);
        pairs.table()->scrollToBottom();
        QVERIFY(page.wait(10000));
        QTRY_VERIFY(pairs.model()->summary(19999) != nullptr);
        QCOMPARE(pairs.model()->summary(19999)->pair.promptId, std::string("p20000"));
        QVERIFY(pairs.model()->pagesLoaded() <= 4);
        // Sorting by loss, highest first, is done by the store: the first row has the highest loss.
        loaded.clear();
        QSignalSpy listed(pairs.model(), &PairTableModel::idsLoaded);
        pairs.table()->sortByColumn(PairTableModel::Loss, Qt::DescendingOrder);
        QVERIFY(listed.wait(10000));
        QTRY_VERIFY_WITH_TIMEOUT(pairs.model()->summary(0) != nullptr, 10000);
        QCOMPARE(*pairs.model()->summary(0)->pair.currentLoss, 9.99);
        // Filters run in the store too: the held-out tenth, and a search.
        pairs.setFilter(PairQuery::Filter::HeldOut);
        QVERIFY(loaded.wait(10000));
        QCOMPARE(pairs.model()->rowCount(), 2000);
        pairs.setFilter(PairQuery::Filter::JudgeDisagreements);
        QVERIFY(loaded.wait(10000));
        QCOMPARE(pairs.model()->rowCount(), 20000 / 7);
        pairs.setFilter(PairQuery::Filter::All);
        QVERIFY(loaded.wait(10000));
        pairs.setSearch(QStringLiteral("STUDENT SAYS 1999"));
        QVERIFY(loaded.wait(10000));
        QCOMPARE(pairs.model()->rowCount(), 11); // 1999 and 19990..19999
        pairs.setSearch(QStringLiteral("100%"));
        QVERIFY(loaded.wait(10000));
        QCOMPARE(pairs.model()->rowCount(), 0); // % is a character, not a wildcard
    }
};

QTEST_MAIN(TestWorkbenchEdits)
#include "tst_workbenchedits.moc"
