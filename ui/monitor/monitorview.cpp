#include "monitor/monitorview.h"

#include "charts/metricchart.h"
#include "charts/reliabilitychart.h"
#include "jobs/storewatcher.h"
#include "report/chartcatalog.h"

#include <QGridLayout>
#include <QLabel>
#include <QScrollArea>
#include <QVBoxLayout>

namespace plad::ui {

MonitorView::MonitorView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("monitor"));
    auto *layout = new QVBoxLayout(this);
    mHeader = new QLabel(tr("No run selected. Start a run in Setup, or open one in Runs."), this);
    mHeader->setObjectName(QStringLiteral("monitorHeader"));
    mHeader->setWordWrap(true);
    layout->addWidget(mHeader);

    auto *scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    auto *grid = new QWidget(scroll);
    auto *gridLayout = new QGridLayout(grid);
    int index = 0;
    for (const auto &spec : trainingCharts()) {
        auto *c = new MetricChart(spec, grid);
        mCharts.push_back(c);
        gridLayout->addWidget(c, index / 2, index % 2);
        ++index;
    }
    mReliability = new ReliabilityChart(grid);
    gridLayout->addWidget(mReliability, index / 2, index % 2);
    scroll->setWidget(grid);
    layout->addWidget(scroll, 1);

    mWatcher = new StoreWatcher(this);
    connect(mWatcher, &StoreWatcher::historyReset, this, [this](const QString &runId) {
        if (runId != mRunId)
            return;
        for (auto *c : mCharts)
            c->clear();
        mReliability->clear();
        mLastStep = -1;
    });
    connect(mWatcher, &StoreWatcher::metricsAppended, this, [this](const QString &runId, const QVector<MetricSample> &samples) {
        if (runId != mRunId)
            return;
        for (const auto &s : samples) {
            for (auto *c : mCharts)
                c->append(s);
            mLastStep = std::max(mLastStep, s.step);
        }
        mChanged = true;
    });
    connect(mWatcher, &StoreWatcher::calibrationRecorded, this, [this](const QString &runId, qint64 step, const QByteArray &json) {
        if (runId == mRunId)
            mReliability->addEvaluation(step, json);
    });
    connect(mWatcher, &StoreWatcher::readFailed, this, [this](const QString &message) {
        mHeader->setText(tr("Cannot read the workspace yet: %1").arg(message));
    });
    // Replots are batched: at most ten a second, whatever the rate of points.
    mReplot.setInterval(100);
    connect(&mReplot, &QTimer::timeout, this, [this] {
        if (!mChanged)
            return;
        mChanged = false;
        for (auto *c : mCharts)
            c->refresh();
        mHeader->setText(tr("Run %1 (%2): step %3").arg(mRunId, mMethod).arg(mLastStep));
        Q_EMIT updated(mLastStep);
    });
    mReplot.start();
}

void MonitorView::follow(const QString &workspace, const QString &runId, const QString &method)
{
    mRunId = runId;
    mMethod = method;
    for (auto *c : mCharts) {
        c->setMethod(method);
        c->clear();
    }
    mReliability->setMethod(method);
    mReliability->clear();
    mLastStep = -1;
    mHeader->setText(tr("Run %1 (%2): waiting for the first step").arg(runId, method));
    mWatcher->watch(workspace, runId);
}

MetricChart *MonitorView::chart(const QString &id) const
{
    for (auto *c : mCharts)
        if (c->objectName() == id)
            return c;
    return nullptr;
}

qint64 MonitorView::reliabilityStep() const
{
    return mReliability->latestStep();
}

int MonitorView::pointCount(const QString &chartId) const
{
    int n = 0;
    for (auto *c : mCharts)
        if (chartId.isEmpty() || c->objectName() == chartId)
            n += c->pointCount();
    return n;
}

} // namespace plad::ui
