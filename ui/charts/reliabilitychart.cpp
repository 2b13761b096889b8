#include "charts/reliabilitychart.h"

#include "charts/chartpalette.h"

#include "report/chartcatalog.h"
#include "report/svgchart.h"

#include <nlohmann/json.hpp>

namespace plad::ui {
namespace {

/** Bin centres and accuracies of bins that hold any token. */
std::pair<QVector<double>, QVector<double>> binsOf(const nlohmann::json &calibration)
{
    QVector<double> centres, accuracy;
    for (const auto &b : calibration.value("bins", nlohmann::json::array()))
        if (b.value("count", 0) > 0) {
            centres.push_back((b["lower"].get<double>() + b["upper"].get<double>()) / 2);
            accuracy.push_back(b["accuracy"].get<double>());
        }
    return {centres, accuracy};
}

} // namespace

ReliabilityChart::ReliabilityChart(QWidget *parent)
    : QCustomPlot(parent)
{
    setObjectName(QStringLiteral("reliability"));
    setMinimumSize(360, 280);
    plotLayout()->insertRow(0);
    mTitle = new QCPTextElement(this, QString::fromLatin1(reliabilityTitle), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
    plotLayout()->addElement(0, 0, mTitle);
    xAxis->setLabel(tr("confidence of the top token (probability)"));
    yAxis->setLabel(tr("accuracy (share of top tokens that are right)"));
    xAxis->setRange(0, 1);
    yAxis->setRange(0, 1);
    auto *diagonal = addGraph();
    diagonal->setName(tr("perfect calibration"));
    diagonal->setPen(QPen(QColor("#777777"), 1, Qt::DashLine));
    diagonal->setData({0.0, 1.0}, {0.0, 1.0});
    mFirst = new QCPBars(xAxis, yAxis);
    mFirst->setPen(Qt::NoPen);
    mFirst->setBrush(QColor(140, 86, 75, 120)); // the report's "before" colour (#8c564b), translucent
    mLatest = new QCPBars(xAxis, yAxis);
    setMethod(QStringLiteral("plad"));
    legend->setVisible(true);
    applyChartPalette(this, palette());
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
    clear();
}

void ReliabilityChart::setMethod(const QString &method)
{
    QColor colour(QString::fromStdString(methodColour(method.toStdString())));
    colour.setAlpha(170);
    mLatest->setPen(Qt::NoPen);
    mLatest->setBrush(colour);
    replot(QCustomPlot::rpQueuedReplot);
}

void ReliabilityChart::clear()
{
    mFirst->data()->clear();
    mLatest->data()->clear();
    mFirst->setName(tr("first evaluation"));
    mLatest->setName(tr("latest evaluation"));
    mHasFirst = false;
    mFirstStep = mLatestStep = -1;
    replot(QCustomPlot::rpQueuedReplot);
}

void ReliabilityChart::addEvaluation(qint64 step, const QByteArray &resultJson)
{
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(resultJson.toStdString());
    } catch (const nlohmann::json::exception &) {
        return; // not a calibration result: nothing to draw
    }
    if (!doc.contains("token_calibration"))
        return;
    const auto &calibration = doc["token_calibration"];
    const auto [centres, accuracy] = binsOf(calibration);
    const double width = calibration.value("bins", nlohmann::json::array()).empty()
                             ? 1.0 / 15
                             : 1.0 / static_cast<double>(calibration["bins"].size());
    if (!mHasFirst) {
        mHasFirst = true;
        mFirstStep = step;
        mFirstEce = calibration.value("ece", 0.0);
        mFirst->setWidth(width);
        mFirst->setData(centres, accuracy);
        mFirst->setName(tr("step %1, ECE %2").arg(step).arg(mFirstEce, 0, 'f', 4));
    }
    mLatestStep = step;
    mLatestEce = calibration.value("ece", 0.0);
    mLatest->setWidth(width * 0.6);
    mLatest->setData(centres, accuracy);
    mLatest->setName(tr("step %1, ECE %2").arg(step).arg(mLatestEce, 0, 'f', 4));
    replot(QCustomPlot::rpQueuedReplot);
}

void ReliabilityChart::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::PaletteChange)
        applyChartPalette(this, palette());
    QCustomPlot::changeEvent(event);
}

} // namespace plad::ui
