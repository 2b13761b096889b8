#include "charts/chartpalette.h"

#include <qcustomplot.h>

#include <QPalette>

namespace plad::ui {
namespace {

QColor mix(const QColor &a, const QColor &b, double t)
{
    return QColor::fromRgbF(static_cast<float>(a.redF() * (1 - t) + b.redF() * t), static_cast<float>(a.greenF() * (1 - t) + b.greenF() * t),
                            static_cast<float>(a.blueF() * (1 - t) + b.blueF() * t));
}

} // namespace

void applyChartPalette(QCustomPlot *plot, const QPalette &palette)
{
    const QColor base = palette.color(QPalette::Base), text = palette.color(QPalette::Text);
    plot->setBackground(base);
    plot->axisRect()->setBackground(base);
    for (QCPAxis *axis : plot->axisRect()->axes()) {
        axis->setBasePen(QPen(text, 1));
        axis->setTickPen(QPen(text, 1));
        axis->setSubTickPen(QPen(text, 1));
        axis->setTickLabelColor(text);
        axis->setLabelColor(text);
        axis->grid()->setPen(QPen(mix(base, text, 0.18), 1, Qt::DotLine));
        axis->grid()->setSubGridPen(QPen(mix(base, text, 0.08), 1, Qt::DotLine));
        axis->grid()->setZeroLinePen(QPen(mix(base, text, 0.35), 1));
    }
    QColor legendBox = base;
    legendBox.setAlpha(210); // lines stay visible under the legend
    plot->legend->setBrush(legendBox);
    plot->legend->setBorderPen(QPen(mix(base, text, 0.4)));
    plot->legend->setTextColor(text);
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
        if (auto *title = qobject_cast<QCPTextElement *>(plot->plotLayout()->elementAt(i)))
            title->setTextColor(text);
    plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace plad::ui
