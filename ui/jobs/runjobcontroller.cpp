#include "jobs/runjobcontroller.h"

#include "common/error.h"
#include "dist/rankgroup.h"
#include "dist/workerlauncher.h"
#include "model/runtime.h"
#include "plad/demostudy.h"
#include "plad/distillrun.h"
#include "plad/runconfig.h"
#include "store/workspace.h"

#include <QMetaObject>

#include <exception>
#include <optional>
#include <thread>

namespace plad::ui {

/**
 * Lives on the controller's thread-owned QThread; each job is one queued call. It reports back
 * by queuing lambdas on the controller, so nothing but copied values crosses threads.
 */
class RunWorker : public QObject
{
public:
    explicit RunWorker(RunJobController *controller)
        : mController(controller)
    {}

    void execute(QString workspace, QString runId, QByteArray configJson, QString baseDirectory, std::stop_token stop, int processes,
                 QString program)
    {
        const std::filesystem::path ws = workspace.toStdString();
        try {
            if (runId.isEmpty()) {
                // A new run: validated and created here, so the GUI thread never waits on it.
                const RunConfig config = RunConfig::fromJson(nlohmann::json::parse(configJson.toStdString()), baseDirectory.toStdString());
                Workspace store = Workspace::open(ws);
                runId = QString::fromStdString(createDistillationRun(store, config).id);
            }
            post([c = mController, workspace, runId] {
                c->mRunId = runId;
                Q_EMIT c->runCreated(workspace, runId);
            });
            JobContext context(stop, [this, runId](const JobProgress &p) {
                JobStatus s{runId, QString::fromStdString(p.stage), p.done, p.total, QString::fromStdString(p.unit), p.ratePerSecond, p.etaSeconds};
                post([c = mController, s] { Q_EMIT c->progress(s); });
            });
            RunCallbacks callbacks;
            callbacks.log = [this](const std::string &line) {
                post([c = mController, text = QString::fromStdString(line)] { Q_EMIT c->logLine(text); });
            };
            // Several processes: the others are `plad run --worker`, this thread is rank 0.
            std::optional<WorkerProcesses> others;
            const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
            if (processes > 1) {
                Rendezvous r;
                r.port = freeLocalPort();
                r.worldSize = processes;
                r.joinTimeout = std::chrono::seconds(120);
                WorkerLaunch launch;
                launch.rendezvous = r;
                launch.firstRank = 1;
                launch.firstLocalRank = 1;
                launch.processes = processes - 1;
                launch.program = program.toStdString();
                launch.arguments = {"--threads", std::to_string(std::max(1, cores / processes)), "run", "--worker", "--quiet"};
                others.emplace(launch);
                callbacks.log("starting " + std::to_string(processes - 1) + " more process(es) from " + program.toStdString());
                callbacks.group = RankGroup::join(r);
            }
            // Torch's pool is the process's: this rank takes its share of the cores while the run lasts.
            const int threadsBefore = runtimeInfo().intraOpThreads;
            if (processes > 1)
                configureThreads(std::max(1, cores / processes));
            DistillRunResult result;
            try {
                result = executeRun(ws, runId.toStdString(), &context, callbacks);
            } catch (...) {
                configureThreads(threadsBefore);
                throw; // `others` stops the other ranks
            }
            configureThreads(threadsBefore);
            if (others)
                for (const auto &o : others->wait(std::chrono::seconds(60)))
                    if (o.exitCode != 0)
                        callbacks.log("rank " + std::to_string(o.rank) + " ended with exit status " + std::to_string(o.exitCode));
            QString message = QString::fromStdString(result.message);
            if (result.status == RunStatus::Completed)
                message = QStringLiteral("completed %1 steps; the student is in %2").arg(result.steps).arg(QString::fromStdString(result.modelDirectory.string()));
            finish(runId, QString::fromStdString(toString(result.status)), message);
        } catch (const nlohmann::json::exception &e) {
            finish(runId, QStringLiteral("failed"), QStringLiteral("the configuration is not valid JSON: %1").arg(QString::fromUtf8(e.what())));
        } catch (const std::exception &e) {
            finish(runId, QStringLiteral("failed"), QString::fromUtf8(e.what()));
        }
    }

    void study(QString workspace, QString demoDirectory, DemoBudget budget, qint64 testPrompts, bool full, std::stop_token stop)
    {
        QString current;
        try {
            JobContext context(stop, [this, &current](const JobProgress &p) {
                JobStatus s{current, QString::fromStdString(p.stage), p.done, p.total, QString::fromStdString(p.unit), p.ratePerSecond, p.etaSeconds};
                post([c = mController, s] { Q_EMIT c->progress(s); });
            });
            RunCallbacks callbacks;
            callbacks.log = [this](const std::string &line) {
                post([c = mController, text = QString::fromStdString(line)] { Q_EMIT c->logLine(text); });
            };
            DemoStudyOptions options;
            options.demoDirectory = demoDirectory.toStdString();
            options.workspace = workspace.toStdString();
            options.budget = budget;
            options.testPrompts = testPrompts;
            options.full = full;
            const auto result = runDemoStudy(options, &context, callbacks, callbacks.log, [&](const std::string &runId) {
                current = QString::fromStdString(runId);
                post([c = mController, workspace, id = current] {
                    c->mRunId = id;
                    Q_EMIT c->runCreated(workspace, id);
                });
            });
            QStringList lines;
            for (const auto &m : result.methods)
                lines << QString::fromStdString(m.summary);
            finish(current, QStringLiteral("completed"), lines.join(QLatin1Char('\n')));
        } catch (const std::exception &e) {
            finish(current, stop.stop_requested() ? QStringLiteral("cancelled") : QStringLiteral("failed"), QString::fromUtf8(e.what()));
        }
    }

private:
    template<typename F>
    void post(F &&f)
    {
        QMetaObject::invokeMethod(mController, std::forward<F>(f), Qt::QueuedConnection);
    }

    void finish(const QString &runId, const QString &status, const QString &message)
    {
        post([c = mController, runId, status, message] { c->onWorkerFinished(runId, status, message); });
    }

    RunJobController *mController;
};

RunJobController::RunJobController(QObject *parent)
    : QObject(parent)
{
    qRegisterMetaType<plad::ui::JobStatus>();
    mThread.setObjectName(QStringLiteral("plad-run-worker"));
    mWorker = new RunWorker(this);
    mWorker->moveToThread(&mThread);
    connect(&mThread, &QThread::finished, mWorker, &QObject::deleteLater);
    mThread.start();
}

RunJobController::~RunJobController()
{
    if (mStop)
        mStop->request_stop();
    mThread.quit();
    mThread.wait();
}

bool RunJobController::start(const QString &workspace, const QByteArray &configJson, const QString &baseDirectory, QString *error)
{
    if (mRunning) {
        if (error)
            *error = tr("A job is already running (%1); stop it first.").arg(mRunId);
        return false;
    }
    launch(workspace, {}, configJson, baseDirectory);
    return true;
}

bool RunJobController::resume(const QString &workspace, const QString &runId, QString *error)
{
    if (mRunning) {
        if (error)
            *error = tr("A job is already running (%1); stop it first.").arg(mRunId);
        return false;
    }
    launch(workspace, runId, {}, {});
    return true;
}

bool RunJobController::startDemoStudy(const QString &workspace, const QString &demoDirectory, qint64 prompts, qint64 steps, qint64 testPrompts,
                                      qint64 evalPrompts, bool full, QString *error)
{
    if (mRunning) {
        if (error)
            *error = tr("A job is already running (%1); stop it first.").arg(mRunId);
        return false;
    }
    mRunning = true;
    mRunId.clear();
    mStop = std::make_unique<std::stop_source>();
    DemoBudget budget;
    budget.prompts = prompts;
    budget.steps = steps;
    budget.evalPrompts = evalPrompts;
    QMetaObject::invokeMethod(
        mWorker,
        [w = mWorker, workspace, demoDirectory, budget, testPrompts, full, token = mStop->get_token()] {
            w->study(workspace, demoDirectory, budget, testPrompts, full, token);
        },
        Qt::QueuedConnection);
    return true;
}

void RunJobController::stop()
{
    if (mStop)
        mStop->request_stop();
}

void RunJobController::launch(const QString &workspace, const QString &runId, const QByteArray &configJson, const QString &baseDirectory)
{
    mRunning = true;
    mRunId = runId;
    mStop = std::make_unique<std::stop_source>();
    QMetaObject::invokeMethod(
        mWorker,
        [w = mWorker, workspace, runId, configJson, baseDirectory, token = mStop->get_token(), processes = mProcesses, program = mProgram] {
            w->execute(workspace, runId, configJson, baseDirectory, token, processes, program);
        },
        Qt::QueuedConnection);
}

void RunJobController::setProcesses(int processes, const QString &program)
{
    mProcesses = std::max(1, processes);
    mProgram = program;
}

void RunJobController::onWorkerFinished(const QString &runId, const QString &status, const QString &message)
{
    mRunning = false;
    mRunId.clear();
    Q_EMIT finished(runId, status, message);
}

} // namespace plad::ui
