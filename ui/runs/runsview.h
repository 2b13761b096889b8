#pragma once

#include "store/workspace.h"

#include <QString>
#include <QWidget>

#include <functional>
#include <vector>

class QLabel;
class QTableWidget;
class QTreeWidget;

namespace plad::ui {

class MetricChart;

/** A run as the Runs table shows it. */
struct RunSummary
{
    RunRecord record;
    qint64 steps = 0;
    double heldOutAccuracy = -1; ///< last held-out pair ranking accuracy; negative when none
    double ece = -1;             ///< last token ECE; negative when none
};

/**
 * Every run of the workspace: status, method, key metrics and dates. Open a run (its curves,
 * pairs and report), select several to overlay their curves and see the configuration fields
 * that differ, rename, tag, resume and delete (after a confirmation). All database work runs in
 * the background.
 */
class RunsView : public QWidget
{
    Q_OBJECT

public:
    explicit RunsView(QWidget *parent = nullptr);

    void setWorkspace(const QString &workspace);
    QString workspace() const { return mWorkspace; }
    /** Reloads the table from the store (in the background); emits refreshed() when done. */
    void refresh();
    const std::vector<RunSummary> &runs() const { return mRuns; }
    /** Selects these runs and shows their comparison (overlay and configuration diff). */
    void compare(const QStringList &runIds);
    /** Rows of the configuration diff shown: {field, value per run...}. */
    QList<QStringList> configDifferences() const;

    /** Selects the run's row (false when it is not in the table). */
    bool selectRun(const QString &runId);
    /** Opens the rename or tags dialog of the selected run, filled with its current value (non-modal). */
    void rename();
    void editTags();
    /** Tags as the dialog shows them ("a, b") and back (trimmed, empty and repeated ones dropped). */
    static QString tagsText(const std::vector<std::string> &tags);
    static std::vector<std::string> parseTags(const QString &text);

    /** Dotted fields whose values differ between the configs (JSON texts), with each run's value. */
    static QList<QStringList> diffConfigs(const std::vector<std::string> &configJsons);

Q_SIGNALS:
    void refreshed();
    void compared();
    void openRun(const QString &runId, const QString &method);
    void resumeRun(const QString &runId);
    void evaluateRun(const QString &runId);
    void failed(const QString &message);

private:
    QStringList selectedIds() const;
    /** Writes to the workspace in the background, then reloads the table; a failure is shown under `title`. */
    void writeInBackground(const QString &title, std::function<void(Workspace &)> write);
    const RunSummary *summaryOf(const QString &runId) const;
    void remove();

    QString mWorkspace;
    std::vector<RunSummary> mRuns;
    QTableWidget *mTable = nullptr;
    QTreeWidget *mDiff = nullptr;
    MetricChart *mOverlayAccuracy = nullptr;
    MetricChart *mOverlayLoss = nullptr;
    QLabel *mStatus = nullptr;
    QList<QStringList> mDifferences;
};

} // namespace plad::ui
