#pragma once

#include <QObject>
#include <QString>
#include <QThread>

#include <memory>
#include <stop_token>

namespace plad::ui {

/** A progress report of the running job, copied out of the worker thread. */
struct JobStatus
{
    QString runId;
    QString stage;      ///< "prepare", "generate", "train", "evaluate", "export"
    qint64 done = 0;
    qint64 total = 0;   ///< 0 when unknown
    QString unit;       ///< "prompts", "steps", ...
    double ratePerSecond = 0;
    double etaSeconds = -1; ///< negative when unknown
};

class RunWorker;

/**
 * Runs distillation jobs (pair generation, training, evaluation: a whole `plad run`) on a
 * worker thread it owns, one job at a time. Requests go to the worker by queued calls; the
 * worker answers with the signals below, delivered on the controller's (GUI) thread.
 *
 * A stop (pause or cancel) is a request the engine honours at the next batch or step: it saves
 * a checkpoint and marks the run cancelled, so resume() continues it. The destructor stops the
 * job and waits for the thread.
 */
class RunJobController : public QObject
{
    Q_OBJECT

public:
    explicit RunJobController(QObject *parent = nullptr);
    ~RunJobController() override;

    bool isRunning() const { return mRunning; }
    QString currentRunId() const { return mRunId; }

    /**
     * Validates `configJson` (the document `plad run` reads; relative paths resolve against
     * `baseDirectory`), creates the run in `workspace` and executes it. Returns false, with
     * the reason in `error`, when a job is already running.
     */
    bool start(const QString &workspace, const QByteArray &configJson, const QString &baseDirectory, QString *error = nullptr);
    /**
     * Runs the demo study in `workspace` (annotation-free PLaD, PLaD with teacher-preferred
     * pairs and SeqKD on the demo in `demoDirectory`; with `full`, also PLaD with the reference
     * judge and DPO; each evaluated against the initial student on `testPrompts` test prompts):
     * what `plad demo` runs. runCreated() fires for each of its runs; finished() carries the summary.
     */
    bool startDemoStudy(const QString &workspace, const QString &demoDirectory, qint64 prompts, qint64 steps, qint64 testPrompts,
                        qint64 evalPrompts, bool full = false, QString *error = nullptr);
    /** Continues a stopped, failed or killed run. */
    bool resume(const QString &workspace, const QString &runId, QString *error = nullptr);
    /** Asks the running job to stop at its next step; it stays resumable. */
    void stop();

    /**
     * Runs and resumes that start after this on `processes` processes (torch.distributed,
     * docs/distributed.md): this process is rank 0 and starts the others from `program` (the
     * plad command line), each with cores / processes threads. 1: this process alone.
     */
    void setProcesses(int processes, const QString &program);
    int processes() const { return mProcesses; }

Q_SIGNALS:
    void runCreated(const QString &workspace, const QString &runId);
    void progress(const plad::ui::JobStatus &status);
    void logLine(const QString &line);
    /** `status` is "completed", "cancelled" or "failed"; `message` says what happened in plain words. */
    void finished(const QString &runId, const QString &status, const QString &message);

private:
    friend class RunWorker;
    void onWorkerFinished(const QString &runId, const QString &status, const QString &message);
    void launch(const QString &workspace, const QString &runId, const QByteArray &configJson, const QString &baseDirectory);

    QThread mThread;
    RunWorker *mWorker = nullptr;
    std::unique_ptr<std::stop_source> mStop;
    bool mRunning = false;
    QString mRunId;
    int mProcesses = 1;
    QString mProgram;
};

} // namespace plad::ui

Q_DECLARE_METATYPE(plad::ui::JobStatus)
