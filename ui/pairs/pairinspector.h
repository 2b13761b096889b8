#pragma once

#include "store/workspace.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QSet>
#include <QThreadPool>
#include <QWidget>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QTableView;
class QTextBrowser;
class QTimer;
class QUndoStack;

namespace plad {
class Tokenizer;
}

namespace plad::ui {

/**
 * A run's pairs as a table that pages: the store gives the ids that pass the filter in the
 * chosen order, and rows are read a page at a time, in the background, when the view first
 * shows them (a run with 10^5 pairs opens without reading them). Rows not read yet show as
 * "loading"; clicking a header sorts in the store. An annotation changed after training last
 * read the run's annotations is marked pending until the next epoch reads it.
 */
class PairTableModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column { Id, Split, Prompt, InitialMargin, CurrentMargin, Loss, Labeller, Annotation, ColumnCount };
    static constexpr int pageSize = 200;

    explicit PairTableModel(QObject *parent = nullptr);

    /** Shows the run's pairs under `query` (reads the ids in the background; emits idsLoaded()). */
    void load(const QString &workspace, const QString &runId, const PairQuery &query);
    /** Reads the ids again under the same run and a new query. */
    void setQuery(const PairQuery &query);
    const PairQuery &query() const { return mQuery; }
    /** The row if its page is read, else nothing (its page is then asked for). */
    const PairSummary *summary(int row) const;
    int64_t pairIdAt(int row) const { return row >= 0 && row < static_cast<int>(mIds.size()) ? mIds[static_cast<size_t>(row)] : -1; }
    int rowOf(int64_t pairId) const;
    /** Pages held in memory now (for tests and the paging benchmark). */
    int pagesLoaded() const { return static_cast<int>(mPages.size()); }
    /** Replaces a row's pair as the store now has it. */
    void updatePair(const StoredPair &pair);
    /** Shows `annotation` (or none) on the pair at once, before the store has it, and marks it pending. */
    void setAnnotationLocally(int64_t pairId, const std::optional<PairAnnotation> &annotation);
    /** Whether the pair's annotation changed after training last read the annotations. */
    bool isPending(int64_t pairId) const;
    /** When training last read the annotations (UTC ISO 8601, empty: never); rows are re-marked when it changes. */
    void setAnnotationsReadAt(const QString &time);
    QString annotationsReadAt() const { return mReadAt; }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    /** Sorting is the store's: a new id list in that order. */
    void sort(int column, Qt::SortOrder order) override;

Q_SIGNALS:
    /** The id list under the current query arrived (`rows` of them). */
    void idsLoaded(int rows);
    void pageLoaded(int page);
    void failed(const QString &message);

private:
    void requestPage(int page) const;
    void reload();
    /** The row's pending state, without looking the row up (data() has it). */
    bool isPending(const PairSummary &row) const;
    bool changedHereSinceRead(int64_t pairId) const;

    QString mWorkspace, mRunId;
    PairQuery mQuery;
    std::vector<int64_t> mIds;
    std::map<int, std::vector<PairSummary>> mPages;
    mutable QSet<int> mRequested;
    mutable std::vector<int> mRecentPages; ///< most recently used last; the oldest are dropped past the cache size
    int mGeneration = 0;                   ///< answers for an older id list are dropped
    QString mReadAt;
    QHash<qint64, QString> mLocalChanges;  ///< pair id -> when this window changed its annotation (UTC ISO 8601)
};

/**
 * The pair inspector: the run's pseudo-preference pairs (paged, filterable, sortable) and the
 * detail of the selected one (prompt, the two outputs side by side with tokens tinted by the
 * student's log-probability and a word-level diff). Annotations (flip f, discard d, weight w,
 * note n, clear c; j/k move) are saved to the run store at once, one after another in the
 * order made, and can be undone and redone (Ctrl+Z, Ctrl+Shift+Z); the trainer reads them at
 * its next epoch. A key that would replace a weight asks first; a note is kept when the action
 * changes.
 */
class PairInspector : public QWidget
{
    Q_OBJECT

public:
    explicit PairInspector(QWidget *parent = nullptr);
    ~PairInspector() override;

    /** Loads the run's pairs (ids, then the first page) in the background; emits loaded() when shown. */
    void showRun(const QString &workspace, const QString &runId);
    QString runId() const { return mRunId; }
    PairTableModel *model() const { return mModel; }
    QTableView *table() const { return mTable; }
    QUndoStack *undoStack() const { return mUndo; }
    /** Shows only the pairs the filter lets through; emits loaded() when the new list is shown. */
    void setFilter(PairQuery::Filter filter);
    void setSearch(const QString &text);
    /** Selects the pair in the table (it must pass the current filter). */
    bool selectPair(int64_t pairId);
    int64_t currentPairId() const;
    /**
     * Annotates the current pair (an undoable command). Replacing a weight with another action
     * asks first (a question box named "replaceAnnotationQuestion"); the pair's note is kept.
     */
    void annotateCurrent(AnnotationAction action, double weight = 1.0, const std::string &note = {});
    void clearCurrentAnnotation();
    /** The text of the detail panes (prompt, y+, y-), for tests. */
    QString detailText() const;

Q_SIGNALS:
    void loaded(int pairs);
    /** An annotation write (a change, an undo or a redo) reached the store. */
    void annotated(qint64 pairId);
    /** The selected pair's detail is shown. */
    void detailShown(qint64 pairId);
    void failed(const QString &message);

private:
    friend class AnnotationCommand;
    void showDetail();
    void move(int delta);
    /** Writes `annotation` (none: clears it) for the pair, after every write asked for before. */
    void writeAnnotation(int64_t pairId, const std::optional<PairAnnotation> &annotation);
    void pushAnnotation(int64_t pairId, const std::optional<PairAnnotation> &before, const std::optional<PairAnnotation> &after);
    void pollReadAt();
    void finishLoading();

    QString mWorkspace, mRunId;
    std::shared_ptr<const Tokenizer> mTokenizer;
    PairTableModel *mModel = nullptr;
    QTableView *mTable = nullptr;
    QComboBox *mQuick = nullptr;
    QLineEdit *mSearch = nullptr;
    QTimer *mSearchDelay = nullptr;
    QTimer *mReadAtPoll = nullptr;
    QTextBrowser *mPrompt = nullptr;
    QTextBrowser *mChosen = nullptr;
    QTextBrowser *mRejected = nullptr;
    QLabel *mStatus = nullptr;
    QLabel *mQuality = nullptr;
    QUndoStack *mUndo = nullptr;
    QThreadPool mWrites; ///< one thread: annotation writes reach the store in the order they were made
    int64_t mDetailFor = -1;
    bool mSelectFirst = false;
    bool mHeaderPending = false, mAwaitingFirstPage = false;
    int mListedRows = -1;
};

} // namespace plad::ui
