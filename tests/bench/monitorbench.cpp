// How the live monitor copes with a long run: appends 100,000 steps of metrics to the charts
// the way the store watcher delivers them (batches, replots at most ten times a second) and
// prints how long each replot of the loss chart takes. Run offscreen:
//   QT_QPA_PLATFORM=offscreen build/release/tests/plad-monitor-bench [steps]
#include "charts/metricchart.h"
#include "report/chartcatalog.h"

#include <QApplication>
#include <QElapsedTimer>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    const qint64 steps = argc > 1 ? QString::fromLocal8Bit(argv[1]).toLongLong() : 100000;
    const qint64 batch = 250; // points per watcher delivery at ~4 deliveries a second
    plad::ui::MetricChart chart(plad::trainingCharts().front()); // training loss: raw and smoothed
    chart.resize(900, 420);
    chart.show();
    std::vector<double> replotMs;
    QElapsedTimer total;
    total.start();
    for (qint64 step = 1; step <= steps; ++step) {
        chart.append({QStringLiteral("loss"), step, 3.0 * std::exp(-static_cast<double>(step) / 30000.0) + 0.3 * std::sin(static_cast<double>(step))});
        if (step % batch == 0 || step == steps) {
            QElapsedTimer t;
            t.start();
            chart.refresh();
            chart.replot(QCustomPlot::rpImmediateRefresh);
            replotMs.push_back(static_cast<double>(t.nsecsElapsed()) / 1e6);
        }
    }
    std::sort(replotMs.begin(), replotMs.end());
    const auto at = [&](double q) { return replotMs[std::min(replotMs.size() - 1, static_cast<size_t>(q * static_cast<double>(replotMs.size())))]; };
    std::printf("monitor: %lld steps (%d points on the loss chart), %zu replots\n", static_cast<long long>(steps), chart.pointCount(), replotMs.size());
    std::printf("replot of the loss chart: median %.1f ms, 95th percentile %.1f ms, worst %.1f ms (budget at 10 replots/s: 100 ms)\n", at(0.5),
                at(0.95), replotMs.back());
    std::printf("whole run: %.1f s\n", static_cast<double>(total.elapsed()) / 1000.0);
    return 0;
}
