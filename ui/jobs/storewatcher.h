#pragma once

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QThread>
#include <QVector>

namespace plad::ui {

/** One metric value at an optimiser step, as the run store holds it. */
struct MetricSample
{
    QString name;   ///< "loss", "ranking_accuracy", "eval_ece", ...
    qint64 step = 0;
    double value = 0;
};

class StorePoller;

/**
 * Follows one run of a workspace database while a worker writes it: a poller on its own thread
 * reads new metric points and calibration evaluations a few times a second (its own read-only
 * connection, WAL) and hands them over as values. The GUI thread never waits on the database.
 */
class StoreWatcher : public QObject
{
    Q_OBJECT

public:
    explicit StoreWatcher(QObject *parent = nullptr, int intervalMs = 250);
    ~StoreWatcher() override;

    /** Follows `runId` from its first step; emits historyReset() first. An empty id stops following. */
    void watch(const QString &workspace, const QString &runId);
    QString runId() const { return mRunId; }

Q_SIGNALS:
    /** Everything shown so far is outdated (another run, or a resumed run rewrote its last steps). */
    void historyReset(const QString &runId);
    void metricsAppended(const QString &runId, const QVector<plad::ui::MetricSample> &samples);
    /** A calibration evaluation (reliability bins, held-out margins) as the engine stored it (JSON). */
    void calibrationRecorded(const QString &runId, qint64 step, const QByteArray &resultJson);
    void readFailed(const QString &message);

private:
    friend class StorePoller;
    QThread mThread;
    StorePoller *mPoller = nullptr;
    QString mRunId;
};

} // namespace plad::ui

Q_DECLARE_METATYPE(plad::ui::MetricSample)
