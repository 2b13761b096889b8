#pragma once

#include "jobs/storewatcher.h"
#include "report/chartcatalog.h"

#include <qcustomplot.h>

#include <utility>
#include <vector>

namespace plad::ui {

/**
 * One training chart of the catalog (the report draws the same one as SVG): its lines fed
 * point by point, zoom and pan with the mouse, a read-out of the nearest point under the
 * cursor, and export as PNG, PDF or SVG from the context menu. Appending only marks the chart
 * dirty; refresh() (called by a timer at most ~10 times a second) replots.
 */
class MetricChart : public QCustomPlot
{
    Q_OBJECT

public:
    MetricChart(const CatalogChart &spec, QWidget *parent = nullptr);

    const CatalogChart &spec() const { return mSpec; }
    /** Colours follow the method ("plad", "seqkd", ...), as in the report. */
    void setMethod(const QString &method);
    /** Empties every line and drops lines added with addSeries(). */
    void clear();
    /** Routes a sample to every line of this metric; returns whether one took it. */
    bool append(const MetricSample &sample);
    /** Adds a whole series as its own line, e.g. another run's curve in the Runs overlay. */
    void addSeries(const QString &label, const QString &colour, const std::vector<std::pair<double, double>> &points);
    bool hasData() const;
    int pointCount() const;
    /** Replots when something changed since the last call. */
    void refresh();
    /** The chart as the report renders it (SVG text). */
    std::string toSvg() const;
    /** Writes PNG, PDF or SVG by the file's suffix; false with a reason on failure. */
    bool exportTo(const QString &file, QString *error = nullptr);

protected:
    void changeEvent(QEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void contextMenuEvent(QContextMenuEvent *event) override;

private:
    struct Line
    {
        CatalogLine spec;
        QString label, colour;
        QCPGraph *graph = nullptr;
        std::vector<std::pair<double, double>> points;
        double ema = 0, correction = 0; // bias-corrected moving average, as the report's smoothing
        bool perRank = false;           // one rank's line, made when its first point came
    };
    Line &addLine(const QString &label, const QString &colour, bool dashed);
    void rescale();

    CatalogChart mSpec;
    QString mMethod = QStringLiteral("plad");
    std::vector<Line> mLines;
    bool mDirty = false;
    bool mUserZoomed = false;
};

} // namespace plad::ui
