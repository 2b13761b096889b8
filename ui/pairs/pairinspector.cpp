#include "pairs/pairinspector.h"

#include "jobs/backgroundtask.h"
#include "report/tokenhtml.h"
#include "tokenizer/tokenizer.h"

#include <QComboBox>
#include <QDateTime>
#include <QMessageBox>
#include <QTimer>
#include <QUndoCommand>
#include <QUndoStack>
#include <QtConcurrent/QtConcurrentRun>
#include <QEvent>
#include <QHelpEvent>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QAction>
#include <QCoreApplication>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QTextBrowser>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

namespace plad::ui {
namespace {

/** The margin that counts now: the last trained one, else the initial student's. */
double marginNow(const StoredPair &p)
{
    return p.currentMargin.value_or(p.initialMargin);
}

QString annotationText(const std::optional<PairAnnotation> &a)
{
    if (!a)
        return {};
    QString text = QString::fromStdString(toString(a->action));
    if (a->action == AnnotationAction::Weight)
        text += QStringLiteral(" x%1").arg(a->weight, 0, 'g', 3);
    if (!a->note.empty())
        text += QStringLiteral(": ") + QString::fromStdString(a->note);
    return text;
}

QString verdictText(const StoredPair &p)
{
    QString text = QString::fromStdString(p.labeller);
    if (p.chosenJudge && p.rejectedJudge)
        text += QStringLiteral(" (%1 vs %2)").arg(*p.chosenJudge, 0, 'f', 3).arg(*p.rejectedJudge, 0, 'f', 3);
    return text;
}

/** What the detail panes show of one pair, read when it is selected. */
struct PairDetail
{
    StoredPair pair;
    PromptRecord prompt;
    StoredOutput chosen, rejected;
};

QString nowUtc()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
}

/** A text browser whose tooltips come from the HTML title of the token under the mouse. */
class TokenBrowser : public QTextBrowser
{
public:
    using QTextBrowser::QTextBrowser;

protected:
    bool event(QEvent *e) override
    {
        if (e->type() == QEvent::ToolTip) {
            auto *help = static_cast<QHelpEvent *>(e);
            const QTextCursor cursor = cursorForPosition(viewport()->mapFromGlobal(help->globalPos()));
            const QString tip = cursor.charFormat().toolTip();
            if (tip.isEmpty())
                QToolTip::hideText();
            else
                QToolTip::showText(help->globalPos(), tip, this);
            return true;
        }
        return QTextBrowser::event(e);
    }
};

struct RunHeader
{
    std::shared_ptr<const Tokenizer> tokenizer;
    std::string quality; ///< the run's pair_quality evaluation (JSON), empty when there is none
};

/** The pair-quality readout as one line of rich text: each policy's agreement with the reference. */
QString qualityText(const std::string &json)
{
    if (json.empty())
        return QCoreApplication::translate("PairInspector",
                                           "Pair quality: not measured (it needs held-out prompts with references: eval.prompts > 0 and a teacher)");
    const auto doc = nlohmann::json::parse(json, nullptr, false);
    if (!doc.is_object())
        return QCoreApplication::translate("PairInspector", "Pair quality: unreadable record");
    QStringList parts;
    for (const auto &p : doc.value("policies", nlohmann::json::array())) {
        const QString name = QString::fromStdString(p.value("policy", std::string()));
        const auto accuracy = p.value("accuracy", nlohmann::json());
        const qint64 agree = p.value("agree", int64_t(0)), decided = agree + p.value("disagree", int64_t(0));
        QString value = accuracy.is_number() ? QStringLiteral("%1% (%2/%3)").arg(100 * accuracy.get<double>(), 0, 'f', 1).arg(agree).arg(decided)
                                             : QStringLiteral("-");
        if (accuracy.is_number()) {
            const double a = accuracy.get<double>();
            const char *colour = a >= 0.8 ? "#2ca02c" : (a >= 0.65 ? "#bcbd22" : "#d62728");
            value = QStringLiteral("<span style=\"color:%1\"><b>%2</b></span>").arg(QLatin1String(colour), value);
        }
        parts << QStringLiteral("%1 %2%3").arg(name.toHtmlEscaped(), value,
                                                 p.value("uses_annotations", false) ? QStringLiteral(" <i>(uses references)</i>") : QString());
    }
    return QCoreApplication::translate("PairInspector", "Pair quality on %1 held-out prompts (how often the preferred side is better by the reference): %2")
        .arg(doc.value("prompts", int64_t(0)))
        .arg(parts.join(QStringLiteral(" &middot; ")));
}

} // namespace

// --- table model -------------------------------------------------------------------------

namespace {
constexpr size_t maxCachedPages = 40; // 8,000 rows around where the user looks
}

PairTableModel::PairTableModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

void PairTableModel::load(const QString &workspace, const QString &runId, const PairQuery &query)
{
    mWorkspace = workspace;
    mRunId = runId;
    mQuery = query;
    mLocalChanges.clear();
    reload();
}

void PairTableModel::setQuery(const PairQuery &query)
{
    mQuery = query;
    reload();
}

void PairTableModel::reload()
{
    const int generation = ++mGeneration;
    const std::string ws = mWorkspace.toStdString(), id = mRunId.toStdString();
    const PairQuery query = mQuery;
    struct Ids
    {
        std::vector<int64_t> ids;
        QString readAt;
    };
    runInBackground<Ids>(
        this,
        [ws, id, query] {
            Workspace store = Workspace::openReadOnly(ws);
            return Ids{store.pairs().pairIds(id, query), QString::fromStdString(store.runs().requireRun(id).annotationsReadAt)};
        },
        [this, generation](const TaskOutcome<Ids> &outcome) {
            if (generation != mGeneration)
                return; // another list was asked for meanwhile
            if (!outcome.value) {
                Q_EMIT failed(outcome.error);
                return;
            }
            beginResetModel();
            mIds = outcome.value->ids;
            mPages.clear();
            mRequested.clear();
            mRecentPages.clear();
            mReadAt = outcome.value->readAt;
            endResetModel();
            Q_EMIT idsLoaded(static_cast<int>(mIds.size()));
        });
}

void PairTableModel::requestPage(int page) const
{
    if (mRequested.contains(page))
        return;
    mRequested.insert(page);
    const size_t first = static_cast<size_t>(page) * pageSize;
    const std::vector<int64_t> ids(mIds.begin() + static_cast<std::ptrdiff_t>(first),
                                   mIds.begin() + static_cast<std::ptrdiff_t>(std::min(mIds.size(), first + pageSize)));
    const std::string ws = mWorkspace.toStdString(), id = mRunId.toStdString();
    const int generation = mGeneration;
    auto *self = const_cast<PairTableModel *>(this); // the cache is not the model's data: filling it is a const read
    runInBackground<std::vector<PairSummary>>(
        self, [ws, id, ids] { return Workspace::openReadOnly(ws).pairs().pairSummaries(id, ids); },
        [self, page, generation](const TaskOutcome<std::vector<PairSummary>> &outcome) {
            if (generation != self->mGeneration)
                return;
            self->mRequested.remove(page);
            if (!outcome.value) {
                Q_EMIT self->failed(outcome.error);
                return;
            }
            self->mPages[page] = *outcome.value;
            self->mRecentPages.push_back(page);
            while (self->mRecentPages.size() > maxCachedPages) {
                self->mPages.erase(self->mRecentPages.front());
                self->mRecentPages.erase(self->mRecentPages.begin());
            }
            const int firstRow = page * pageSize;
            const int lastRow = std::min(self->rowCount(), firstRow + pageSize) - 1;
            Q_EMIT self->dataChanged(self->index(firstRow, 0), self->index(lastRow, ColumnCount - 1));
            Q_EMIT self->pageLoaded(page);
        });
}

const PairSummary *PairTableModel::summary(int row) const
{
    if (row < 0 || row >= static_cast<int>(mIds.size()))
        return nullptr;
    const int page = row / pageSize;
    const auto it = mPages.find(page);
    if (it == mPages.end()) {
        requestPage(page);
        return nullptr;
    }
    const size_t offset = static_cast<size_t>(row % pageSize);
    // A page may hold fewer rows than ids when pairs were deleted meanwhile.
    if (offset >= it->second.size() || it->second[offset].pair.id != mIds[static_cast<size_t>(row)])
        return nullptr;
    if (mRecentPages.empty() || mRecentPages.back() != page) {
        std::erase(mRecentPages, page);
        mRecentPages.push_back(page);
    }
    return &it->second[offset];
}

int PairTableModel::rowOf(int64_t pairId) const
{
    const auto it = std::find(mIds.begin(), mIds.end(), pairId);
    return it == mIds.end() ? -1 : static_cast<int>(it - mIds.begin());
}

void PairTableModel::updatePair(const StoredPair &pair)
{
    const int r = rowOf(pair.id);
    if (r < 0)
        return;
    const auto it = mPages.find(r / pageSize);
    if (it != mPages.end() && static_cast<size_t>(r % pageSize) < it->second.size())
        it->second[static_cast<size_t>(r % pageSize)].pair = pair;
    Q_EMIT dataChanged(index(r, 0), index(r, ColumnCount - 1));
}

void PairTableModel::setAnnotationLocally(int64_t pairId, const std::optional<PairAnnotation> &annotation)
{
    mLocalChanges[pairId] = nowUtc();
    const int r = rowOf(pairId);
    if (r < 0)
        return;
    const auto it = mPages.find(r / pageSize);
    if (it != mPages.end() && static_cast<size_t>(r % pageSize) < it->second.size())
        it->second[static_cast<size_t>(r % pageSize)].pair.annotation = annotation;
    Q_EMIT dataChanged(index(r, 0), index(r, ColumnCount - 1));
}

bool PairTableModel::isPending(int64_t pairId) const
{
    const int r = rowOf(pairId);
    const PairSummary *row = r < 0 ? nullptr : summary(r);
    return row ? isPending(*row) : changedHereSinceRead(pairId);
}

bool PairTableModel::changedHereSinceRead(int64_t pairId) const
{
    const auto it = mLocalChanges.find(pairId);
    return it != mLocalChanges.end() && (mReadAt.isEmpty() || *it >= mReadAt);
}

bool PairTableModel::isPending(const PairSummary &row) const
{
    // Changed here, or (by anyone) in the store, after training last read the annotations.
    const auto &a = row.pair.annotation;
    return changedHereSinceRead(row.pair.id) || (a && (mReadAt.isEmpty() || QString::fromStdString(a->updatedAt) >= mReadAt));
}

void PairTableModel::setAnnotationsReadAt(const QString &time)
{
    if (time == mReadAt)
        return;
    mReadAt = time;
    if (!mIds.empty())
        Q_EMIT dataChanged(index(0, Annotation), index(rowCount() - 1, Annotation));
}

int PairTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(mIds.size());
}

int PairTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant PairTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid())
        return {};
    const PairSummary *r = summary(index.row());
    if (!r) {
        if (role == Qt::DisplayRole)
            return index.column() == Id ? QVariant::fromValue<qint64>(pairIdAt(index.row()))
                                        : (index.column() == Prompt ? QVariant(tr("loading...")) : QVariant());
        return {};
    }
    const auto &p = r->pair;
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Id: return QVariant::fromValue<qint64>(p.id);
        case Split: return r->split == "validation" ? tr("held out") : tr("train");
        case Prompt: return QString::fromStdString(r->promptStart).simplified().left(90);
        case InitialMargin: return QString::number(p.initialMargin, 'f', 3);
        case CurrentMargin: return p.currentMargin ? QString::number(*p.currentMargin, 'f', 3) : QStringLiteral("-");
        case Loss: return p.currentLoss ? QString::number(*p.currentLoss, 'f', 3) : QStringLiteral("-");
        case Labeller: return verdictText(p);
        case Annotation: {
            QString text = annotationText(p.annotation);
            if (isPending(*r))
                text = text.isEmpty() ? tr("(cleared, pending)") : text + tr("  (pending)");
            return text;
        }
        default: return {};
        }
    }
    if (role == Qt::ForegroundRole && (index.column() == InitialMargin || index.column() == CurrentMargin)) {
        const double m = index.column() == InitialMargin ? p.initialMargin : marginNow(p);
        if (m < 0)
            return QColor(QStringLiteral("#e0493a")); // inverted: the student prefers y- (readable on light and dark)
    }
    if (role == Qt::FontRole && index.column() == Annotation && isPending(*r)) {
        QFont font;
        font.setItalic(true);
        font.setBold(true);
        return font;
    }
    if (role == Qt::ToolTipRole && index.column() == Annotation && isPending(*r))
        return mReadAt.isEmpty() ? tr("Changed; training has not read this run's annotations yet: it uses them from its next epoch.")
                                 : tr("Changed after training last read the annotations (%1 UTC): used from the next epoch.")
                                       .arg(mReadAt.left(19).replace(QLatin1Char('T'), QLatin1Char(' ')));
    if (role == Qt::ToolTipRole && index.column() == Prompt)
        return QString::fromStdString(r->promptStart);
    return {};
}

QVariant PairTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    static const char *names[] = {"pair", "split", "prompt", "margin, initial", "margin, now", "loss", "labeller (judge scores)", "annotation"};
    return tr(names[section]);
}

void PairTableModel::sort(int column, Qt::SortOrder order)
{
    using O = PairQuery::Order;
    static const O orders[] = {O::Id, O::Split, O::Prompt, O::InitialMargin, O::CurrentMargin, O::Loss, O::Labeller, O::Annotation};
    if (column < 0 || column >= ColumnCount)
        return;
    PairQuery q = mQuery;
    q.order = orders[column];
    q.descending = order == Qt::DescendingOrder;
    if (q.order == mQuery.order && q.descending == mQuery.descending)
        return;
    if (!mRunId.isEmpty())
        setQuery(q);
    else
        mQuery = q;
}

// --- undo ---------------------------------------------------------------------------------

/** One annotation change of one pair: redo writes the new annotation, undo the one before. */
class AnnotationCommand : public QUndoCommand
{
public:
    AnnotationCommand(PairInspector *inspector, int64_t pairId, std::optional<PairAnnotation> before, std::optional<PairAnnotation> after)
        : mInspector(inspector)
        , mPairId(pairId)
        , mBefore(std::move(before))
        , mAfter(std::move(after))
    {
        setText(mAfter ? QCoreApplication::translate("PairInspector", "%1 pair %2").arg(QString::fromStdString(toString(mAfter->action))).arg(pairId)
                       : QCoreApplication::translate("PairInspector", "clear the annotation of pair %1").arg(pairId));
    }
    void redo() override { mInspector->writeAnnotation(mPairId, mAfter); }
    void undo() override { mInspector->writeAnnotation(mPairId, mBefore); }

private:
    PairInspector *mInspector;
    int64_t mPairId;
    std::optional<PairAnnotation> mBefore, mAfter;
};

// --- inspector ----------------------------------------------------------------------------

PairInspector::PairInspector(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("pairs"));
    mWrites.setMaxThreadCount(1);
    mUndo = new QUndoStack(this);
    auto *layout = new QVBoxLayout(this);
    mQuality = new QLabel(this);
    mQuality->setObjectName(QStringLiteral("pairQuality"));
    mQuality->setWordWrap(true);
    mQuality->setTextFormat(Qt::RichText);
    mQuality->setToolTip(tr("Measured before training on the validation prompts only: for every labelling policy, the share of its pairs whose "
                            "preferred output has the higher ROUGE-L against the reference (pairs the reference cannot decide are left out). "
                            "Low values mean the pseudo-preferences point the wrong way often."));
    layout->addWidget(mQuality);
    auto *bar = new QHBoxLayout;
    mQuick = new QComboBox(this);
    mQuick->setObjectName(QStringLiteral("quickFilter"));
    mQuick->addItems({tr("All pairs"), tr("Inverted now: s(y-) > s(y+)"), tr("Hardest tenth (highest loss)"),
                      tr("Judge disagreements (student output preferred)"), tr("Annotated"), tr("Held out (never trained on)")});
    mQuick->setToolTip(tr("Which pairs the table lists (filtered in the run store)"));
    mSearch = new QLineEdit(this);
    mSearch->setObjectName(QStringLiteral("pairSearch"));
    mSearch->setPlaceholderText(tr("Search prompts, references and outputs (Ctrl+F)"));
    mSearch->setClearButtonEnabled(true);
    mSearchDelay = new QTimer(this);
    mSearchDelay->setSingleShot(true);
    mSearchDelay->setInterval(300); // search once typing pauses
    connect(mSearch, &QLineEdit::textChanged, mSearchDelay, qOverload<>(&QTimer::start));
    connect(mSearchDelay, &QTimer::timeout, this, [this] { setSearch(mSearch->text()); });
    auto *find = new QAction(this);
    find->setShortcut(QKeySequence::Find);
    connect(find, &QAction::triggered, mSearch, [this] { mSearch->setFocus(); });
    addAction(find);
    bar->addWidget(new QLabel(tr("Show:"), this));
    bar->addWidget(mQuick);
    bar->addWidget(mSearch, 1);
    layout->addLayout(bar);

    mModel = new PairTableModel(this);
    connect(mQuick, &QComboBox::currentIndexChanged, this, [this](int i) { setFilter(static_cast<PairQuery::Filter>(i)); });
    connect(mModel, &PairTableModel::failed, this, [this](const QString &m) {
        mStatus->setText(tr("Cannot read the pairs: %1").arg(m));
        Q_EMIT failed(m);
    });
    connect(mModel, &PairTableModel::idsLoaded, this, [this](int rows) {
        mStatus->setText(tr("%n pair(s) listed in %1", nullptr, rows).arg(mRunId));
        mListedRows = rows;
        mAwaitingFirstPage = rows > 0;
        if (rows > 0)
            (void)mModel->summary(0); // asks for the first page now, not at the next paint
        if (mSelectFirst && rows > 0)
            mTable->selectRow(0);
        mSelectFirst = false;
        finishLoading();
    });
    connect(mModel, &PairTableModel::pageLoaded, this, [this](int page) {
        if (page == 0 && mAwaitingFirstPage) {
            mAwaitingFirstPage = false;
            finishLoading();
        }
    });
    // A selected row whose page arrives gets its detail.
    connect(mModel, &PairTableModel::dataChanged, this, [this] {
        if (currentPairId() >= 0 && mDetailFor != currentPairId())
            showDetail();
    });

    auto *split = new QSplitter(Qt::Vertical, this);
    mTable = new QTableView(split);
    mTable->setObjectName(QStringLiteral("pairTable"));
    mTable->setModel(mModel);
    mTable->setSortingEnabled(true);
    mTable->horizontalHeader()->setSortIndicator(PairTableModel::Id, Qt::AscendingOrder);
    mTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    mTable->setSelectionMode(QAbstractItemView::SingleSelection);
    mTable->verticalHeader()->hide();
    mTable->setWordWrap(false); // one line per pair: the prompt's start, its whole text in the tooltip
    // Fixed row heights and no resizing to contents: the view never asks for rows it does not show.
    mTable->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    mTable->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    mTable->horizontalHeader()->setSectionResizeMode(PairTableModel::Prompt, QHeaderView::Stretch);
    for (const auto &[column, width] : {std::pair{PairTableModel::Id, 70}, {PairTableModel::Split, 70}, {PairTableModel::InitialMargin, 110},
                                        {PairTableModel::CurrentMargin, 100}, {PairTableModel::Loss, 70}, {PairTableModel::Labeller, 190},
                                        {PairTableModel::Annotation, 170}})
        mTable->setColumnWidth(column, width);
    connect(mTable->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this] { showDetail(); });

    auto *detail = new QWidget(split);
    auto *detailLayout = new QVBoxLayout(detail);
    detailLayout->setContentsMargins(0, 0, 0, 0);
    mPrompt = new QTextBrowser(detail);
    mPrompt->setObjectName(QStringLiteral("pairPrompt"));
    mPrompt->setMaximumHeight(110);
    detailLayout->addWidget(mPrompt);
    auto *sides = new QHBoxLayout;
    mChosen = new TokenBrowser(detail);
    mChosen->setObjectName(QStringLiteral("pairChosen"));
    mRejected = new TokenBrowser(detail);
    mRejected->setObjectName(QStringLiteral("pairRejected"));
    sides->addWidget(mChosen);
    sides->addWidget(mRejected);
    detailLayout->addLayout(sides, 1);

    auto *actions = new QHBoxLayout;
    auto action = [&](const QString &text, const QString &tip, auto slot) {
        auto *b = new QPushButton(text, detail);
        b->setToolTip(tip);
        b->setFocusPolicy(Qt::NoFocus);
        connect(b, &QPushButton::clicked, this, slot);
        actions->addWidget(b);
        return b;
    };
    action(tr("Flip (F)"), tr("Train on this pair the other way round"), [this] { annotateCurrent(AnnotationAction::Flip); });
    action(tr("Discard (D)"), tr("Leave this pair out of training"), [this] { annotateCurrent(AnnotationAction::Discard); });
    auto currentAnnotation = [this]() -> std::optional<PairAnnotation> {
        const int row = mModel->rowOf(currentPairId());
        const PairSummary *s = mModel->summary(row);
        return s ? s->pair.annotation : std::nullopt;
    };
    auto *weightButton = action(tr("Weight... (W)"), tr("Scale this pair's loss"), [this, currentAnnotation] {
        const auto now = currentAnnotation();
        bool ok = false;
        const double w = QInputDialog::getDouble(this, tr("Pair weight"), tr("Relative weight of the pair's loss:"),
                                                 now && now->action == AnnotationAction::Weight ? now->weight : 1.0, 0.0, 100.0, 2, &ok);
        if (ok)
            annotateCurrent(AnnotationAction::Weight, w);
    });
    auto *noteButton = action(tr("Note... (N)"), tr("Attach a note without changing training"), [this, currentAnnotation] {
        const auto now = currentAnnotation();
        bool ok = false;
        const QString note = QInputDialog::getText(this, tr("Note"), tr("Note on this pair:"), QLineEdit::Normal,
                                                   now ? QString::fromStdString(now->note) : QString(), &ok);
        if (ok)
            annotateCurrent(AnnotationAction::Note, 1.0, note.toStdString());
    });
    action(tr("Clear (C)"), tr("Remove the annotation"), [this] { clearCurrentAnnotation(); });
    auto *undoButton = action(tr("Undo"), tr("Undo the last annotation change (Ctrl+Z)"), [this] { mUndo->undo(); });
    auto *redoButton = action(tr("Redo"), tr("Redo the annotation change undone last (Ctrl+Shift+Z)"), [this] { mUndo->redo(); });
    undoButton->setObjectName(QStringLiteral("undoAnnotation"));
    redoButton->setObjectName(QStringLiteral("redoAnnotation"));
    undoButton->setEnabled(false);
    redoButton->setEnabled(false);
    connect(mUndo, &QUndoStack::canUndoChanged, undoButton, &QPushButton::setEnabled);
    connect(mUndo, &QUndoStack::canRedoChanged, redoButton, &QPushButton::setEnabled);
    connect(mUndo, &QUndoStack::undoTextChanged, undoButton, [undoButton](const QString &t) { undoButton->setToolTip(tr("Undo: %1 (Ctrl+Z)").arg(t)); });
    actions->addStretch();
    mStatus = new QLabel(detail);
    mStatus->setObjectName(QStringLiteral("pairStatus"));
    mStatus->setText(tr("No run open: double-click a run in Runs (or Open) to inspect its pairs."));
    actions->addWidget(mStatus);
    detailLayout->addLayout(actions);
    split->addWidget(mTable);
    split->addWidget(detail);
    // Single-key shortcuts over the whole inspector (a line edit with focus keeps its typing).
    auto shortcut = [this](const QKeySequence &key, std::function<void()> f) {
        auto *a = new QAction(this);
        a->setShortcut(key);
        a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
        connect(a, &QAction::triggered, this, f);
        addAction(a);
    };
    shortcut(QKeySequence(Qt::Key_J), [this] { move(1); });
    shortcut(QKeySequence(Qt::Key_K), [this] { move(-1); });
    shortcut(QKeySequence(Qt::Key_F), [this] { annotateCurrent(AnnotationAction::Flip); });
    shortcut(QKeySequence(Qt::Key_D), [this] { annotateCurrent(AnnotationAction::Discard); });
    shortcut(QKeySequence(Qt::Key_C), [this] { clearCurrentAnnotation(); });
    shortcut(QKeySequence(Qt::Key_W), [weightButton] { weightButton->click(); });
    shortcut(QKeySequence(Qt::Key_N), [noteButton] { noteButton->click(); });
    shortcut(QKeySequence::Undo, [this] { mUndo->undo(); });
    shortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z), [this] { mUndo->redo(); });
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);

    // While the inspector is shown, follow when training reads the annotations (pending marks go).
    mReadAtPoll = new QTimer(this);
    mReadAtPoll->setInterval(2000);
    connect(mReadAtPoll, &QTimer::timeout, this, &PairInspector::pollReadAt);
    mReadAtPoll->start();
}

PairInspector::~PairInspector()
{
    mWrites.waitForDone(); // writes already asked for reach the store
}

void PairInspector::showRun(const QString &workspace, const QString &runId)
{
    if (runId != mRunId)
        mUndo->clear(); // commands belong to one run's pairs
    mWorkspace = workspace;
    mRunId = runId;
    mDetailFor = -1;
    mStatus->setText(tr("Loading the pairs of %1...").arg(runId));
    const std::string ws = workspace.toStdString(), id = runId.toStdString();
    mSelectFirst = true;
    mHeaderPending = true;
    mListedRows = -1;
    mModel->load(workspace, runId, mModel->query());
    runInBackground<RunHeader>(
        this,
        [ws, id] {
            Workspace store = Workspace::openReadOnly(ws);
            RunHeader header;
            const auto quality = store.results().evaluations(id, "pair_quality");
            if (!quality.empty())
                header.quality = quality.back().resultJson;
            // The student's tokenizer, to show each output token by token.
            const auto config = nlohmann::json::parse(store.runs().requireRun(id).configJson);
            const std::string student = config.value("student", nlohmann::json::object()).value("model", std::string());
            try {
                if (!student.empty())
                    header.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::load(student));
            } catch (const std::exception &) {
                // Without it the outputs show as plain text.
            }
            return header;
        },
        [this, runId](const TaskOutcome<RunHeader> &outcome) {
            if (runId != mRunId)
                return; // another run was asked for meanwhile
            mHeaderPending = false;
            if (!outcome.value) {
                mQuality->setText(tr("Cannot read the run: %1").arg(outcome.error));
            } else {
                mTokenizer = outcome.value->tokenizer;
                mQuality->setText(qualityText(outcome.value->quality));
                mDetailFor = -1;
                showDetail();
            }
            finishLoading();
        });
}

void PairInspector::finishLoading()
{
    // Shown: the run's header, the id list and the first page of rows are all there.
    if (mHeaderPending || mAwaitingFirstPage || mListedRows < 0)
        return;
    Q_EMIT loaded(mListedRows);
}

void PairInspector::setFilter(PairQuery::Filter filter)
{
    if (mQuick->currentIndex() != static_cast<int>(filter)) {
        mQuick->setCurrentIndex(static_cast<int>(filter)); // comes back here through the combo box
        return;
    }
    PairQuery q = mModel->query();
    q.filter = filter;
    mSelectFirst = true;
    mListedRows = -1;
    mModel->setQuery(q);
}

void PairInspector::setSearch(const QString &text)
{
    if (mSearch->text() != text)
        mSearch->setText(text);
    mSearchDelay->stop();
    PairQuery q = mModel->query();
    q.search = text.toStdString();
    mSelectFirst = true;
    mListedRows = -1;
    mModel->setQuery(q);
}

void PairInspector::pollReadAt()
{
    if (mRunId.isEmpty() || !isVisible())
        return;
    const std::string ws = mWorkspace.toStdString(), id = mRunId.toStdString();
    runInBackground<QString>(
        this, [ws, id] { return QString::fromStdString(Workspace::openReadOnly(ws).runs().requireRun(id).annotationsReadAt); },
        [this, runId = mRunId](const TaskOutcome<QString> &outcome) {
            if (outcome.value && runId == mRunId)
                mModel->setAnnotationsReadAt(*outcome.value);
        });
}

bool PairInspector::selectPair(int64_t pairId)
{
    const int row = mModel->rowOf(pairId);
    if (row < 0)
        return false;
    mTable->selectRow(row);
    mTable->scrollTo(mModel->index(row, 0));
    return true;
}

int64_t PairInspector::currentPairId() const
{
    const QModelIndex current = mTable->selectionModel()->currentIndex();
    return current.isValid() ? mModel->pairIdAt(current.row()) : -1;
}

QString PairInspector::detailText() const
{
    return mPrompt->toPlainText() + QLatin1Char('\n') + mChosen->toPlainText() + QLatin1Char('\n') + mRejected->toPlainText();
}

void PairInspector::showDetail()
{
    const int64_t id = currentPairId();
    if (id < 0 || id == mDetailFor)
        return;
    mDetailFor = id;
    const std::string ws = mWorkspace.toStdString(), run = mRunId.toStdString();
    runInBackground<PairDetail>(
        this,
        [ws, run, id] {
            Workspace store = Workspace::openReadOnly(ws);
            PairDetail d;
            d.pair = store.pairs().requirePair(run, id);
            d.prompt = store.pairs().requirePrompt(run, d.pair.promptId);
            d.chosen = store.pairs().requireOutput(run, d.pair.chosenOutput);
            d.rejected = store.pairs().requireOutput(run, d.pair.rejectedOutput);
            return d;
        },
        [this, id](const TaskOutcome<PairDetail> &outcome) {
            if (id != currentPairId())
                return; // the selection moved on
            if (!outcome.value) {
                mStatus->setText(tr("Cannot read pair %1: %2").arg(id).arg(outcome.error));
                return;
            }
            const PairDetail &r = *outcome.value;
            const Tokenizer *tokenizer = mTokenizer.get();
            mPrompt->setHtml(tr("<b>Prompt</b> (%1)<br>%2<br><b>Reference:</b> %3")
                                 .arg(QString::fromStdString(r.pair.promptId), QString::fromStdString(r.prompt.prompt).toHtmlEscaped(),
                                      QString::fromStdString(r.prompt.reference).toHtmlEscaped()));
            auto side = [&](const StoredOutput &o, const StoredOutput &other, const QString &role) {
                double sum = 0;
                for (float lp : o.studentLogprobs)
                    sum += lp;
                const double mean = o.studentLogprobs.empty() ? 0 : sum / static_cast<double>(o.studentLogprobs.size());
                return tr("<p><b>%1: %2</b> (sample %3, %4 tokens, initial student log p: sum %5, mean %6)</p>"
                          "<p style=\"font-size:large\">%7</p><p><i>Words the other output lacks:</i> %8</p>")
                    .arg(role, QString::fromStdString(toString(o.source)))
                    .arg(o.sample)
                    .arg(o.tokenIds.size())
                    .arg(sum, 0, 'f', 2)
                    .arg(mean, 0, 'f', 3)
                    .arg(QString::fromStdString(tintedTokensHtml(o, tokenizer)), QString::fromStdString(wordDiffHtml(o.text, other.text)));
            };
            mChosen->setHtml(side(r.chosen, r.rejected, tr("y+ (preferred)")));
            mRejected->setHtml(side(r.rejected, r.chosen, tr("y- (rejected)")));
            QString status = tr("pair %1: margin %2 initially").arg(id).arg(r.pair.initialMargin, 0, 'f', 3);
            if (r.pair.currentMargin)
                status += tr(", %1 at step %2").arg(*r.pair.currentMargin, 0, 'f', 3).arg(r.pair.updatedStep.value_or(0));
            if (r.pair.annotation)
                status += QStringLiteral(" · ") + annotationText(r.pair.annotation) + (mModel->isPending(id) ? tr(" (pending: used from the next epoch)") : QString());
            mStatus->setText(status);
            Q_EMIT detailShown(id);
        });
}

void PairInspector::writeAnnotation(int64_t pairId, const std::optional<PairAnnotation> &annotation)
{
    mModel->setAnnotationLocally(pairId, annotation);
    const std::string ws = mWorkspace.toStdString(), run = mRunId.toStdString();
    auto *watcher = new QFutureWatcher<TaskOutcome<StoredPair>>(this);
    connect(watcher, &QFutureWatcher<TaskOutcome<StoredPair>>::finished, this, [this, watcher, pairId, runId = mRunId] {
        const TaskOutcome<StoredPair> outcome = watcher->result();
        watcher->deleteLater();
        if (runId != mRunId)
            return;
        if (!outcome.value) {
            mStatus->setText(tr("The annotation of pair %1 was not saved: %2").arg(pairId).arg(outcome.error));
            Q_EMIT failed(outcome.error);
            return;
        }
        mModel->updatePair(*outcome.value);
        if (currentPairId() == pairId) {
            mDetailFor = -1;
            showDetail();
        }
        Q_EMIT annotated(pairId);
    });
    watcher->setFuture(QtConcurrent::run(&mWrites, [ws, run, pairId, annotation]() -> TaskOutcome<StoredPair> {
        TaskOutcome<StoredPair> outcome;
        try {
            Workspace store = Workspace::open(ws, false);
            if (annotation)
                store.pairs().annotate(run, *annotation);
            else
                store.pairs().clearAnnotation(run, pairId);
            outcome.value = store.pairs().requirePair(run, pairId);
        } catch (const std::exception &e) {
            outcome.error = QString::fromUtf8(e.what());
        }
        return outcome;
    }));
}

void PairInspector::pushAnnotation(int64_t pairId, const std::optional<PairAnnotation> &before, const std::optional<PairAnnotation> &after)
{
    mUndo->push(new AnnotationCommand(this, pairId, before, after)); // push() runs redo(): the write
}

void PairInspector::annotateCurrent(AnnotationAction action, double weight, const std::string &note)
{
    const int64_t pairId = currentPairId();
    const PairSummary *row = mModel->summary(mModel->rowOf(pairId));
    if (pairId >= 0 && !row)
        mStatus->setText(tr("Pair %1 is still being read; try again in a moment.").arg(pairId));
    if (pairId < 0 || !row)
        return;
    const std::optional<PairAnnotation> before = row->pair.annotation;
    PairAnnotation a;
    a.pairId = pairId;
    a.action = action;
    a.weight = weight;
    // Changing the action keeps the pair's note; only the note action writes a new one.
    a.note = action == AnnotationAction::Note || !before ? note : before->note;
    if (before && before->action == a.action && before->weight == a.weight && before->note == a.note)
        return; // nothing changes
    if (before && before->action == AnnotationAction::Weight && action != AnnotationAction::Weight) {
        // A weight is a value the user typed: a single key does not replace it unasked.
        auto *box = new QMessageBox(QMessageBox::Question, tr("Replace the weight?"),
                                    tr("Pair %1 has weight x%2. Replace it with \"%3\"?").arg(pairId).arg(before->weight, 0, 'g', 3)
                                        .arg(QString::fromStdString(toString(action))),
                                    QMessageBox::Yes | QMessageBox::Cancel, this);
        box->setObjectName(QStringLiteral("replaceAnnotationQuestion"));
        box->setDefaultButton(QMessageBox::Cancel);
        box->setAttribute(Qt::WA_DeleteOnClose);
        connect(box, &QMessageBox::finished, this, [this, pairId, before, a](int result) {
            if (result == QMessageBox::Yes)
                pushAnnotation(pairId, before, a);
        });
        box->open();
        return;
    }
    pushAnnotation(pairId, before, a);
}

void PairInspector::clearCurrentAnnotation()
{
    const int64_t pairId = currentPairId();
    const PairSummary *row = mModel->summary(mModel->rowOf(pairId));
    if (pairId < 0 || !row || !row->pair.annotation)
        return;
    pushAnnotation(pairId, row->pair.annotation, std::nullopt);
}

void PairInspector::move(int delta)
{
    const int rows = mModel->rowCount();
    if (rows == 0)
        return;
    const QModelIndex current = mTable->selectionModel()->currentIndex();
    const int next = std::clamp(current.isValid() ? current.row() + delta : 0, 0, rows - 1);
    mTable->selectRow(next);
}

} // namespace plad::ui
