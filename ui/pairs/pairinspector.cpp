#include "pairs/pairinspector.h"

#include "jobs/backgroundtask.h"
#include "report/tokenhtml.h"
#include "tokenizer/tokenizer.h"

#include <QComboBox>
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

QString verdictText(const PairRow &r)
{
    QString text = QString::fromStdString(r.pair.labeller);
    if (r.pair.chosenJudge && r.pair.rejectedJudge)
        text += QStringLiteral(" (%1 vs %2)").arg(*r.pair.chosenJudge, 0, 'f', 3).arg(*r.pair.rejectedJudge, 0, 'f', 3);
    return text;
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

struct LoadedPairs
{
    std::vector<PairRow> rows;
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

void PairTableModel::setRows(std::vector<PairRow> rows)
{
    beginResetModel();
    mRows = std::move(rows);
    endResetModel();
}

int PairTableModel::rowOf(int64_t pairId) const
{
    for (size_t i = 0; i < mRows.size(); ++i)
        if (mRows[i].pair.id == pairId)
            return static_cast<int>(i);
    return -1;
}

void PairTableModel::updatePair(const StoredPair &pair)
{
    const int r = rowOf(pair.id);
    if (r < 0)
        return;
    mRows[static_cast<size_t>(r)].pair = pair;
    Q_EMIT dataChanged(index(r, 0), index(r, ColumnCount - 1));
}

int PairTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(mRows.size());
}

int PairTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant PairTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid())
        return {};
    const PairRow &r = mRows[static_cast<size_t>(index.row())];
    const auto &p = r.pair;
    if (role == Qt::UserRole) {
        switch (index.column()) {
        case Id: return QVariant::fromValue<qint64>(p.id);
        case InitialMargin: return p.initialMargin;
        case CurrentMargin: return p.currentMargin ? QVariant(*p.currentMargin) : QVariant(-1e300);
        case Loss: return p.currentLoss ? QVariant(*p.currentLoss) : QVariant(-1.0);
        default: break;
        }
        role = Qt::DisplayRole;
    }
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Id: return QVariant::fromValue<qint64>(p.id);
        case Split: return r.split == "validation" ? tr("held out") : tr("train");
        case Prompt: return QString::fromStdString(r.prompt).simplified().left(90);
        case InitialMargin: return QString::number(p.initialMargin, 'f', 3);
        case CurrentMargin: return p.currentMargin ? QString::number(*p.currentMargin, 'f', 3) : QStringLiteral("-");
        case Loss: return p.currentLoss ? QString::number(*p.currentLoss, 'f', 3) : QStringLiteral("-");
        case Labeller: return verdictText(r);
        case Annotation: return annotationText(p.annotation);
        default: return {};
        }
    }
    if (role == Qt::ForegroundRole && (index.column() == InitialMargin || index.column() == CurrentMargin)) {
        const double m = index.column() == InitialMargin ? p.initialMargin : marginNow(p);
        if (m < 0)
            return QColor(QStringLiteral("#c0392b")); // inverted: the student prefers y-
    }
    if (role == Qt::ToolTipRole && index.column() == Prompt)
        return QString::fromStdString(r.prompt).left(600);
    return {};
}

QVariant PairTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    static const char *names[] = {"pair", "split", "prompt", "margin, initial", "margin, now", "loss", "labeller (judge scores)", "annotation"};
    return tr(names[section]);
}

// --- filter -------------------------------------------------------------------------------

void PairFilterModel::setQuick(Quick quick)
{
    mQuick = quick;
    if (quick == Quick::Hardest) {
        // The hardest tenth: the highest per-pair losses at their last training step.
        auto *m = static_cast<PairTableModel *>(sourceModel());
        std::vector<double> losses;
        for (int r = 0; r < m->rowCount(); ++r)
            if (m->row(r).pair.currentLoss)
                losses.push_back(*m->row(r).pair.currentLoss);
        std::sort(losses.begin(), losses.end(), std::greater<>());
        mHardestLoss = losses.empty() ? 0 : losses[std::min(losses.size() - 1, losses.size() / 10)];
    }
    invalidateFilter();
}

void PairFilterModel::setSearch(const QString &text)
{
    mSearch = text;
    invalidateFilter();
}

bool PairFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex &) const
{
    const auto &r = static_cast<PairTableModel *>(sourceModel())->row(sourceRow);
    switch (mQuick) {
    case Quick::All: break;
    case Quick::Inverted:
        if (marginNow(r.pair) >= 0)
            return false;
        break;
    case Quick::Hardest:
        if (!r.pair.currentLoss || *r.pair.currentLoss < mHardestLoss || *r.pair.currentLoss <= 0)
            return false;
        break;
    case Quick::JudgeDisagreements:
        // The judge preferred the student's output to the teacher's.
        if (r.chosen.source != OutputSource::Student)
            return false;
        break;
    case Quick::Annotated:
        if (!r.pair.annotation)
            return false;
        break;
    case Quick::HeldOut:
        if (r.split != "validation")
            return false;
        break;
    }
    if (mSearch.isEmpty())
        return true;
    for (const std::string *text : {&r.prompt, &r.chosen.text, &r.rejected.text, &r.reference})
        if (QString::fromStdString(*text).contains(mSearch, Qt::CaseInsensitive))
            return true;
    return false;
}

// --- inspector ----------------------------------------------------------------------------

PairInspector::PairInspector(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("pairs"));
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
    mSearch = new QLineEdit(this);
    mSearch->setObjectName(QStringLiteral("pairSearch"));
    mSearch->setPlaceholderText(tr("Search prompts and outputs (Ctrl+F)"));
    mSearch->setClearButtonEnabled(true);
    auto *find = new QAction(this);
    find->setShortcut(QKeySequence::Find);
    connect(find, &QAction::triggered, mSearch, [this] { mSearch->setFocus(); });
    addAction(find);
    bar->addWidget(new QLabel(tr("Show:"), this));
    bar->addWidget(mQuick);
    bar->addWidget(mSearch, 1);
    layout->addLayout(bar);

    mModel = new PairTableModel(this);
    mFilter = new PairFilterModel(this);
    mFilter->setSourceModel(mModel);
    mFilter->setSortRole(Qt::UserRole);
    connect(mQuick, &QComboBox::currentIndexChanged, this, [this](int i) { mFilter->setQuick(static_cast<PairFilterModel::Quick>(i)); });
    connect(mSearch, &QLineEdit::textChanged, mFilter, &PairFilterModel::setSearch);

    auto *split = new QSplitter(Qt::Vertical, this);
    mTable = new QTableView(split);
    mTable->setObjectName(QStringLiteral("pairTable"));
    mTable->setModel(mFilter);
    mTable->setSortingEnabled(true);
    mTable->sortByColumn(PairTableModel::Id, Qt::AscendingOrder);
    mTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    mTable->setSelectionMode(QAbstractItemView::SingleSelection);
    mTable->verticalHeader()->hide();
    mTable->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    mTable->horizontalHeader()->setSectionResizeMode(PairTableModel::Prompt, QHeaderView::Stretch);
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
    auto *weightButton = action(tr("Weight... (W)"), tr("Scale this pair's loss"), [this] {
        bool ok = false;
        const double w = QInputDialog::getDouble(this, tr("Pair weight"), tr("Relative weight of the pair's loss:"), 1.0, 0.0, 100.0, 2, &ok);
        if (ok)
            annotateCurrent(AnnotationAction::Weight, w);
    });
    auto *noteButton = action(tr("Note... (N)"), tr("Attach a note without changing training"), [this] {
        bool ok = false;
        const QString note = QInputDialog::getText(this, tr("Note"), tr("Note on this pair:"), QLineEdit::Normal, QString(), &ok);
        if (ok)
            annotateCurrent(AnnotationAction::Note, 1.0, note.toStdString());
    });
    action(tr("Clear (C)"), tr("Remove the annotation"), [this] { clearCurrentAnnotation(); });
    actions->addStretch();
    mStatus = new QLabel(detail);
    mStatus->setObjectName(QStringLiteral("pairStatus"));
    actions->addWidget(mStatus);
    detailLayout->addLayout(actions);
    split->addWidget(mTable);
    split->addWidget(detail);
    // Single-key shortcuts over the whole inspector (a line edit with focus keeps its typing).
    auto shortcut = [this](Qt::Key key, std::function<void()> f) {
        auto *a = new QAction(this);
        a->setShortcut(QKeySequence(key));
        a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
        connect(a, &QAction::triggered, this, f);
        addAction(a);
    };
    shortcut(Qt::Key_J, [this] { move(1); });
    shortcut(Qt::Key_K, [this] { move(-1); });
    shortcut(Qt::Key_F, [this] { annotateCurrent(AnnotationAction::Flip); });
    shortcut(Qt::Key_D, [this] { annotateCurrent(AnnotationAction::Discard); });
    shortcut(Qt::Key_C, [this] { clearCurrentAnnotation(); });
    shortcut(Qt::Key_W, [weightButton] { weightButton->click(); });
    shortcut(Qt::Key_N, [noteButton] { noteButton->click(); });
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);
}

void PairInspector::showRun(const QString &workspace, const QString &runId)
{
    mWorkspace = workspace;
    mRunId = runId;
    mStatus->setText(tr("Loading the pairs of %1...").arg(runId));
    const std::string ws = workspace.toStdString(), id = runId.toStdString();
    runInBackground<LoadedPairs>(
        this,
        [ws, id] {
            Workspace store = Workspace::openReadOnly(ws);
            LoadedPairs loaded;
            const auto quality = store.results().evaluations(id, "pair_quality");
            if (!quality.empty())
                loaded.quality = quality.back().resultJson;
            auto prompts = store.pairs().promptsById(id);
            auto outputs = store.pairs().outputsById(id);
            for (auto &p : store.pairs().list(id)) {
                PairRow row;
                const auto &prompt = prompts[p.promptId];
                row.split = prompt.split;
                row.prompt = prompt.prompt;
                row.reference = prompt.reference;
                row.chosen = outputs[p.chosenOutput];
                row.rejected = outputs[p.rejectedOutput];
                row.pair = std::move(p);
                loaded.rows.push_back(std::move(row));
            }
            // The student's tokenizer, to show each output token by token.
            const auto config = nlohmann::json::parse(store.runs().requireRun(id).configJson);
            const std::string student = config.value("student", nlohmann::json::object()).value("model", std::string());
            try {
                if (!student.empty())
                    loaded.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::load(student));
            } catch (const std::exception &) {
                // Without it the outputs show as plain text.
            }
            return loaded;
        },
        [this, runId](const TaskOutcome<LoadedPairs> &outcome) {
            if (runId != mRunId)
                return; // another run was asked for meanwhile
            if (!outcome.value) {
                mStatus->setText(tr("Cannot load the pairs: %1").arg(outcome.error));
                Q_EMIT failed(outcome.error);
                return;
            }
            mTokenizer = outcome.value->tokenizer;
            mQuality->setText(qualityText(outcome.value->quality));
            const int n = static_cast<int>(outcome.value->rows.size());
            mModel->setRows(outcome.value->rows);
            mFilter->setQuick(static_cast<PairFilterModel::Quick>(mQuick->currentIndex()));
            mTable->resizeColumnsToContents();
            mTable->horizontalHeader()->setSectionResizeMode(PairTableModel::Prompt, QHeaderView::Stretch);
            if (mFilter->rowCount() > 0)
                mTable->selectRow(0);
            mStatus->setText(tr("%n pair(s) in %1", nullptr, n).arg(runId));
            Q_EMIT loaded(n);
        });
}

bool PairInspector::selectPair(int64_t pairId)
{
    const int source = mModel->rowOf(pairId);
    if (source < 0)
        return false;
    const QModelIndex index = mFilter->mapFromSource(mModel->index(source, 0));
    if (!index.isValid())
        return false;
    mTable->selectRow(index.row());
    mTable->scrollTo(index);
    return true;
}

int64_t PairInspector::currentPairId() const
{
    const QModelIndex current = mTable->selectionModel()->currentIndex();
    if (!current.isValid())
        return -1;
    return mModel->row(mFilter->mapToSource(current).row()).pair.id;
}

void PairInspector::showDetail()
{
    const QModelIndex current = mTable->selectionModel()->currentIndex();
    if (!current.isValid())
        return;
    const PairRow &r = mModel->row(mFilter->mapToSource(current).row());
    const int64_t id = r.pair.id;
    const Tokenizer *tokenizer = mTokenizer.get();
    mPrompt->setHtml(tr("<b>Prompt</b> (%1)<br>%2<br><b>Reference:</b> %3")
                         .arg(QString::fromStdString(r.pair.promptId), QString::fromStdString(r.prompt).toHtmlEscaped(),
                              QString::fromStdString(r.reference).toHtmlEscaped()));
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
        status += QStringLiteral(" · ") + annotationText(r.pair.annotation);
    mStatus->setText(status);
}

void PairInspector::storeAnnotation(int64_t pairId, std::function<void(Workspace &)> write)
{
    const std::string ws = mWorkspace.toStdString(), id = mRunId.toStdString();
    runInBackground<StoredPair>(
        this,
        [ws, id, pairId, write] {
            Workspace store = Workspace::open(ws, false);
            write(store);
            return store.pairs().requirePair(id, pairId);
        },
        [this, pairId](const TaskOutcome<StoredPair> &outcome) {
            if (!outcome.value) {
                mStatus->setText(tr("The annotation was not saved: %1").arg(outcome.error));
                Q_EMIT failed(outcome.error);
                return;
            }
            mModel->updatePair(*outcome.value);
            if (currentPairId() == pairId)
                showDetail();
            Q_EMIT annotated(pairId);
        });
}

void PairInspector::annotateCurrent(AnnotationAction action, double weight, const std::string &note)
{
    const int64_t pairId = currentPairId();
    if (pairId < 0)
        return;
    PairAnnotation a;
    a.pairId = pairId;
    a.action = action;
    a.weight = weight;
    a.note = note;
    const std::string run = mRunId.toStdString();
    storeAnnotation(pairId, [run, a](Workspace &store) { store.pairs().annotate(run, a); });
}

void PairInspector::clearCurrentAnnotation()
{
    const int64_t pairId = currentPairId();
    if (pairId < 0)
        return;
    const std::string run = mRunId.toStdString();
    storeAnnotation(pairId, [run, pairId](Workspace &store) { store.pairs().clearAnnotation(run, pairId); });
}

void PairInspector::move(int delta)
{
    const int rows = mFilter->rowCount();
    if (rows == 0)
        return;
    const QModelIndex current = mTable->selectionModel()->currentIndex();
    const int next = std::clamp(current.isValid() ? current.row() + delta : 0, 0, rows - 1);
    mTable->selectRow(next);
}

} // namespace plad::ui
