#include "charts/metricchart.h"

#include "common/fileio.h"
#include "common/lastpaths.h"
#include "report/svgchart.h"
#include "charts/chartpalette.h"

#include <QContextMenuEvent>
#include <QFileDialog>
#include <QMenu>
#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <limits>

namespace plad::ui {
namespace {

constexpr double smoothingWeight = 0.9; // the report's smoothed() default

} // namespace

MetricChart::MetricChart(const CatalogChart &spec, QWidget *parent)
    : QCustomPlot(parent)
    , mSpec(spec)
{
    setObjectName(QString::fromStdString(spec.id));
    setMinimumSize(360, 240);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    setPlottingHint(QCP::phFastPolylines); // long runs: one polyline per line, not segment by segment
    plotLayout()->insertRow(0);
    auto *title = new QCPTextElement(this, QString::fromStdString(spec.title), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
    plotLayout()->addElement(0, 0, title);
    xAxis->setLabel(QString::fromStdString(spec.xLabel));
    yAxis->setLabel(QString::fromStdString(spec.yLabel));
    legend->setFont(QFont(font().family(), font().pointSize() - 1));
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    for (const auto &l : spec.lines)
        if (!l.perRank) // per-rank lines appear with their first point
            addLine(QString::fromStdString(l.label), QString::fromStdString(lineColour(l.role, mMethod.toStdString())), l.role == LineRole::Secondary)
                .spec = l;
    legend->setVisible(!mLines.empty());
    if (spec.yMin && spec.yMax)
        yAxis->setRange(*spec.yMin, *spec.yMax);
    applyChartPalette(this, palette());
    connect(this, &QCustomPlot::mouseWheel, this, [this] { mUserZoomed = true; });
    connect(this, &QCustomPlot::mousePress, this, [this] { mUserZoomed = true; });
    connect(this, &QCustomPlot::mouseDoubleClick, this, [this] {
        mUserZoomed = false;
        rescale();
        replot();
    });
}

MetricChart::Line &MetricChart::addLine(const QString &label, const QString &colour, bool dashed)
{
    Line line;
    line.label = label;
    line.colour = colour;
    line.graph = addGraph();
    line.graph->setName(label);
    QPen pen(QColor(colour), 1.6);
    if (dashed)
        pen.setStyle(Qt::DashLine);
    line.graph->setPen(pen);
    mLines.push_back(std::move(line));
    legend->setVisible(true);
    return mLines.back();
}

void MetricChart::setMethod(const QString &method)
{
    mMethod = method;
    for (auto &l : mLines) {
        if (l.spec.metric.empty() || l.perRank)
            continue;
        l.colour = QString::fromStdString(lineColour(l.spec.role, method.toStdString()));
        QPen pen = l.graph->pen();
        pen.setColor(QColor(l.colour));
        l.graph->setPen(pen);
    }
    mDirty = true;
}

void MetricChart::clear()
{
    // Lines added for comparison and per-rank lines go; the catalog's lines stay, empty.
    for (auto it = mLines.begin(); it != mLines.end();) {
        if (it->spec.metric.empty() || it->perRank) {
            removeGraph(it->graph);
            it = mLines.erase(it);
            continue;
        }
        it->graph->data()->clear();
        it->points.clear();
        it->ema = it->correction = 0;
        ++it;
    }
    mUserZoomed = false;
    legend->setVisible(!mLines.empty());
    mDirty = true;
}

bool MetricChart::append(const MetricSample &sample)
{
    bool taken = false;
    const std::string name = sample.name.toStdString();
    // A rank's first point makes its line.
    for (const auto &l : mSpec.lines)
        if (const int rank = rankOfMetric(l, name); rank >= 0
            && std::none_of(mLines.begin(), mLines.end(), [&](const Line &line) { return line.spec.metric == name; })) {
            Line &line = addLine(QString::fromStdString(l.label + " " + std::to_string(rank)), QString::fromStdString(rankColour(rank)), true);
            line.spec = {name, l.label, LineRole::Secondary, false};
            line.perRank = true;
        }
    for (auto &l : mLines) {
        if (l.spec.metric != name)
            continue;
        double y = sample.value;
        if (l.spec.role == LineRole::Smoothed) {
            l.ema = smoothingWeight * l.ema + (1 - smoothingWeight) * y;
            l.correction = smoothingWeight * l.correction + (1 - smoothingWeight);
            y = l.ema / l.correction;
        }
        const auto x = static_cast<double>(sample.step);
        l.points.emplace_back(x, y);
        l.graph->addData(x, y);
        taken = true;
    }
    mDirty = mDirty || taken;
    return taken;
}

void MetricChart::addSeries(const QString &label, const QString &colour, const std::vector<std::pair<double, double>> &points)
{
    Line &line = addLine(label, colour, false);
    line.points = points;
    for (const auto &[x, y] : points)
        line.graph->addData(x, y);
    mDirty = true;
}

bool MetricChart::hasData() const
{
    return pointCount() > 0;
}

int MetricChart::pointCount() const
{
    int n = 0;
    for (const auto &l : mLines)
        n += static_cast<int>(l.points.size());
    return n;
}

void MetricChart::rescale()
{
    rescaleAxes();
    if (mSpec.yMin && mSpec.yMax)
        yAxis->setRange(*mSpec.yMin, *mSpec.yMax);
    else
        yAxis->scaleRange(1.08, yAxis->range().center());
}

void MetricChart::refresh()
{
    if (!mDirty)
        return;
    mDirty = false;
    if (!mUserZoomed && hasData())
        rescale();
    // Past a few thousand points per line antialiasing costs more than it shows: draw them crisp.
    const bool dense = pointCount() > 20000;
    for (auto &l : mLines)
        l.graph->setAntialiased(!dense);
    replot(QCustomPlot::rpQueuedReplot);
}

std::string MetricChart::toSvg() const
{
    LineChart chart;
    chart.title = mSpec.title;
    chart.xLabel = mSpec.xLabel;
    chart.yLabel = mSpec.yLabel;
    chart.yMin = mSpec.yMin;
    chart.yMax = mSpec.yMax;
    for (const auto &l : mLines)
        chart.series.push_back({l.label.toStdString(), l.colour.toStdString(), l.points, l.spec.role == LineRole::Secondary});
    return renderLineChart(chart);
}

bool MetricChart::exportTo(const QString &file, QString *error)
{
    const QString suffix = QFileInfo(file).suffix().toLower();
    bool ok = false;
    try {
        if (suffix == QLatin1String("svg")) {
            writeFileAtomically(file.toStdString(), toSvg());
            ok = true;
        } else if (suffix == QLatin1String("pdf")) {
            ok = savePdf(file);
        } else if (suffix == QLatin1String("png")) {
            ok = savePng(file, 0, 0, 2.0);
        } else {
            if (error)
                *error = tr("%1: choose a .png, .pdf or .svg file").arg(file);
            return false;
        }
    } catch (const std::exception &e) {
        if (error)
            *error = QString::fromUtf8(e.what());
        return false;
    }
    if (!ok && error)
        *error = tr("%1: could not be written").arg(file);
    return ok;
}

void MetricChart::mouseMoveEvent(QMouseEvent *event)
{
    QCustomPlot::mouseMoveEvent(event);
    // The nearest point (in pixels) of any line under the cursor.
    const QPointF pos = event->position();
    double best = std::numeric_limits<double>::infinity();
    QString text;
    for (const auto &l : mLines) {
        if (l.points.empty() || !l.graph->visible())
            continue;
        const double x = xAxis->pixelToCoord(pos.x());
        auto it = l.graph->data()->findBegin(x, true);
        for (int k = 0; k < 2 && it != l.graph->data()->constEnd(); ++k, ++it) {
            const double px = xAxis->coordToPixel(it->key), py = yAxis->coordToPixel(it->value);
            const double d = std::hypot(px - pos.x(), py - pos.y());
            if (d < best) {
                best = d;
                text = tr("%1\nstep %2: %3").arg(l.label).arg(it->key, 0, 'f', 0).arg(it->value, 0, 'g', 5);
            }
        }
    }
    if (best < 24)
        QToolTip::showText(event->globalPosition().toPoint(), text, this);
    else
        QToolTip::hideText();
}

void MetricChart::contextMenuEvent(QContextMenuEvent *event)
{
    QMenu menu(this);
    menu.addAction(tr("Reset zoom"), this, [this] {
        mUserZoomed = false;
        rescale();
        replot();
    });
    menu.addAction(tr("Export chart..."), this, [this] {
        const QString file = QFileDialog::getSaveFileName(this, tr("Export chart"), lastFolder(QStringLiteral("chart")) + QLatin1Char('/') + QString::fromStdString(mSpec.id) + QStringLiteral(".png"),
                                                          tr("PNG image (*.png);;PDF document (*.pdf);;SVG image (*.svg)"));
        if (file.isEmpty())
            return;
        rememberFolder(QStringLiteral("chart"), file);
        QString error;
        if (!exportTo(file, &error))
            QMessageBox::warning(this, tr("Export chart"), error);
    });
    menu.exec(event->globalPos());
}

void MetricChart::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::PaletteChange)
        applyChartPalette(this, palette());
    QCustomPlot::changeEvent(event);
}

} // namespace plad::ui
