#include "mainwindow/mainwindow.h"

#include "evaluate/evaluateview.h"
#include "jobs/runjobcontroller.h"
#include "mainwindow/welcomepanel.h"
#include "monitor/monitorview.h"
#include "pairs/pairinspector.h"
#include "playground/playgroundview.h"
#include "report/reportview.h"
#include "runs/runsview.h"
#include "setup/setupview.h"
#include "store/workspace.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFile>
#include <QHeaderView>
#include <QTableWidget>
#include <QTextBrowser>
#include <QUndoStack>
#include <QVBoxLayout>
#include <QDragEnterEvent>
#include <QMimeData>
#include <QDateTime>
#include <QCoreApplication>
#include <QDir>
#include <QDockWidget>
#include <QEventLoop>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QSettings>
#include <QStatusBar>
#include <QStyle>
#include <QStyleFactory>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>

namespace plad::ui {

namespace {

/** The plad command line that runs a distributed run's other ranks: $PLAD_CLI, else the one beside this program. */
QString pladProgram()
{
    const QString fromEnvironment = qEnvironmentVariable("PLAD_CLI");
    return fromEnvironment.isEmpty() ? QCoreApplication::applicationDirPath() + QStringLiteral("/plad") : fromEnvironment;
}

QString duration(double seconds)
{
    if (seconds < 0)
        return QObject::tr("unknown");
    if (seconds < 90)
        return QObject::tr("%1 s").arg(seconds, 0, 'f', 0);
    return QObject::tr("%1 min").arg(seconds / 60, 0, 'f', 1);
}

} // namespace

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent)
{
    setWindowTitle(tr("PLaD Workbench"));
    setObjectName(QStringLiteral("MainWindow"));
    resize(1360, 860);

    mJobs = new RunJobController(this);
    mTabs = new QTabWidget(this);
    mTabs->setObjectName(QStringLiteral("areas"));
    mSetup = new SetupView(mTabs);
    mPairs = new PairInspector(mTabs);
    mMonitor = new MonitorView(mTabs);
    mRuns = new RunsView(mTabs);
    mEvaluate = new EvaluateView(mTabs);
    mReport = new ReportView(mTabs);
    mPlayground = new PlaygroundView(mTabs);
    // Setup, with what to do first above it while the workspace has no runs.
    mSetupPage = new QWidget(mTabs);
    auto *setupLayout = new QVBoxLayout(mSetupPage);
    setupLayout->setContentsMargins(0, 0, 0, 0);
    mWelcome = new WelcomePanel(mSetupPage);
    setupLayout->addWidget(mWelcome);
    setupLayout->addWidget(mSetup, 1);
    mTabs->addTab(mSetupPage, tr("&Setup"));
    mTabs->addTab(mPairs, tr("&Pairs"));
    mTabs->addTab(mMonitor, tr("&Monitor"));
    mTabs->addTab(mRuns, tr("&Runs"));
    mTabs->addTab(mEvaluate, tr("&Evaluate"));
    mTabs->addTab(mReport, tr("Rep&ort"));
    mTabs->addTab(mPlayground, tr("Pla&yground"));
    setCentralWidget(mTabs);

    mLog = new QPlainTextEdit(this);
    mLog->setObjectName(QStringLiteral("log"));
    mLog->setReadOnly(true);
    mLog->setMaximumBlockCount(5000);
    auto *dock = new QDockWidget(tr("Log"), this);
    dock->setObjectName(QStringLiteral("logDock"));
    dock->setWidget(mLog);
    addDockWidget(Qt::BottomDockWidgetArea, dock);

    mStatusJob = new QLabel(tr("No job running"), this);
    mStatusJob->setObjectName(QStringLiteral("jobStatus"));
    mProgress = new QProgressBar(this);
    mProgress->setMaximumWidth(240);
    mProgress->setVisible(false);
    statusBar()->addPermanentWidget(mStatusJob);
    statusBar()->addPermanentWidget(mProgress);

    connect(mJobs, &RunJobController::runCreated, this, [this](const QString &workspace, const QString &runId) {
        appendLog(tr("run %1 started in %2").arg(runId, workspace));
        mMonitor->follow(workspace, runId, mRunningMethod);
        mRuns->refresh();
        updateActions();
    });
    connect(mJobs, &RunJobController::progress, this, &MainWindow::showProgress);
    connect(mJobs, &RunJobController::logLine, this, [this](const QString &line) { appendLog(line); });
    connect(mJobs, &RunJobController::finished, this, &MainWindow::jobFinished);
    connect(mSetup, &SetupView::launchRequested, this, &MainWindow::launch);
    connect(mRuns, &RunsView::openRun, this, &MainWindow::openRun);
    connect(mRuns, &RunsView::resumeRun, this, [this](const QString &runId) {
        QString error;
        for (const auto &r : mRuns->runs())
            if (QString::fromStdString(r.record.id) == runId)
                mRunningMethod = QString::fromStdString(r.record.method);
        mJobs->setProcesses(mSetup->processes(), pladProgram()); // any number resumes
        if (!mJobs->resume(mWorkspace, runId, &error))
            appendLog(error, true);
        updateActions();
    });
    connect(mRuns, &RunsView::refreshed, this, [this] {
        mWelcome->setWorkspace(mWorkspace, static_cast<int>(mRuns->runs().size()));
        mWelcome->setVisible(mRuns->runs().empty());
    });
    connect(mRuns, &RunsView::evaluateRun, this, [this](const QString &runId) {
        mEvaluate->setRun(runId);
        mTabs->setCurrentWidget(mEvaluate);
    });
    connect(mWelcome, &WelcomePanel::loadDemoRequested, this, &MainWindow::loadDemo);
    connect(mWelcome, &WelcomePanel::demoStudyRequested, this, [this] { runDemoStudy(); });
    connect(mWelcome, &WelcomePanel::openWorkspaceRequested, this, &MainWindow::chooseWorkspace);
    connect(mWelcome, &WelcomePanel::workspaceChosen, this, &MainWindow::openWorkspace);
    connect(mWelcome, &WelcomePanel::quickTourRequested, this, &MainWindow::showQuickTour);
    connect(mRuns, &RunsView::failed, this, [this](const QString &m) { appendLog(m, true); });
    connect(mPairs, &PairInspector::failed, this, [this](const QString &m) { appendLog(m, true); });
    connect(mPairs, &PairInspector::annotated, this, [this](qint64 id) {
        statusBar()->showMessage(tr("Annotation of pair %1 saved; training uses it from the next epoch.").arg(id), 4000);
    });
    connect(mReport, &ReportView::exported, this, [this](const QString &kind, const QString &path) { appendLog(tr("exported %1 to %2").arg(kind, path)); });
    connect(mReport, &ReportView::failed, this, [this](const QString &m) { appendLog(m, true); });
    connect(mEvaluate, &EvaluateView::failed, this, [this](const QString &m) { appendLog(m, true); });
    connect(mEvaluate->controller(), &EvaluationController::finished, this,
            [this](const QString &status, const QString &message, const QByteArray &, const QString &storedRunId) {
                appendLog(tr("evaluation %1: %2").arg(status, message), status == QLatin1String("failed"));
                if (!storedRunId.isEmpty()) {
                    mRuns->refresh();
                    if (mReport->runId() == storedRunId)
                        mReport->showRun(mWorkspace, storedRunId);
                }
            });
    connect(mPlayground, &PlaygroundView::failed, this, [this](const QString &m) { appendLog(m, true); });

    buildMenus();
    // Models, datasets and configs dropped over any area go to Setup (QMainWindow keeps its own
    // drops for docks and tool bars, so the tab widget takes them).
    mTabs->setAcceptDrops(true);
    mTabs->installEventFilter(this);
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    if (!restoreState(settings.value(QStringLiteral("window/state")).toByteArray()))
        QTimer::singleShot(0, this, [this, dock] { resizeDocks({dock}, {110}, Qt::Vertical); }); // the areas get the room

    applyTheme(settings.value(QStringLiteral("view/theme"), QStringLiteral("system")).toString());
    const QString last = settings.value(QStringLiteral("workspace/last")).toString();
    openWorkspace(last.isEmpty() ? QDir::current().absoluteFilePath(QStringLiteral("workspace")) : last);
    statusBar()->showMessage(tr("Ready"));
    updateActions();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus()
{
    auto *file = menuBar()->addMenu(tr("&File"));
    auto *open = file->addAction(tr("&Open workspace..."), this, &MainWindow::chooseWorkspace);
    open->setShortcut(QKeySequence::Open);
    auto *recent = file->addMenu(tr("Recent workspaces"));
    connect(recent, &QMenu::aboutToShow, this, [this, recent] {
        recent->clear();
        for (const auto &w : QSettings().value(QStringLiteral("workspace/recent")).toStringList())
            recent->addAction(w, this, [this, w] { openWorkspace(w); });
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    auto *edit = menuBar()->addMenu(tr("&Edit"));
    // The pair inspector's annotation history. Its keys (Ctrl+Z, Ctrl+Shift+Z) belong to Pairs,
    // so that they never undo an annotation while another area (and its text fields) has focus.
    auto *undo = mPairs->undoStack()->createUndoAction(this, tr("&Undo annotation"));
    auto *redo = mPairs->undoStack()->createRedoAction(this, tr("&Redo annotation"));
    edit->addAction(undo);
    edit->addAction(redo);

    auto *run = menuBar()->addMenu(tr("&Run"));
    auto *demo = run->addAction(tr("Load the &demo"), this, &MainWindow::loadDemo);
    demo->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_D));
    run->addAction(tr("Run the demo &study (annotation-free PLaD, PLaD as published, SeqKD; evaluated)"), this, [this] { runDemoStudy(); });
    run->addAction(tr("Run the &full demo study (adds PLaD with the reference judge and DPO)"), this,
                   [this] { runDemoStudy(1500, 240, 400, 64, true); });
    mLaunchAction = run->addAction(tr("&Launch"), this, &MainWindow::launch);
    mLaunchAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    mStopAction = run->addAction(tr("&Pause / stop (resumable)"), this, &MainWindow::stopJob);
    mStopAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
    mResumeAction = run->addAction(tr("Re&sume the stopped run"), this, [this] {
        QString error;
        mJobs->setProcesses(mSetup->processes(), pladProgram());
        if (!mLastStoppedRun.isEmpty() && !mJobs->resume(mWorkspace, mLastStoppedRun, &error))
            appendLog(error, true);
        updateActions();
    });
    mResumeAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R));
    auto *check = run->addAction(tr("Pre-flight &check"), mSetup, &SetupView::runPreflight);
    check->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_K));

    auto *view = menuBar()->addMenu(tr("&View"));
    for (int i = 0; i < mTabs->count(); ++i) {
        auto *a = view->addAction(mTabs->tabText(i).remove(QLatin1Char('&')), this, [this, i] { mTabs->setCurrentIndex(i); });
        a->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)));
    }
    view->addSeparator();
    auto *themes = new QActionGroup(this);
    const QString current = QSettings().value(QStringLiteral("view/theme"), QStringLiteral("system")).toString();
    for (const auto &[key, label] : {std::pair{QStringLiteral("system"), tr("Follow the system")}, {QStringLiteral("light"), tr("Light")},
                                     {QStringLiteral("dark"), tr("Dark")}}) {
        auto *a = view->addAction(label, this, [this, key] {
            QSettings().setValue(QStringLiteral("view/theme"), key);
            applyTheme(key);
        });
        a->setCheckable(true);
        a->setChecked(key == current);
        themes->addAction(a);
    }

    auto *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&Quick tour"), QKeySequence::HelpContents, this, &MainWindow::showQuickTour);
    help->addAction(tr("&Keyboard shortcuts"), this, &MainWindow::showShortcuts);
    help->addSeparator();
    help->addAction(tr("&About PLaD Workbench"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);

    auto *toolbar = addToolBar(tr("Run"));
    toolbar->setObjectName(QStringLiteral("runToolbar"));
    toolbar->addAction(demo);
    toolbar->addAction(check);
    toolbar->addAction(mLaunchAction);
    toolbar->addAction(mStopAction);
    toolbar->addAction(mResumeAction);
}

void MainWindow::chooseWorkspace()
{
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open workspace"), mWorkspace);
    if (!dir.isEmpty())
        openWorkspace(dir);
}

QString MainWindow::aboutText() const
{
    return tr("<h3>PLaD Workbench %1</h3>"
              "<p>Distils large language models into small ones with PLaD: preference-based distillation with pseudo-preference pairs.</p>"
              "<table>"
              "<tr><td>Qt</td><td>%2 (built with %3)</td></tr>"
              "<tr><td>Compute</td><td>%4</td></tr>"
              "<tr><td>Workspace</td><td>%5 (schema version %6)</td></tr>"
              "</table>")
        .arg(QApplication::applicationVersion(), QString::fromLatin1(qVersion()), QStringLiteral(QT_VERSION_STR),
             mRuntime.isEmpty() ? tr("not reported") : mRuntime.toHtmlEscaped(), QDir::toNativeSeparators(mWorkspace).toHtmlEscaped())
        .arg(plad::Workspace::schemaVersion);
}

void MainWindow::showAbout()
{
    auto *box = new QMessageBox(QMessageBox::NoIcon, tr("About PLaD Workbench"), aboutText(), QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("aboutDialog"));
    box->setTextFormat(Qt::RichText);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

QString MainWindow::quickTour()
{
    QFile file(QStringLiteral(":/help/quick-tour.md"));
    return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()) : QString();
}

void MainWindow::showQuickTour()
{
    auto *text = new QTextBrowser;
    text->setMarkdown(quickTour());
    showInDialog(QStringLiteral("quickTour"), tr("Quick tour"), text, QSize(720, 640));
}

void MainWindow::showInDialog(const QString &name, const QString &title, QWidget *content, const QSize &size)
{
    auto *dialog = new QDialog(this);
    dialog->setObjectName(name);
    dialog->setWindowTitle(title);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    auto *layout = new QVBoxLayout(dialog);
    layout->addWidget(content); // the dialog owns it from here
    auto *close = new QDialogButtonBox(QDialogButtonBox::Close, dialog);
    connect(close, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
    layout->addWidget(close);
    dialog->resize(size);
    dialog->open();
}

QList<QPair<QString, QString>> MainWindow::shortcuts() const
{
    QList<QPair<QString, QString>> list;
    for (QAction *menu : menuBar()->actions())
        if (menu->menu())
            for (QAction *a : menu->menu()->actions())
                if (!a->shortcut().isEmpty())
                    list.append({a->shortcut().toString(QKeySequence::NativeText), a->text().remove(QLatin1Char('&'))});
    // Pairs' single keys (active while the inspector has focus).
    for (const auto &[key, what] : {std::pair{"Ctrl+Z", "Pairs: undo the last annotation change"},
                                    {"Ctrl+Shift+Z", "Pairs: redo the annotation change undone last"}, {"J / K", "Pairs: next / previous pair"}, {"F", "Pairs: flip the pair"}, {"D", "Pairs: discard the pair"},
                                    {"W", "Pairs: weight..."}, {"N", "Pairs: note..."}, {"C", "Pairs: clear the annotation"},
                                    {"Ctrl+F", "Pairs: search"}, {"F2", "Runs: rename the selected run"}, {"F5", "Runs: refresh"}})
        list.append({QString::fromLatin1(key), tr(what)});
    return list;
}

void MainWindow::showShortcuts()
{
    const auto list = shortcuts();
    auto *table = new QTableWidget(static_cast<int>(list.size()), 2);
    table->setHorizontalHeaderLabels({tr("keys"), tr("what they do")});
    table->verticalHeader()->hide();
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    for (int r = 0; r < list.size(); ++r) {
        table->setItem(r, 0, new QTableWidgetItem(list[r].first));
        table->setItem(r, 1, new QTableWidgetItem(list[r].second));
    }
    table->resizeColumnsToContents();
    table->horizontalHeader()->setStretchLastSection(true);
    showInDialog(QStringLiteral("shortcutsDialog"), tr("Keyboard shortcuts"), table, QSize(560, 620));
}

void MainWindow::setTheme(const QString &theme)
{
    applyTheme(theme);
}

void MainWindow::applyTheme(const QString &theme)
{
    // "system" keeps the platform's palette (light or dark as the desktop reports it).
    static const QPalette systemPalette = QApplication::palette();
    if (theme == QLatin1String("dark")) {
        QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
        QPalette p;
        p.setColor(QPalette::Window, QColor(45, 45, 48));
        p.setColor(QPalette::WindowText, QColor(230, 230, 230));
        p.setColor(QPalette::Base, QColor(30, 30, 32));
        p.setColor(QPalette::AlternateBase, QColor(45, 45, 48));
        p.setColor(QPalette::Text, QColor(230, 230, 230));
        p.setColor(QPalette::Button, QColor(55, 55, 58));
        p.setColor(QPalette::ButtonText, QColor(230, 230, 230));
        p.setColor(QPalette::Highlight, QColor(42, 130, 218));
        p.setColor(QPalette::HighlightedText, Qt::white);
        p.setColor(QPalette::ToolTipBase, QColor(60, 60, 60));
        p.setColor(QPalette::ToolTipText, QColor(230, 230, 230));
        p.setColor(QPalette::PlaceholderText, QColor(150, 150, 150));
        p.setColor(QPalette::Link, QColor(110, 170, 250));
        p.setColor(QPalette::LinkVisited, QColor(170, 140, 240));
        p.setColor(QPalette::BrightText, QColor(255, 110, 110));
        // Greyed when disabled, as the light palette does (Fusion draws disabled items from these).
        for (const auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
            p.setColor(QPalette::Disabled, role, QColor(125, 125, 128));
        p.setColor(QPalette::Disabled, QPalette::Base, QColor(40, 40, 42));
        p.setColor(QPalette::Disabled, QPalette::Button, QColor(48, 48, 50));
        QApplication::setPalette(p);
    } else if (theme == QLatin1String("light")) {
        QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
        QApplication::setPalette(QApplication::style()->standardPalette());
    } else {
        QApplication::setPalette(systemPalette);
    }
}

void MainWindow::openWorkspace(const QString &workspace)
{
    mWorkspace = QDir(workspace).absolutePath();
    // A workspace written by an earlier version is migrated once here, so the views can read it.
    if (QFileInfo::exists(mWorkspace + QLatin1Char('/') + QString::fromLatin1(plad::Workspace::fileName))) {
        try {
            (void)plad::Workspace::open(mWorkspace.toStdString(), false);
        } catch (const std::exception &e) {
            appendLog(tr("Cannot open the workspace %1: %2").arg(mWorkspace, QString::fromStdString(e.what())), true);
        }
    }
    mSetup->setWorkspace(mWorkspace);
    mRuns->setWorkspace(mWorkspace);
    mEvaluate->setWorkspace(mWorkspace);
    mPlayground->setWorkspace(mWorkspace);
    rememberWorkspace(mWorkspace);
    mWelcome->setWorkspace(mWorkspace, -1);
    mWelcome->setRecentWorkspaces(QSettings().value(QStringLiteral("workspace/recent")).toStringList().mid(1, 5));
    setWindowTitle(tr("PLaD Workbench - %1").arg(mWorkspace));
}

void MainWindow::rememberWorkspace(const QString &workspace)
{
    QSettings settings;
    settings.setValue(QStringLiteral("workspace/last"), workspace);
    QStringList recent = settings.value(QStringLiteral("workspace/recent")).toStringList();
    recent.removeAll(workspace);
    recent.prepend(workspace);
    while (recent.size() > 8)
        recent.removeLast();
    settings.setValue(QStringLiteral("workspace/recent"), recent);
}

void MainWindow::loadDemo()
{
    if (mDemoDirectory.isEmpty() || !QFileInfo::exists(mDemoDirectory + QStringLiteral("/student/config.json"))) {
        appendLog(tr("The demo's models are not in \"%1\" (set PLAD_DEMO_DIR).").arg(mDemoDirectory), true);
        return;
    }
    if (mConfirmClose && !mSetup->confirmDiscardEdits(tr("Load the demo")))
        return;
    mSetup->loadDemo(mDemoDirectory);
    mSetup->setWorkspace(mWorkspace);
    mTabs->setCurrentWidget(mSetupPage);
    appendLog(tr("demo configuration loaded from %1").arg(mDemoDirectory));
}

bool MainWindow::runDemoStudy(qint64 prompts, qint64 steps, qint64 testPrompts, qint64 evalPrompts, bool full)
{
    if (mDemoDirectory.isEmpty() || !QFileInfo::exists(mDemoDirectory + QStringLiteral("/student/config.json"))) {
        appendLog(tr("The demo's models are not in \"%1\" (set PLAD_DEMO_DIR).").arg(mDemoDirectory), true);
        return false;
    }
    QString error;
    if (!mJobs->startDemoStudy(mWorkspace, mDemoDirectory, prompts, steps, testPrompts, evalPrompts, full, &error)) {
        appendLog(error, true);
        return false;
    }
    mRunningMethod = QStringLiteral("plad");
    mStatusJob->setText(tr("Starting the demo study..."));
    appendLog(tr("the demo study: PLaD with consensus pairs, then PLaD with teacher-preferred pairs and SeqKD%1 on the same teacher outputs, "
                 "each evaluated on %2 test prompts")
                  .arg(full ? tr(", PLaD with the reference judge and DPO") : QString())
                  .arg(testPrompts));
    mTabs->setCurrentWidget(mMonitor);
    updateActions();
    return true;
}

bool MainWindow::launch()
{
    QString workspace = mSetup->workspace();
    if (workspace.isEmpty())
        workspace = mWorkspace;
    if (QDir(workspace).absolutePath() != mWorkspace)
        openWorkspace(workspace);
    const auto doc = mSetup->document();
    mRunningMethod = QString::fromStdString(doc.value("method", std::string("plad")));
    QString error;
    mJobs->setProcesses(mSetup->processes(), pladProgram());
    if (!mJobs->start(mWorkspace, QByteArray::fromStdString(doc.dump()), mSetup->baseDirectory(), &error)) {
        appendLog(error, true);
        return false;
    }
    mStatusJob->setText(tr("Starting %1...").arg(mRunningMethod));
    mTabs->setCurrentWidget(mMonitor);
    updateActions();
    return true;
}

void MainWindow::openRun(const QString &runId, const QString &method)
{
    mMonitor->follow(mWorkspace, runId, method);
    mPairs->showRun(mWorkspace, runId);
    mReport->showRun(mWorkspace, runId);
    mEvaluate->setRun(runId);
    mTabs->setCurrentWidget(mMonitor);
}

void MainWindow::stopJob()
{
    if (!mJobs->isRunning())
        return;
    mStatusJob->setText(tr("Stopping %1 at the next step...").arg(mJobs->currentRunId()));
    mJobs->stop();
}

void MainWindow::showProgress(const JobStatus &s)
{
    mStatusJob->setText(tr("%1: %2 %3/%4 %5, %6/s, ETA %7")
                            .arg(s.runId, s.stage)
                            .arg(s.done)
                            .arg(s.total > 0 ? QString::number(s.total) : QStringLiteral("?"))
                            .arg(s.unit)
                            .arg(s.ratePerSecond, 0, 'f', 1)
                            .arg(duration(s.etaSeconds)));
    mProgress->setVisible(true);
    mProgress->setRange(0, s.total > 0 ? 1000 : 0);
    if (s.total > 0)
        mProgress->setValue(static_cast<int>(1000.0 * static_cast<double>(s.done) / static_cast<double>(s.total)));
}

void MainWindow::jobFinished(const QString &runId, const QString &status, const QString &message)
{
    mProgress->setVisible(false);
    const bool failed = status == QLatin1String("failed");
    mStatusJob->setText(tr("%1 %2").arg(runId.isEmpty() ? tr("The run") : runId, status));
    appendLog(tr("%1 %2: %3").arg(runId.isEmpty() ? tr("the run") : runId, status, message), failed);
    if (status != QLatin1String("completed"))
        mLastStoppedRun = runId;
    if (failed && !mClosing) {
        // Not modal: the window keeps working (and following other runs) while the message is up.
        auto *box = new QMessageBox(QMessageBox::Warning, tr("The run failed"),
                                    tr("%1\n\nEverything saved so far is kept; fix the cause and resume the run from Runs.").arg(message),
                                    QMessageBox::Ok, this);
        box->setObjectName(QStringLiteral("runFailedMessage"));
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->open();
    }
    mRuns->refresh();
    if (!runId.isEmpty() && !mClosing) {
        mPairs->showRun(mWorkspace, runId);
        mReport->showRun(mWorkspace, runId);
    }
    updateActions();
}

void MainWindow::updateActions()
{
    const bool running = mJobs->isRunning();
    mLaunchAction->setEnabled(!running);
    mStopAction->setEnabled(running);
    mResumeAction->setEnabled(!running && !mLastStoppedRun.isEmpty());
}

void MainWindow::appendLog(const QString &line, bool error)
{
    const QString stamp = QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss"));
    mLog->appendPlainText(QStringLiteral("%1  %2%3").arg(stamp, error ? tr("error: ") : QString(), line));
    if (error)
        statusBar()->showMessage(line, 8000);
}

QString MainWindow::logText() const
{
    return mLog->toPlainText();
}

bool MainWindow::eventFilter(QObject *watched, QEvent *event)
{
    if (watched == mTabs && event->type() == QEvent::DragEnter) {
        auto *drag = static_cast<QDragEnterEvent *>(event);
        if (drag->mimeData()->hasUrls())
            drag->acceptProposedAction();
        return true;
    }
    if (watched == mTabs && event->type() == QEvent::Drop) {
        auto *drop = static_cast<QDropEvent *>(event);
        if (mSetup->takeDroppedFiles(drop->mimeData()->urls())) {
            mTabs->setCurrentWidget(mSetupPage);
            drop->acceptProposedAction();
        }
        return true;
    }
    return QMainWindow::eventFilter(watched, event);
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    // Unsaved Setup edits first: cancelling here leaves everything running as it was.
    if (mConfirmClose && !mSetup->confirmDiscardEdits(tr("Quit"))) {
        event->ignore();
        return;
    }
    if (mJobs->isRunning()) {
        if (mConfirmClose
            && QMessageBox::question(this, tr("A job is running"),
                                     tr("Run %1 is still running. Stop it (a checkpoint is saved, it can be resumed) and quit?").arg(mJobs->currentRunId()))
                   != QMessageBox::Yes) {
            event->ignore();
            return;
        }
        // Stop at the next step and wait for the worker to save, keeping the window responsive.
        mClosing = true;
        QEventLoop wait;
        connect(mJobs, &RunJobController::finished, &wait, &QEventLoop::quit);
        mJobs->stop();
        if (mJobs->isRunning())
            wait.exec();
    }
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    event->accept();
}

} // namespace plad::ui
