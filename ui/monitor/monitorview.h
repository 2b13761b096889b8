#pragma once

#include <QString>
#include <QTimer>
#include <QWidget>

#include <vector>

class QLabel;

namespace plad::ui {

class MetricChart;
class ReliabilityChart;
class StoreWatcher;

/**
 * The live monitor: every training chart of the catalog plus the reliability diagram, for the
 * run it follows. Points arrive from a StoreWatcher (reading the store on its own thread); the
 * charts replot at most ten times a second, however fast points come.
 */
class MonitorView : public QWidget
{
    Q_OBJECT

public:
    explicit MonitorView(QWidget *parent = nullptr);

    /** Shows `runId` of `workspace` from its first step and keeps following it. */
    void follow(const QString &workspace, const QString &runId, const QString &method);
    QString runId() const { return mRunId; }
    MetricChart *chart(const QString &id) const;
    ReliabilityChart *reliability() const { return mReliability; }
    /** The step of the latest evaluation the reliability diagram shows; -1 before the first. */
    qint64 reliabilityStep() const;
    /** Points held by all charts, or by the chart `chartId` ("loss", "ranking-accuracy", ...). */
    int pointCount(const QString &chartId = {}) const;

Q_SIGNALS:
    /** New points were drawn; `lastStep` is the highest step seen. */
    void updated(qint64 lastStep);

private:
    StoreWatcher *mWatcher = nullptr;
    std::vector<MetricChart *> mCharts;
    ReliabilityChart *mReliability = nullptr;
    QLabel *mHeader = nullptr;
    QTimer mReplot;
    QString mRunId, mMethod;
    qint64 mLastStep = -1;
    bool mChanged = false;
};

} // namespace plad::ui
