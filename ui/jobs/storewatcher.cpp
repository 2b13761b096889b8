#include "jobs/storewatcher.h"

#include "store/workspace.h"

#include <QMetaObject>
#include <QTimer>

#include <map>
#include <optional>

namespace plad::ui {

/** Lives on the watcher's thread; reads only what is new since the last poll. */
class StorePoller : public QObject
{
public:
    StorePoller(StoreWatcher *watcher, int intervalMs)
        : mWatcher(watcher)
        , mInterval(intervalMs)
    {}

    void follow(const QString &workspace, const QString &runId)
    {
        if (!mTimer) {
            mTimer = new QTimer(this);
            connect(mTimer, &QTimer::timeout, this, [this] { poll(); });
        }
        mStore.reset();
        mWorkspace = workspace;
        mRunId = runId;
        mLastStep.clear();
        mEvaluationsSeen = 0;
        mMaxStep = -1;
        mFailed = false;
        post([w = mWatcher, runId] { Q_EMIT w->historyReset(runId); });
        if (runId.isEmpty()) {
            mTimer->stop();
            return;
        }
        poll();
        mTimer->start(mInterval);
    }

private:
    void poll()
    {
        if (mRunId.isEmpty())
            return;
        try {
            if (!mStore)
                mStore.emplace(Workspace::openReadOnly(mWorkspace.toStdString()));
            const std::string run = mRunId.toStdString();
            if (mMaxStep >= 0 && mStore->runs().lastMetricStep(run) < mMaxStep) {
                // A resumed run cut the steps after its checkpoint: start the history again.
                follow(mWorkspace, mRunId);
                return;
            }
            QVector<MetricSample> samples;
            for (const auto &name : mStore->runs().metricNames(run)) {
                const auto it = mLastStep.find(name);
                const int64_t after = it == mLastStep.end() ? -1 : it->second;
                for (const auto &p : mStore->runs().metrics(run, name, after)) {
                    samples.push_back({QString::fromStdString(name), p.step, p.value});
                    mLastStep[name] = p.step;
                    mMaxStep = std::max(mMaxStep, p.step);
                }
            }
            if (!samples.isEmpty())
                post([w = mWatcher, id = mRunId, samples] { Q_EMIT w->metricsAppended(id, samples); });
            const auto evaluations = mStore->results().evaluations(run, "calibration");
            for (size_t i = mEvaluationsSeen; i < evaluations.size(); ++i) {
                const auto &e = evaluations[i];
                post([w = mWatcher, id = mRunId, step = e.step, json = QByteArray::fromStdString(e.resultJson)] {
                    Q_EMIT w->calibrationRecorded(id, step, json);
                });
            }
            mEvaluationsSeen = evaluations.size();
            mFailed = false;
        } catch (const std::exception &e) {
            // The workspace may not exist yet (the job is creating it); report a failure once.
            mStore.reset();
            if (!mFailed)
                post([w = mWatcher, text = QString::fromUtf8(e.what())] { Q_EMIT w->readFailed(text); });
            mFailed = true;
        }
    }

    template<typename F>
    void post(F &&f)
    {
        QMetaObject::invokeMethod(mWatcher, std::forward<F>(f), Qt::QueuedConnection);
    }

    StoreWatcher *mWatcher;
    int mInterval;
    QTimer *mTimer = nullptr;
    std::optional<Workspace> mStore;
    QString mWorkspace, mRunId;
    std::map<std::string, int64_t> mLastStep;
    size_t mEvaluationsSeen = 0;
    int64_t mMaxStep = -1;
    bool mFailed = false;
};

StoreWatcher::StoreWatcher(QObject *parent, int intervalMs)
    : QObject(parent)
{
    qRegisterMetaType<plad::ui::MetricSample>();
    mThread.setObjectName(QStringLiteral("plad-store-watcher"));
    mPoller = new StorePoller(this, intervalMs);
    mPoller->moveToThread(&mThread);
    connect(&mThread, &QThread::finished, mPoller, &QObject::deleteLater);
    mThread.start();
}

StoreWatcher::~StoreWatcher()
{
    mThread.quit();
    mThread.wait();
}

void StoreWatcher::watch(const QString &workspace, const QString &runId)
{
    mRunId = runId;
    QMetaObject::invokeMethod(mPoller, [p = mPoller, workspace, runId] { p->follow(workspace, runId); }, Qt::QueuedConnection);
}

} // namespace plad::ui
