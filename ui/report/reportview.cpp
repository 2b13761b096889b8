#include "report/reportview.h"

#include "charts/metricchart.h"
#include "charts/reliabilitychart.h"
#include "common/fileio.h"
#include "common/lastpaths.h"
#include "jobs/backgroundtask.h"
#include "plad/runexports.h"
#include "report/chartcatalog.h"
#include "report/report.h"

#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QPageSize>
#include <QPdfWriter>
#include <QPushButton>
#include <QHash>
#include <QImage>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace plad::ui {
namespace {

struct PreviewData
{
    std::string markdown;
    std::string method;
    std::map<std::string, std::vector<MetricPoint>> series;
    std::vector<EvaluationRecord> calibrations;
};

constexpr int chartWidth = 760, chartHeight = 400;

} // namespace

/** A text browser that serves the report's chart images from memory. */
class ReportBrowser : public QTextBrowser
{
public:
    using QTextBrowser::QTextBrowser;
    QHash<QString, QImage> images;

    QVariant loadResource(int type, const QUrl &name) override
    {
        if (type == QTextDocument::ImageResource) {
            const auto it = images.constFind(name.toString());
            if (it != images.constEnd())
                return *it;
        }
        return QTextBrowser::loadResource(type, name);
    }
};

ReportView::ReportView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("report"));
    auto *layout = new QVBoxLayout(this);
    auto *bar = new QHBoxLayout;
    mTitle = new QLabel(tr("Open a run (Runs, or the one running) to see its report."), this);
    mTitle->setWordWrap(true);
    bar->addWidget(mTitle, 1);
    const std::pair<const char *, QString> kinds[] = {{"html", tr("HTML...")},         {"md", tr("Markdown...")},
                                                      {"pdf", tr("PDF...")},           {"csv", tr("Metrics CSV...")},
                                                      {"pairs", tr("Pairs (TRL)...")}, {"model", tr("Student model...")}};
    for (const auto &[kind, label] : kinds) {
        auto *b = new QPushButton(label, this);
        b->setObjectName(QStringLiteral("export_") + QString::fromLatin1(kind));
        connect(b, &QPushButton::clicked, this, [this, k = QString::fromLatin1(kind)] { choose(k); });
        bar->addWidget(b);
    }
    layout->addLayout(bar);
    mPreview = new ReportBrowser(this);
    mPreview->setObjectName(QStringLiteral("reportPreview"));
    mPreview->setOpenExternalLinks(false);
    layout->addWidget(mPreview, 1);
}

void ReportView::showRun(const QString &workspace, const QString &runId)
{
    mWorkspace = workspace;
    mRunId = runId;
    mTitle->setText(tr("Report of %1 (building the preview...)").arg(runId));
    const std::string ws = workspace.toStdString(), id = runId.toStdString();
    runInBackground<PreviewData>(
        this,
        [ws, id] {
            PreviewData data;
            Workspace store = Workspace::openReadOnly(ws);
            data.method = store.runs().requireRun(id).method;
            // The charts the Markdown refers to are drawn by the preview itself (below).
            data.markdown = renderReport(store, id, ReportFormat::Markdown, "report.assets").document;
            const auto names = store.runs().metricNames(id);
            for (const auto &chart : trainingCharts())
                for (const auto &line : chart.lines)
                    for (const auto &name : names)
                        if ((name == line.metric || rankOfMetric(line, name) >= 0) && !data.series.count(name))
                            data.series[name] = store.runs().metrics(id, name);
            data.calibrations = store.results().evaluations(id, "calibration");
            return data;
        },
        [this, runId](const TaskOutcome<PreviewData> &outcome) {
            if (runId != mRunId)
                return;
            if (!outcome.value) {
                mTitle->setText(tr("Cannot build the report of %1: %2").arg(runId, outcome.error));
                Q_EMIT failed(outcome.error);
                return;
            }
            const auto &data = *outcome.value;
            auto &images = static_cast<ReportBrowser *>(mPreview)->images;
            images.clear();
            // The Markdown refers to report.assets/NAME.svg: the same charts, drawn here by QCustomPlot.
            for (const auto &spec : trainingCharts()) {
                MetricChart chart(spec);
                chart.setMethod(QString::fromStdString(data.method));
                // Each series once: a chart's lines that share a metric (raw and smoothed) take it from one append.
                for (const auto &[name, points] : data.series)
                    if (std::any_of(spec.lines.begin(), spec.lines.end(), [&](const CatalogLine &l) { return l.metric == name || rankOfMetric(l, name) >= 0; }))
                        for (const auto &p : points)
                            chart.append({QString::fromStdString(name), p.step, p.value});
                chart.refresh();
                images[QStringLiteral("report.assets/%1.svg").arg(QString::fromStdString(spec.id))] = chart.toPixmap(chartWidth, chartHeight).toImage();
            }
            ReliabilityChart reliability;
            reliability.setMethod(QString::fromStdString(data.method));
            if (!data.calibrations.empty()) {
                reliability.addEvaluation(data.calibrations.front().step, QByteArray::fromStdString(data.calibrations.front().resultJson));
                reliability.addEvaluation(data.calibrations.back().step, QByteArray::fromStdString(data.calibrations.back().resultJson));
            }
            images[QStringLiteral("report.assets/reliability.svg")] = reliability.toPixmap(chartWidth, chartHeight).toImage();
            mPreview->setMarkdown(QString::fromStdString(data.markdown));
            mTitle->setText(tr("Report of %1").arg(runId));
            Q_EMIT previewReady();
        });
}

void ReportView::choose(const QString &kind)
{
    if (mRunId.isEmpty())
        return;
    QString path;
    if (kind == QLatin1String("model")) {
        path = QFileDialog::getExistingDirectory(this, tr("Export the student into"), lastFolder(QStringLiteral("export")));
    } else {
        const std::map<QString, QString> filters = {{QStringLiteral("html"), tr("HTML (*.html)")},  {QStringLiteral("md"), tr("Markdown (*.md)")},
                                                    {QStringLiteral("pdf"), tr("PDF (*.pdf)")},     {QStringLiteral("csv"), tr("CSV (*.csv)")},
                                                    {QStringLiteral("pairs"), tr("JSONL (*.jsonl)")}};
        const QString suffix = kind == QLatin1String("pairs") ? QStringLiteral("jsonl") : kind;
        path = QFileDialog::getSaveFileName(this, tr("Export"), lastFolder(QStringLiteral("export")) + QLatin1Char('/') + mRunId + QLatin1Char('.') + suffix,
                                            filters.at(kind));
    }
    if (path.isEmpty())
        return;
    rememberFolder(QStringLiteral("export"), path);
    exportTo(kind, path);
}

void ReportView::exportTo(const QString &kind, const QString &path)
{
    if (kind == QLatin1String("pdf")) {
        // The preview as shown (its charts included), paginated on A4.
        QPdfWriter writer(path);
        writer.setPageSize(QPageSize(QPageSize::A4));
        writer.setTitle(tr("PLaD Workbench report of %1").arg(mRunId));
        mPreview->document()->print(&writer);
        Q_EMIT exported(kind, path);
        return;
    }
    const std::string ws = mWorkspace.toStdString(), id = mRunId.toStdString(), out = path.toStdString(), k = kind.toStdString();
    runInBackground<bool>(
        this,
        [ws, id, out, k] {
            if (k == "pairs") {
                Workspace store = Workspace::openReadOnly(ws);
                writeFileAtomically(out, trlPairsJsonl(store, id));
            } else if (k == "model") {
                Workspace store = Workspace::openReadOnly(ws);
                exportStudent(store, ws, id, out);
            } else {
                Workspace store = Workspace::openReadOnly(ws);
                writeReport(store, id, parseReportFormat(k), out);
            }
            return true;
        },
        [this, kind, path](const TaskOutcome<bool> &outcome) {
            if (outcome.value)
                Q_EMIT exported(kind, path);
            else
                Q_EMIT failed(outcome.error);
        });
}

} // namespace plad::ui
