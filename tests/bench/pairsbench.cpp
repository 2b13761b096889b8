// How the pair inspector copes with a big run: writes a run with 100,000 pairs to a fresh
// workspace (or reuses it), then times, in a real window, opening the run until its first rows
// are painted, jumping to the end and to the middle until those rows are there, sorting by loss,
// and a search, and prints the figures with the process's resident memory. Run offscreen:
//   QT_QPA_PLATFORM=offscreen build/release/tests/plad-pairs-bench [pairs] [workspace]
#include "pairs/pairinspector.h"
#include "manypairs.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QHeaderView>
#include <QScrollBar>
#include <QTableView>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>
#include <filesystem>
#include <functional>

namespace {

/** Runs the event loop until `done` holds (checked every millisecond); the milliseconds it took. */
double until(const std::function<bool()> &done)
{
    QElapsedTimer t;
    t.start();
    while (!done()) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 1);
        if (t.elapsed() > 60000) {
            std::fprintf(stderr, "timed out\n");
            std::exit(1);
        }
    }
    return static_cast<double>(t.nsecsElapsed()) / 1e6;
}

long residentMiB()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n'))
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').front().toLong() / 1024;
    return -1;
}

} // namespace

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    const qint64 count = argc > 1 ? QString::fromLocal8Bit(argv[1]).toLongLong() : 100000;
    QTemporaryDir tmp;
    const std::filesystem::path ws = argc > 2 ? std::filesystem::path(argv[2]) : std::filesystem::path(tmp.path().toStdString()) / "ws";
    QElapsedTimer t;
    t.start();
    std::string run = "r0001-plad";
    if (!std::filesystem::exists(ws / plad::Workspace::fileName))
        run = plad::test::fillManyPairs(ws, count);
    std::printf("pairs: a run with %lld pairs in %s (%s in %.1f s)\n", static_cast<long long>(count), ws.string().c_str(),
                argc > 2 ? "reused or written" : "written", static_cast<double>(t.elapsed()) / 1000.0);
    const long before = residentMiB();

    plad::ui::PairInspector pairs;
    pairs.resize(1200, 800);
    pairs.show();
    auto *model = pairs.model();
    QTableView *table = pairs.table();
    bool loaded = false;
    QObject::connect(&pairs, &plad::ui::PairInspector::loaded, [&] { loaded = true; });
    pairs.showRun(QString::fromStdString(ws.string()), QString::fromStdString(run));
    const double open = until([&] { return loaded; });
    QCoreApplication::processEvents(); // the paint
    std::printf("open the run until its first rows are shown: %.0f ms (%d rows listed, %d page(s) of %d read)\n", open, model->rowCount(),
                model->pagesLoaded(), plad::ui::PairTableModel::pageSize);
    auto jump = [&](const char *what, int row) {
        table->scrollTo(model->index(row, 0));
        const double ms = until([&] { return model->summary(row) != nullptr; });
        std::printf("%s (row %d): %.1f ms until its rows are there\n", what, row, ms);
    };
    jump("jump to the end", model->rowCount() - 1);
    jump("jump to the middle", model->rowCount() / 2);
    // Page by page through the first 5,000 rows, as a user holding Page Down.
    QElapsedTimer scroll;
    scroll.start();
    int worst = 0;
    for (int row = 0; row < std::min(5000, model->rowCount()); row += 40) {
        QElapsedTimer one;
        one.start();
        table->scrollTo(model->index(row, 0), QAbstractItemView::PositionAtTop);
        until([&] { return model->summary(row) != nullptr; });
        QCoreApplication::processEvents();
        worst = std::max(worst, static_cast<int>(one.elapsed()));
    }
    std::printf("page down through 5,000 rows (40 a page): %.0f ms in all, worst page %d ms\n", static_cast<double>(scroll.elapsed()), worst);
    bool listed = false;
    QObject::connect(model, &plad::ui::PairTableModel::idsLoaded, [&] { listed = true; });
    table->sortByColumn(plad::ui::PairTableModel::Loss, Qt::DescendingOrder);
    double ms = until([&] { return listed && model->summary(0) != nullptr; });
    std::printf("sort by loss, highest first: %.0f ms until the first rows are shown\n", ms);
    listed = false;
    pairs.setSearch(QStringLiteral("student says 4242"));
    ms = until([&] { return listed; });
    std::printf("search \"student says 4242\": %.0f ms (%d rows)\n", ms, model->rowCount());
    std::printf("resident memory: %ld MiB before opening, %ld MiB after (pages held: %d)\n", before, residentMiB(), model->pagesLoaded());
    return 0;
}
