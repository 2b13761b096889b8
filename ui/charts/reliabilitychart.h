#pragma once

#include <QByteArray>

#include <qcustomplot.h>

namespace plad::ui {

/**
 * The token-level reliability diagram (the report's, live): accuracy per confidence bin at
 * the first evaluation (grey) and the latest (the method's colour), against the diagonal of
 * perfect calibration. Fed the calibration evaluations the engine stores.
 */
class ReliabilityChart : public QCustomPlot
{
    Q_OBJECT

public:
    explicit ReliabilityChart(QWidget *parent = nullptr);

    void setMethod(const QString &method);
    void clear();
    /** Takes a stored calibration evaluation (JSON with "token_calibration": {"bins": [...], "ece"}). */
    void addEvaluation(qint64 step, const QByteArray &resultJson);
    bool hasData() const { return mHasFirst; }
    /** The steps shown: first and latest (-1 when none). */
    qint64 firstStep() const { return mFirstStep; }
    qint64 latestStep() const { return mLatestStep; }

protected:
    void changeEvent(QEvent *event) override;

private:
    QCPBars *mFirst = nullptr;
    QCPBars *mLatest = nullptr;
    QCPTextElement *mTitle = nullptr;
    bool mHasFirst = false;
    qint64 mFirstStep = -1, mLatestStep = -1;
    double mFirstEce = 0, mLatestEce = 0;
};

} // namespace plad::ui
