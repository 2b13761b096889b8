#pragma once

#include "store/workspace.h"

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QWidget>

#include <functional>
#include <memory>
#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QTableView;
class QTextBrowser;

namespace plad {
class Tokenizer;
}

namespace plad::ui {

/** A pair with everything the inspector shows about it. */
struct PairRow
{
    StoredPair pair;
    std::string split;          ///< "train" or "validation" (held out)
    std::string prompt, reference;
    StoredOutput chosen, rejected;
};

/** The pairs of a run as a table: id, prompt start, margins, loss, labeller and verdict, annotation. */
class PairTableModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column { Id, Split, Prompt, InitialMargin, CurrentMargin, Loss, Labeller, Annotation, ColumnCount };
    /** Qt::UserRole carries the sortable value (numbers as numbers). */
    using QAbstractTableModel::QAbstractTableModel;

    void setRows(std::vector<PairRow> rows);
    const PairRow &row(int index) const { return mRows[static_cast<size_t>(index)]; }
    int rowOf(int64_t pairId) const;
    void updatePair(const StoredPair &pair);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<PairRow> mRows;
};

/** Quick filters and text search over the pair table. */
class PairFilterModel : public QSortFilterProxyModel
{
    Q_OBJECT

public:
    enum class Quick { All, Inverted, Hardest, JudgeDisagreements, Annotated, HeldOut };
    using QSortFilterProxyModel::QSortFilterProxyModel;
    void setQuick(Quick quick);
    void setSearch(const QString &text);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    Quick mQuick = Quick::All;
    QString mSearch;
    double mHardestLoss = 0; ///< loss threshold of the hardest tenth
};

/**
 * The pair inspector: a sortable, filterable table of a run's pseudo-preference pairs and the
 * detail of the selected one (prompt, the two outputs side by side with tokens tinted by the
 * student's log-probability and a word-level diff). Annotations (flip f, discard d, weight w,
 * note n, clear c; j/k move) are saved to the run store at once; the trainer reads them at its
 * next epoch.
 */
class PairInspector : public QWidget
{
    Q_OBJECT

public:
    explicit PairInspector(QWidget *parent = nullptr);

    /** Loads the run's pairs in the background; emits loaded() when shown. */
    void showRun(const QString &workspace, const QString &runId);
    QString runId() const { return mRunId; }
    PairTableModel *model() const { return mModel; }
    PairFilterModel *filter() const { return mFilter; }
    QTableView *table() const { return mTable; }
    /** Selects the pair in the table (it must pass the current filter). */
    bool selectPair(int64_t pairId);
    int64_t currentPairId() const;
    /** Saves an annotation of the current pair; emits annotated() when stored. */
    void annotateCurrent(AnnotationAction action, double weight = 1.0, const std::string &note = {});
    void clearCurrentAnnotation();

Q_SIGNALS:
    void loaded(int pairs);
    void annotated(qint64 pairId);
    void failed(const QString &message);

private:
    void showDetail();
    void move(int delta);
    void storeAnnotation(int64_t pairId, std::function<void(Workspace &)> write);

    QString mWorkspace, mRunId;
    std::shared_ptr<const Tokenizer> mTokenizer;
    PairTableModel *mModel = nullptr;
    PairFilterModel *mFilter = nullptr;
    QTableView *mTable = nullptr;
    QComboBox *mQuick = nullptr;
    QLineEdit *mSearch = nullptr;
    QTextBrowser *mPrompt = nullptr;
    QTextBrowser *mChosen = nullptr;
    QTextBrowser *mRejected = nullptr;
    QLabel *mStatus = nullptr;
    QLabel *mQuality = nullptr;
};

} // namespace plad::ui
