#include "runs/runsview.h"

#include "charts/metricchart.h"
#include "jobs/backgroundtask.h"
#include "report/chartcatalog.h"
#include "report/svgchart.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace plad::ui {
namespace {

CatalogChart overlaySpec(const char *id, const char *title, const char *yLabel, std::optional<double> yMin, std::optional<double> yMax)
{
    CatalogChart spec;
    spec.id = id;
    spec.title = title;
    spec.xLabel = "optimiser step";
    spec.yLabel = yLabel;
    spec.yMin = yMin;
    spec.yMax = yMax;
    return spec;
}

void flatten(const nlohmann::json &value, const std::string &prefix, std::map<std::string, std::string> &out)
{
    if (value.is_object() && !value.empty()) {
        for (auto it = value.begin(); it != value.end(); ++it)
            flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
        return;
    }
    out[prefix] = value.is_string() ? value.get<std::string>() : value.dump();
}

QString percentOrDash(double v)
{
    return v < 0 ? QStringLiteral("-") : QStringLiteral("%1%").arg(100 * v, 0, 'f', 1);
}

struct OverlaySeries
{
    QString runId, method;
    std::vector<std::pair<double, double>> accuracy, loss;
};

} // namespace

RunsView::RunsView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("runs"));
    auto *layout = new QVBoxLayout(this);
    auto *buttons = new QHBoxLayout;
    auto button = [&](const QString &text, const QString &tip, auto slot) {
        auto *b = new QPushButton(text, this);
        b->setToolTip(tip);
        connect(b, &QPushButton::clicked, this, slot);
        buttons->addWidget(b);
        return b;
    };
    button(tr("Refresh"), tr("Reload the runs from the workspace (F5)"), [this] { refresh(); })->setShortcut(QKeySequence::Refresh);
    button(tr("Open"), tr("Show the run's curves, pairs and report"), [this] {
        const auto ids = selectedIds();
        for (const auto &r : mRuns)
            if (!ids.isEmpty() && QString::fromStdString(r.record.id) == ids.first())
                Q_EMIT openRun(ids.first(), QString::fromStdString(r.record.method));
    });
    button(tr("Compare"), tr("Overlay the selected runs' curves and list the settings that differ"), [this] { compare(selectedIds()); });
    button(tr("Resume"), tr("Continue a stopped or failed run"), [this] {
        const auto ids = selectedIds();
        if (!ids.isEmpty())
            Q_EMIT resumeRun(ids.first());
    });
    button(tr("Evaluate..."), tr("Evaluate the selected run against its initial student, its teacher or other runs (in Evaluate)"), [this] {
        const auto ids = selectedIds();
        if (!ids.isEmpty())
            Q_EMIT evaluateRun(ids.first());
    });
    button(tr("Rename..."), tr("Give the run a name (F2)"), [this] { rename(); })->setShortcut(QKeySequence(Qt::Key_F2));
    button(tr("Tags..."), tr("Edit the run's tags"), [this] { editTags(); });
    button(tr("Delete..."), tr("Delete the run and everything recorded for it"), [this] { remove(); });
    buttons->addStretch();
    layout->addLayout(buttons);

    auto *split = new QSplitter(Qt::Vertical, this);
    mTable = new QTableWidget(0, 10, split);
    mTable->setObjectName(QStringLiteral("runsTable"));
    mTable->setHorizontalHeaderLabels({tr("run"), tr("name"), tr("method"), tr("status"), tr("steps"), tr("held-out ranking acc."), tr("token ECE"),
                                       tr("tags"), tr("created (UTC)"), tr("updated (UTC)")});
    mTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    mTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    mTable->setSortingEnabled(true);
    mTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    mTable->horizontalHeader()->setStretchLastSection(true);
    connect(mTable, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
        const QString id = mTable->item(row, 0)->text();
        Q_EMIT openRun(id, mTable->item(row, 2)->text());
    });

    auto *comparison = new QWidget(split);
    auto *compareLayout = new QHBoxLayout(comparison);
    mOverlayAccuracy = new MetricChart(overlaySpec("overlay-accuracy", "Held-out pair ranking accuracy by run", "share of held-out pairs ranked right", 0.0, 1.0), comparison);
    mOverlayLoss = new MetricChart(overlaySpec("overlay-loss", "Training loss by run (smoothed)", "loss (nats)", std::nullopt, std::nullopt), comparison);
    mDiff = new QTreeWidget(comparison);
    mDiff->setObjectName(QStringLiteral("configDiff"));
    mDiff->setHeaderLabels({tr("setting that differs")});
    mDiff->setRootIsDecorated(false);
    compareLayout->addWidget(mOverlayAccuracy, 2);
    compareLayout->addWidget(mOverlayLoss, 2);
    compareLayout->addWidget(mDiff, 3);
    split->addWidget(mTable);
    split->addWidget(comparison);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    layout->addWidget(split, 1);
    mStatus = new QLabel(this);
    mStatus->setWordWrap(true);
    layout->addWidget(mStatus);
}

void RunsView::setWorkspace(const QString &workspace)
{
    mWorkspace = workspace;
    refresh();
}

void RunsView::refresh()
{
    if (mWorkspace.isEmpty())
        return;
    const std::string ws = mWorkspace.toStdString();
    runInBackground<std::vector<RunSummary>>(
        this,
        [ws] {
            std::vector<RunSummary> rows;
            if (!std::filesystem::exists(std::filesystem::path(ws) / Workspace::fileName))
                return rows;
            Workspace store = Workspace::openReadOnly(ws);
            for (auto &r : store.runs().list()) {
                RunSummary s;
                s.steps = std::max<int64_t>(0, store.runs().lastMetricStep(r.id));
                if (const auto acc = store.runs().metrics(r.id, "eval_pair_accuracy"); !acc.empty())
                    s.heldOutAccuracy = acc.back().value;
                if (const auto ece = store.runs().metrics(r.id, "eval_ece"); !ece.empty())
                    s.ece = ece.back().value;
                s.record = std::move(r);
                rows.push_back(std::move(s));
            }
            return rows;
        },
        [this](const TaskOutcome<std::vector<RunSummary>> &outcome) {
            if (!outcome.value) {
                mStatus->setText(tr("Cannot read the runs: %1").arg(outcome.error));
                Q_EMIT failed(outcome.error);
                return;
            }
            mRuns = *outcome.value;
            mTable->setSortingEnabled(false);
            mTable->setRowCount(static_cast<int>(mRuns.size()));
            for (int row = 0; row < static_cast<int>(mRuns.size()); ++row) {
                const auto &s = mRuns[static_cast<size_t>(row)];
                const QStringList cells = {QString::fromStdString(s.record.id), QString::fromStdString(s.record.name),
                                           QString::fromStdString(s.record.method), QString::fromStdString(toString(s.record.status)),
                                           QString::number(s.steps), percentOrDash(s.heldOutAccuracy),
                                           s.ece < 0 ? QStringLiteral("-") : QString::number(s.ece, 'f', 4), tagsText(s.record.tags),
                                           QString::fromStdString(s.record.createdAt).left(19).replace(QLatin1Char('T'), QLatin1Char(' ')),
                                           QString::fromStdString(s.record.updatedAt).left(19).replace(QLatin1Char('T'), QLatin1Char(' '))};
                for (int c = 0; c < cells.size(); ++c) {
                    auto *item = new QTableWidgetItem(cells[c]);
                    if (c == 3 && !s.record.error.empty())
                        item->setToolTip(QString::fromStdString(s.record.error));
                    mTable->setItem(row, c, item);
                }
            }
            mTable->setSortingEnabled(true);
            mStatus->setText(mRuns.empty() ? tr("No runs in %1 yet. Run > Load the demo (Ctrl+D) fills Setup with the demo; Launch (Ctrl+R) starts it. "
                                                "Runs made with plad run in this workspace appear here too.")
                                                 .arg(mWorkspace)
                                           : tr("%n run(s) in %1", nullptr, static_cast<int>(mRuns.size())).arg(mWorkspace));
            Q_EMIT refreshed();
        });
}

QStringList RunsView::selectedIds() const
{
    QStringList ids;
    for (const auto &index : mTable->selectionModel()->selectedRows())
        ids << mTable->item(index.row(), 0)->text();
    return ids;
}

bool RunsView::selectRun(const QString &runId)
{
    for (int row = 0; row < mTable->rowCount(); ++row)
        if (mTable->item(row, 0)->text() == runId) {
            mTable->selectRow(row);
            return true;
        }
    return false;
}

QList<QStringList> RunsView::diffConfigs(const std::vector<std::string> &configJsons)
{
    std::vector<std::map<std::string, std::string>> flat(configJsons.size());
    std::set<std::string> keys;
    for (size_t i = 0; i < configJsons.size(); ++i) {
        flatten(nlohmann::json::parse(configJsons[i]), "", flat[i]);
        for (const auto &[k, v] : flat[i])
            keys.insert(k);
    }
    QList<QStringList> rows;
    for (const auto &key : keys) {
        QStringList row{QString::fromStdString(key)};
        std::set<std::string> values;
        for (const auto &f : flat) {
            const auto it = f.find(key);
            const std::string v = it == f.end() ? std::string("(not set)") : it->second;
            values.insert(v);
            row << QString::fromStdString(v);
        }
        if (values.size() > 1 && key != "name")
            rows << row;
    }
    return rows;
}

void RunsView::compare(const QStringList &runIds)
{
    if (runIds.size() < 2) {
        mStatus->setText(tr("Select two or more runs to compare (Ctrl+click)."));
        return;
    }
    // Select them in the table, so what is compared is visible.
    mTable->clearSelection();
    for (int row = 0; row < mTable->rowCount(); ++row)
        if (runIds.contains(mTable->item(row, 0)->text()))
            mTable->selectionModel()->select(mTable->model()->index(row, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
    std::vector<std::string> configs;
    for (const auto &id : runIds)
        for (const auto &r : mRuns)
            if (QString::fromStdString(r.record.id) == id)
                configs.push_back(r.record.configJson);
    mDifferences = diffConfigs(configs);
    mDiff->clear();
    QStringList header{tr("setting that differs")};
    header << runIds;
    mDiff->setHeaderLabels(header);
    for (const auto &row : mDifferences)
        mDiff->addTopLevelItem(new QTreeWidgetItem(row));
    for (int c = 0; c < mDiff->columnCount(); ++c)
        mDiff->resizeColumnToContents(c);
    if (mDifferences.isEmpty())
        mDiff->addTopLevelItem(new QTreeWidgetItem(QStringList{tr("(the configurations are the same)")}));

    const std::string ws = mWorkspace.toStdString();
    std::vector<std::string> ids;
    for (const auto &id : runIds)
        ids.push_back(id.toStdString());
    runInBackground<std::vector<OverlaySeries>>(
        this,
        [ws, ids] {
            Workspace store = Workspace::openReadOnly(ws);
            std::vector<OverlaySeries> out;
            for (const auto &id : ids) {
                OverlaySeries s;
                s.runId = QString::fromStdString(id);
                s.method = QString::fromStdString(store.runs().requireRun(id).method);
                for (const auto &p : store.runs().metrics(id, "eval_pair_accuracy"))
                    s.accuracy.emplace_back(static_cast<double>(p.step), p.value);
                std::vector<std::pair<double, double>> loss;
                for (const auto &p : store.runs().metrics(id, "loss"))
                    loss.emplace_back(static_cast<double>(p.step), p.value);
                s.loss = smoothed(loss);
                out.push_back(std::move(s));
            }
            return out;
        },
        [this](const TaskOutcome<std::vector<OverlaySeries>> &outcome) {
            if (!outcome.value) {
                mStatus->setText(tr("Cannot read the runs' curves: %1").arg(outcome.error));
                return;
            }
            mOverlayAccuracy->clear();
            mOverlayLoss->clear();
            // Same method, same hue.
            std::map<QString, int> seen;
            for (const auto &s : *outcome.value) {
                QColor colour(QString::fromStdString(methodColour(s.method.toStdString())));
                // Further runs of a method alternate lighter and darker shades (told apart in either theme).
                const int n = seen[s.method]++;
                if (n > 0)
                    colour = n % 2 == 1 ? colour.lighter(100 + 45 * ((n + 1) / 2)) : colour.darker(100 + 45 * (n / 2));
                mOverlayAccuracy->addSeries(s.runId, colour.name(), s.accuracy);
                mOverlayLoss->addSeries(s.runId, colour.name(), s.loss);
            }
            mOverlayAccuracy->refresh();
            mOverlayLoss->refresh();
            mStatus->setText(tr("Comparing %n run(s); %1 setting(s) differ.", nullptr, static_cast<int>(outcome.value->size())).arg(mDifferences.size()));
            Q_EMIT compared();
        });
}

QList<QStringList> RunsView::configDifferences() const
{
    return mDifferences;
}

void RunsView::writeInBackground(const QString &title, std::function<void(Workspace &)> write)
{
    runInBackground<bool>(
        this, [ws = mWorkspace.toStdString(), write] {
            Workspace store = Workspace::open(ws, false);
            write(store);
            return true;
        },
        [this, title](const TaskOutcome<bool> &o) {
            if (!o.value)
                QMessageBox::warning(this, title, o.error);
            refresh();
        });
}

const RunSummary *RunsView::summaryOf(const QString &runId) const
{
    for (const auto &r : mRuns)
        if (QString::fromStdString(r.record.id) == runId)
            return &r;
    return nullptr;
}

void RunsView::rename()
{
    const auto ids = selectedIds();
    const RunSummary *run = ids.isEmpty() ? nullptr : summaryOf(ids.first());
    if (!run)
        return;
    // The dialog starts from the run's name: confirming it unedited changes nothing.
    auto *dialog = new QInputDialog(this);
    dialog->setObjectName(QStringLiteral("renameDialog"));
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setWindowTitle(tr("Rename run"));
    dialog->setLabelText(tr("Name of %1:").arg(ids.first()));
    dialog->setTextValue(QString::fromStdString(run->record.name));
    connect(dialog, &QInputDialog::textValueSelected, this, [this, id = run->record.id, before = run->record.name](const QString &name) {
        if (name.toStdString() == before)
            return;
        writeInBackground(tr("Rename run"), [id, text = name.trimmed().toStdString()](Workspace &store) { store.runs().rename(id, text); });
    });
    dialog->open();
}

QString RunsView::tagsText(const std::vector<std::string> &tags)
{
    QStringList list;
    for (const auto &t : tags)
        list << QString::fromStdString(t);
    return list.join(QStringLiteral(", "));
}

std::vector<std::string> RunsView::parseTags(const QString &text)
{
    std::vector<std::string> tags;
    for (const auto &t : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const std::string tag = t.trimmed().toStdString();
        if (!tag.empty() && std::find(tags.begin(), tags.end(), tag) == tags.end())
            tags.push_back(tag);
    }
    return tags;
}

void RunsView::editTags()
{
    const auto ids = selectedIds();
    const RunSummary *run = ids.isEmpty() ? nullptr : summaryOf(ids.first());
    if (!run)
        return;
    // The dialog starts from the run's tags, so adding one keeps the others.
    auto *dialog = new QInputDialog(this);
    dialog->setObjectName(QStringLiteral("tagsDialog"));
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setWindowTitle(tr("Tags"));
    dialog->setLabelText(tr("Tags of %1, separated by commas:").arg(ids.first()));
    dialog->setTextValue(tagsText(run->record.tags));
    connect(dialog, &QInputDialog::textValueSelected, this, [this, id = run->record.id, before = run->record.tags](const QString &text) {
        const auto tags = parseTags(text);
        if (tags == before)
            return;
        writeInBackground(tr("Tags"), [id, tags](Workspace &store) { store.runs().setTags(id, tags); });
    });
    dialog->open();
}

void RunsView::remove()
{
    const auto ids = selectedIds();
    if (ids.isEmpty())
        return;
    if (QMessageBox::question(this, tr("Delete runs"),
                              tr("Delete %1 and everything recorded for it (pairs, metrics, annotations)? The files under runs/ stay on disk.")
                                  .arg(ids.join(QStringLiteral(", "))))
        != QMessageBox::Yes)
        return;
    std::vector<std::string> list;
    for (const auto &id : ids)
        list.push_back(id.toStdString());
    writeInBackground(tr("Delete runs"), [list](Workspace &store) {
        for (const auto &id : list)
            store.runs().deleteRun(id);
    });
}

} // namespace plad::ui
