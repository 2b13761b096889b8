#pragma once

#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QtConcurrent/QtConcurrentRun>

#include <exception>
#include <functional>
#include <optional>

namespace plad::ui {

/** What a background task produced: a value, or the message of the exception it threw. */
template<typename R>
struct TaskOutcome
{
    std::optional<R> value;
    QString error;
};

/**
 * Runs `work` on Qt's thread pool (database reads and writes, file reads: anything that may
 * wait on the disk) and calls `done` with its outcome on `context`'s thread. Nothing is called
 * when `context` is gone by then.
 */
template<typename R>
void runInBackground(QObject *context, std::function<R()> work, std::function<void(const TaskOutcome<R> &)> done)
{
    auto *watcher = new QFutureWatcher<TaskOutcome<R>>(context);
    QObject::connect(watcher, &QFutureWatcher<TaskOutcome<R>>::finished, context, [watcher, done] {
        done(watcher->result());
        watcher->deleteLater();
    });
    watcher->setFuture(QtConcurrent::run([work]() -> TaskOutcome<R> {
        TaskOutcome<R> outcome;
        try {
            outcome.value = work();
        } catch (const std::exception &e) {
            outcome.error = QString::fromUtf8(e.what());
        }
        return outcome;
    }));
}

} // namespace plad::ui
