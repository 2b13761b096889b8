#pragma once

#include <QMainWindow>
#include <QString>

class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QTabWidget;

namespace plad::ui {

class EvaluateView;
class MonitorView;
class PairInspector;
class ReportView;
class PlaygroundView;
class RunJobController;
class RunsView;
class SetupView;
class WelcomePanel;
struct JobStatus;

/**
 * The workbench: Setup, Pairs, Monitor, Runs and Report tabs over one workspace, a status bar
 * with the running job's stage, progress and ETA, and a log panel. Jobs run on the
 * RunJobController's worker thread; the window only shows and asks.
 */
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    enum Tab { SetupTab, PairsTab, MonitorTab, RunsTab, EvaluateTab, ReportTab, PlaygroundTab };

    void setDemoDirectory(const QString &directory) { mDemoDirectory = directory; }
    void openWorkspace(const QString &workspace);
    QString workspace() const { return mWorkspace; }
    /** Loads the embedded demo's configuration into Setup. */
    void loadDemo();
    /** Launches the run Setup describes; false (with the reason in the log) when it cannot start. */
    bool launch();
    /**
     * Runs the demo study in the open workspace (what `plad demo` runs; the defaults are its
     * budget); the runs appear in Runs as they start and the log gets the summary.
     */
    bool runDemoStudy(qint64 prompts = 1500, qint64 steps = 240, qint64 testPrompts = 400, qint64 evalPrompts = 64, bool full = false);
    void openRun(const QString &runId, const QString &method);
    /** Stops the running job at its next step (it stays resumable). */
    void stopJob();
    /** Versions of Torch and the BLAS and the threads in use, for Help > About (the program reports them at start-up). */
    void setRuntimeDescription(const QString &text) { mRuntime = text; }
    /** Applies a theme ("system", "light", "dark") without remembering it. */
    void setTheme(const QString &theme);
    QString aboutText() const;
    /** The quick tour (Markdown, the same text as Help > Quick tour). */
    static QString quickTour();
    /** Every keyboard shortcut: keys, what they do. */
    QList<QPair<QString, QString>> shortcuts() const;
    WelcomePanel *welcomePanel() const { return mWelcome; }
    void showAbout();
    void showQuickTour();
    void showShortcuts();
    /** Whether closing asks before stopping a running job or dropping unsaved Setup edits (tests turn it off). */
    void setConfirmClose(bool confirm) { mConfirmClose = confirm; }

    SetupView *setupView() const { return mSetup; }
    PairInspector *pairInspector() const { return mPairs; }
    MonitorView *monitorView() const { return mMonitor; }
    RunsView *runsView() const { return mRuns; }
    ReportView *reportView() const { return mReport; }
    EvaluateView *evaluateView() const { return mEvaluate; }
    RunJobController *jobs() const { return mJobs; }
    QTabWidget *tabs() const { return mTabs; }
    PlaygroundView *playground() const { return mPlayground; }
    QString logText() const;

protected:
    void closeEvent(QCloseEvent *event) override;
    /** Drops anywhere over the areas: models, datasets and configs go to Setup. */
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    void buildMenus();
    void chooseWorkspace();
    /** Opens `content` in a non-modal dialog named `name` with a Close button. */
    void showInDialog(const QString &name, const QString &title, QWidget *content, const QSize &size);
    void appendLog(const QString &line, bool error = false);
    void showProgress(const JobStatus &status);
    void jobFinished(const QString &runId, const QString &status, const QString &message);
    void updateActions();
    void rememberWorkspace(const QString &workspace);
    void applyTheme(const QString &theme);

    QString mWorkspace, mDemoDirectory, mRuntime;
    QWidget *mSetupPage = nullptr;
    WelcomePanel *mWelcome = nullptr;
    QString mRunningMethod;
    QTabWidget *mTabs = nullptr;
    SetupView *mSetup = nullptr;
    PairInspector *mPairs = nullptr;
    MonitorView *mMonitor = nullptr;
    RunsView *mRuns = nullptr;
    ReportView *mReport = nullptr;
    EvaluateView *mEvaluate = nullptr;
    PlaygroundView *mPlayground = nullptr;
    RunJobController *mJobs = nullptr;
    QPlainTextEdit *mLog = nullptr;
    QLabel *mStatusJob = nullptr;
    QProgressBar *mProgress = nullptr;
    QAction *mLaunchAction = nullptr;
    QAction *mStopAction = nullptr;
    QAction *mResumeAction = nullptr;
    QString mLastStoppedRun;
    bool mConfirmClose = true;
    bool mClosing = false;
};

} // namespace plad::ui
