#include "evaluate/evaluateview.h"

#include "common/lastpaths.h"
#include "data/dataset.h"
#include "jobs/backgroundtask.h"
#include "report/tokenhtml.h"
#include "store/workspace.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QScrollArea>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace plad::ui {
namespace {

QString percent(double v)
{
    return QStringLiteral("%1%").arg(100 * v, 0, 'f', 1);
}

QString html(const nlohmann::json &v)
{
    return QString::fromStdString(v.is_string() ? v.get<std::string>() : std::string()).toHtmlEscaped();
}

double rougeOf(const nlohmann::json &row, size_t model)
{
    const auto &outputs = row.value("outputs", nlohmann::json::array());
    return model < outputs.size() ? outputs[model].value("rougeL_f", 0.0) : 0.0;
}

int outcomeOf(const nlohmann::json &row, size_t comparison)
{
    const auto &verdicts = row.value("verdicts", nlohmann::json::array());
    return comparison < verdicts.size() ? verdicts[comparison].value("outcome", 0) : 0;
}

struct RunsAndEvaluations
{
    QStringList runs;                                           ///< "r0003-plad" ...
    std::vector<std::pair<QString, nlohmann::json>> evaluations; ///< of the run asked for
};

} // namespace

EvaluateView::EvaluateView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("evaluate"));
    mController = new EvaluationController(this);
    auto *outer = new QHBoxLayout(this);

    // Left: what to evaluate.
    auto *form = new QGroupBox(tr("Evaluate"), this);
    form->setMaximumWidth(430);
    auto *f = new QFormLayout(form);
    mModel = new QComboBox(form);
    mModel->setObjectName(QStringLiteral("evalModel"));
    mModel->setEditable(true);
    mModel->setToolTip(tr("The run whose trained student is evaluated (or a model folder)"));
    f->addRow(tr("Model"), mModel);
    // Check boxes (not a checkable list: their boxes read in every theme).
    auto *againstArea = new QScrollArea(form);
    againstArea->setWidgetResizable(true);
    againstArea->setMaximumHeight(130);
    mAgainst = new QWidget(againstArea);
    mAgainst->setObjectName(QStringLiteral("evalAgainst"));
    mAgainstLayout = new QVBoxLayout(mAgainst);
    mAgainstLayout->setContentsMargins(4, 2, 4, 2);
    mAgainstLayout->setSpacing(2);
    againstArea->setWidget(mAgainst);
    againstArea->setToolTip(tr("Compared with the model prompt by prompt: its initial student, its teacher (a local one), the references "
                            "(an LLM judge only), other runs or model folders"));
    auto *addFolder = new QPushButton(tr("Add a model folder..."), form);
    addFolder->setToolTip(tr("Any Hugging Face model directory (config.json, model.safetensors, tokenizer.json)"));
    connect(addFolder, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Model folder to compare with"), lastFolder(QStringLiteral("model"), QString()));
        if (dir.isEmpty())
            return;
        rememberFolder(QStringLiteral("model"), dir + QStringLiteral("/config.json"));
        addAgainst(dir, true);
    });
    auto *againstColumn = new QVBoxLayout;
    againstColumn->addWidget(againstArea);
    againstColumn->addWidget(addFolder, 0, Qt::AlignLeft);
    f->addRow(tr("Against"), againstColumn);
    mData = new QLineEdit(form);
    mData->setObjectName(QStringLiteral("evalData"));
    mData->setPlaceholderText(tr("JSONL with prompts and references"));
    auto *dataRow = new QHBoxLayout;
    dataRow->addWidget(mData, 1);
    auto *browse = new QPushButton(tr("Browse..."), form);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(this, tr("Evaluation data"), lastFolder(QStringLiteral("data"), mData->text()),
                                                          tr("Datasets (*.jsonl *.json *.lz4 *.gz *.zst);;All files (*)"));
        if (!file.isEmpty()) {
            rememberFolder(QStringLiteral("data"), file);
            mData->setText(file);
        }
    });
    dataRow->addWidget(browse);
    f->addRow(tr("Data"), dataRow);
    mFormat = new QComboBox(form);
    for (const auto &name : datasetFormatNames())
        mFormat->addItem(QString::fromStdString(name));
    mFormat->setToolTip(tr("How records are read (as data.format in a run config)"));
    f->addRow(tr("Format"), mFormat);
    mPromptField = new QLineEdit(QStringLiteral("prompt"), form);
    mReferenceField = new QLineEdit(QStringLiteral("response"), form);
    mReferenceField->setObjectName(QStringLiteral("evalReferenceField"));
    mIdField = new QLineEdit(form);
    mIdField->setObjectName(QStringLiteral("evalIdField"));
    mIdField->setPlaceholderText(tr("line number"));
    f->addRow(tr("Prompt / reference / id field"), [&] {
        auto *row = new QHBoxLayout;
        row->addWidget(mPromptField);
        row->addWidget(mReferenceField);
        row->addWidget(mIdField);
        return row;
    }());
    mLimit = new QSpinBox(form);
    mLimit->setObjectName(QStringLiteral("evalLimit"));
    mLimit->setRange(0, 1000000);
    mLimit->setValue(100);
    mLimit->setSpecialValueText(tr("all"));
    mLimit->setSuffix(tr(" prompts"));
    mLimit->setToolTip(tr("The first N records of the data (0: all)"));
    f->addRow(tr("Prompts"), mLimit);
    mJudge = new QComboBox(form);
    mJudge->setObjectName(QStringLiteral("evalJudge"));
    mJudge->addItem(tr("ROUGE-L F1 against the reference"), QStringLiteral("rouge-l"));
    mJudge->addItem(tr("LLM judge (both orders)"), QStringLiteral("llm"));
    f->addRow(tr("Judge"), mJudge);
    mJudgeConfig = new QLineEdit(form);
    mJudgeConfig->setPlaceholderText(tr("judge config .json: {\"type\": \"local\", \"model\": DIR} or an endpoint"));
    mJudgeConfig->setEnabled(false);
    connect(mJudge, &QComboBox::currentIndexChanged, this, [this] { mJudgeConfig->setEnabled(mJudge->currentData() == QStringLiteral("llm")); });
    f->addRow(tr("Judge config"), mJudgeConfig);
    mSample = new QCheckBox(tr("sample"), form);
    mSample->setToolTip(tr("Sample at the temperature; unticked: greedy decoding (the most likely token each step)"));
    mTemperature = new QDoubleSpinBox(form);
    mTemperature->setRange(0.05, 5);
    mTemperature->setSingleStep(0.1);
    mTemperature->setValue(1.0);
    mTemperature->setEnabled(false);
    connect(mSample, &QCheckBox::toggled, mTemperature, &QWidget::setEnabled);
    f->addRow(tr("Decoding"), [&] {
        auto *row = new QHBoxLayout;
        row->addWidget(mSample);
        row->addWidget(new QLabel(tr("temperature"), form));
        row->addWidget(mTemperature);
        return row;
    }());
    mMaxNewTokens = new QSpinBox(form);
    mMaxNewTokens->setObjectName(QStringLiteral("evalMaxNewTokens"));
    mMaxNewTokens->setRange(1, 8192);
    mMaxNewTokens->setValue(32);
    mMaxNewTokens->setSuffix(tr(" tokens"));
    f->addRow(tr("Longest output"), mMaxNewTokens);
    mMaxPromptTokens = new QSpinBox(form);
    mMaxPromptTokens->setRange(1, 131072);
    mMaxPromptTokens->setValue(512);
    mMaxPromptTokens->setSuffix(tr(" tokens"));
    mMaxPromptTokens->setToolTip(tr("Longer prompts are cut, keeping their start"));
    f->addRow(tr("Longest prompt"), mMaxPromptTokens);
    mSeed = new QSpinBox(form);
    mSeed->setRange(0, 1 << 30);
    f->addRow(tr("Seed"), mSeed);
    mRun = new QPushButton(tr("Evaluate"), form);
    mRun->setObjectName(QStringLiteral("evalRun"));
    mCancel = new QPushButton(tr("Cancel"), form);
    mCancel->setObjectName(QStringLiteral("evalCancel"));
    mCancel->setEnabled(false);
    connect(mRun, &QPushButton::clicked, this, [this] { start(); });
    connect(mCancel, &QPushButton::clicked, this, &EvaluateView::cancel);
    f->addRow(QString(), [&] {
        auto *row = new QHBoxLayout;
        row->addWidget(mRun);
        row->addWidget(mCancel);
        return row;
    }());
    mProgress = new QProgressBar(form);
    mProgress->setVisible(false);
    f->addRow(mProgress);
    mStatus = new QLabel(form);
    mStatus->setObjectName(QStringLiteral("evalStatus"));
    mStatus->setWordWrap(true);
    f->addRow(mStatus);
    mStored = new QComboBox(form);
    mStored->setObjectName(QStringLiteral("evalStored"));
    mStored->setToolTip(tr("Evaluations stored with the run (by plad eval, the demo or this area)"));
    connect(mStored, &QComboBox::activated, this, [this](int i) {
        if (i >= 0 && static_cast<size_t>(i) < mStoredResults.size())
            showResult(mStoredResults[static_cast<size_t>(i)].second);
    });
    f->addRow(tr("Stored"), mStored);
    outer->addWidget(form);

    // Right: the result.
    auto *result = new QWidget(this);
    auto *r = new QVBoxLayout(result);
    mSummary = new QLabel(tr("No evaluation shown. Choose a run, its opponents and data, then Evaluate; or pick a stored evaluation."), result);
    mSummary->setObjectName(QStringLiteral("evalSummary"));
    mSummary->setWordWrap(true);
    mSummary->setTextFormat(Qt::RichText);
    r->addWidget(mSummary);
    auto *bar = new QHBoxLayout;
    mComparison = new QComboBox(result);
    mComparison->setToolTip(tr("The head-to-head the verdicts and the sorting follow"));
    connect(mComparison, &QComboBox::currentIndexChanged, this, [this] { populate(); });
    mSort = new QComboBox(result);
    mSort->setObjectName(QStringLiteral("evalSort"));
    mSort->addItems({tr("Prompt order"), tr("Losses first (largest ROUGE-L deficit)"), tr("Largest ROUGE-L difference")});
    connect(mSort, &QComboBox::currentIndexChanged, this, [this] { populate(); });
    mFilter = new QLineEdit(result);
    mFilter->setObjectName(QStringLiteral("evalFilter"));
    mFilter->setClearButtonEnabled(true);
    mFilter->setPlaceholderText(tr("Filter prompts, references and outputs"));
    connect(mFilter, &QLineEdit::textChanged, this, [this] { populate(); });
    bar->addWidget(new QLabel(tr("Comparison:"), result));
    bar->addWidget(mComparison);
    bar->addWidget(new QLabel(tr("Sort:"), result));
    bar->addWidget(mSort);
    bar->addWidget(mFilter, 1);
    r->addLayout(bar);
    auto *split = new QSplitter(Qt::Vertical, result);
    mTable = new QTableWidget(0, 6, split);
    mTable->setObjectName(QStringLiteral("evalTable"));
    mTable->setHorizontalHeaderLabels({tr("prompt id"), tr("verdict"), tr("ROUGE-L, model"), tr("ROUGE-L, other"), tr("difference"), tr("prompt")});
    mTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    mTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    mTable->setSelectionMode(QAbstractItemView::SingleSelection);
    mTable->verticalHeader()->hide();
    mTable->setWordWrap(false);
    mTable->horizontalHeader()->setStretchLastSection(true);
    connect(mTable, &QTableWidget::currentCellChanged, this, [this](int row) { showPrompt(row); });
    mDetail = new QTextBrowser(split);
    mDetail->setObjectName(QStringLiteral("evalDetail"));
    split->addWidget(mTable);
    split->addWidget(mDetail);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    r->addWidget(split, 1);
    outer->addWidget(result, 1);

    connect(mController, &EvaluationController::progress, this, [this](const QString &model, qint64 done, qint64 total, double eta) {
        mProgress->setVisible(true);
        mProgress->setRange(0, total > 0 ? static_cast<int>(total) : 0);
        mProgress->setValue(static_cast<int>(done));
        mStatus->setText(tr("%1: %2/%3 prompts%4").arg(model).arg(done).arg(total).arg(eta >= 0 ? tr(", %1 s left").arg(eta, 0, 'f', 0) : QString()));
    });
    connect(mController, &EvaluationController::finished, this,
            [this](const QString &status, const QString &message, const QByteArray &json, const QString &storedRunId) {
                mRun->setEnabled(true);
                mCancel->setEnabled(false);
                mProgress->setVisible(false);
                mStatus->setText(tr("%1: %2").arg(status, message));
                if (status == QLatin1String("failed"))
                    Q_EMIT failed(message);
                if (!json.isEmpty())
                    showResult(nlohmann::json::parse(json.toStdString(), nullptr, false));
                if (!storedRunId.isEmpty())
                    loadStored(storedRunId);
            });
    connect(mModel, &QComboBox::currentTextChanged, this, [this](const QString &run) { loadStored(run); });
}

void EvaluateView::setWorkspace(const QString &workspace)
{
    mWorkspace = workspace;
    refreshRuns();
}

void EvaluateView::setRun(const QString &runId)
{
    mPendingRun = runId;
    if (mModel->findText(runId) >= 0)
        mModel->setCurrentText(runId);
    else
        refreshRuns();
}

void EvaluateView::refreshRuns()
{
    if (mWorkspace.isEmpty())
        return;
    runInBackground<QStringList>(
        this,
        [ws = mWorkspace.toStdString()] {
            QStringList runs;
            if (!std::filesystem::exists(std::filesystem::path(ws) / Workspace::fileName))
                return runs;
            for (const auto &r : Workspace::openReadOnly(ws).runs().list())
                runs << QString::fromStdString(r.id);
            return runs;
        },
        [this](const TaskOutcome<QStringList> &outcome) {
            if (!outcome.value) {
                mStatus->setText(tr("Cannot read the runs: %1").arg(outcome.error));
                return;
            }
            const QString keep = mPendingRun.isEmpty() ? mModel->currentText() : mPendingRun;
            QStringList checked;
            for (QCheckBox *box : mAgainstBoxes)
                if (box->isChecked())
                    checked << box->property("model").toString();
            if (checked.isEmpty())
                checked << QStringLiteral("initial");
            {
                const QSignalBlocker block(mModel);
                mModel->clear();
                mModel->addItems(*outcome.value);
            }
            qDeleteAll(mAgainstBoxes);
            mAgainstBoxes.clear();
            QStringList names{QStringLiteral("initial"), QStringLiteral("teacher"), QStringLiteral("reference")};
            names << *outcome.value;
            names << mExtraModels;
            for (const auto &n : names)
                addAgainst(n, checked.contains(n));
            mModel->setCurrentText(keep.isEmpty() && !outcome.value->isEmpty() ? outcome.value->first() : keep);
            mPendingRun.clear();
            loadStored(mModel->currentText());
            Q_EMIT runsLoaded();
        });
}

void EvaluateView::loadStored(const QString &runId)
{
    if (mWorkspace.isEmpty() || runId.isEmpty())
        return;
    runInBackground<std::vector<std::pair<QString, nlohmann::json>>>(
        this,
        [ws = mWorkspace.toStdString(), id = runId.toStdString()] {
            std::vector<std::pair<QString, nlohmann::json>> out;
            Workspace store = Workspace::openReadOnly(ws);
            if (!store.runs().run(id))
                return out; // a model folder, not a run
            for (const auto &e : store.results().evaluations(id, "generation")) {
                auto doc = nlohmann::json::parse(e.resultJson, nullptr, false);
                if (doc.is_discarded())
                    continue;
                QStringList against;
                for (const auto &h : doc.value("head_to_head", nlohmann::json::array()))
                    against << QString::fromStdString(h.value("b", std::string("?")));
                out.emplace_back(QObject::tr("step %1, %2: %3 prompts vs %4")
                                     .arg(e.step)
                                     .arg(QString::fromStdString(e.createdAt).left(16).replace(QLatin1Char('T'), QLatin1Char(' ')))
                                     .arg(doc.value("prompts", 0))
                                     .arg(against.isEmpty() ? QObject::tr("nothing") : against.join(QStringLiteral(", "))),
                                 std::move(doc));
            }
            return out;
        },
        [this, runId](const TaskOutcome<std::vector<std::pair<QString, nlohmann::json>>> &outcome) {
            if (runId != mModel->currentText() || !outcome.value)
                return;
            mStoredResults = *outcome.value;
            mStored->clear();
            for (const auto &[label, doc] : mStoredResults)
                mStored->addItem(label);
            if (mStoredResults.empty()) {
                mStored->addItem(tr("(none stored for %1)").arg(runId));
                return;
            }
            mStored->setCurrentIndex(static_cast<int>(mStoredResults.size()) - 1);
            if (!mController->isRunning())
                showResult(mStoredResults.back().second);
        });
}

QCheckBox *EvaluateView::addAgainst(const QString &model, bool checked)
{
    for (QCheckBox *box : mAgainstBoxes)
        if (box->property("model").toString() == model) {
            box->setChecked(box->isChecked() || checked);
            return box;
        }
    const bool named = model == QLatin1String("initial") || model == QLatin1String("teacher") || model == QLatin1String("reference");
    if (!named && QFileInfo(model).isDir() && !mExtraModels.contains(model))
        mExtraModels << model; // a folder stays offered when the runs are read again
    auto *box = new QCheckBox(model == QLatin1String("initial")     ? tr("initial student (before training)")
                              : model == QLatin1String("teacher")   ? tr("teacher (a local one)")
                              : model == QLatin1String("reference") ? tr("references (LLM judge only)")
                                                                    : model,
                              mAgainst);
    box->setProperty("model", model);
    box->setChecked(checked);
    mAgainstLayout->addWidget(box);
    mAgainstBoxes.push_back(box);
    return box;
}

EvaluationSettings EvaluateView::settings() const
{
    EvaluationSettings s;
    s.workspace = mWorkspace;
    s.models << mModel->currentText().trimmed();
    for (QCheckBox *box : mAgainstBoxes)
        if (box->isChecked() && box->property("model").toString() != s.models.first())
            s.models << box->property("model").toString();
    s.dataFile = mData->text().trimmed();
    s.format = mFormat->currentText();
    s.promptField = mPromptField->text().trimmed();
    s.referenceField = mReferenceField->text().trimmed();
    s.idField = mIdField->text().trimmed();
    s.limit = mLimit->value();
    s.judge = mJudge->currentData().toString();
    s.judgeConfig = mJudgeConfig->text().trimmed();
    s.sample = mSample->isChecked();
    s.temperature = mTemperature->value();
    s.maxNewTokens = mMaxNewTokens->value();
    s.maxPromptTokens = mMaxPromptTokens->value();
    s.seed = mSeed->value();
    return s;
}

void EvaluateView::setSettings(const EvaluationSettings &s)
{
    if (!s.models.isEmpty())
        mModel->setCurrentText(s.models.first());
    for (QCheckBox *box : mAgainstBoxes)
        box->setChecked(s.models.mid(1).contains(box->property("model").toString()));
    for (const auto &m : s.models.mid(1))
        addAgainst(m, true); // folders and runs not listed yet
    mData->setText(s.dataFile);
    mFormat->setCurrentText(s.format);
    mPromptField->setText(s.promptField);
    mReferenceField->setText(s.referenceField);
    mIdField->setText(s.idField);
    mLimit->setValue(static_cast<int>(s.limit));
    mJudge->setCurrentIndex(mJudge->findData(s.judge));
    mJudgeConfig->setText(s.judgeConfig);
    mSample->setChecked(s.sample);
    mTemperature->setValue(s.temperature);
    mMaxNewTokens->setValue(static_cast<int>(s.maxNewTokens));
    mMaxPromptTokens->setValue(static_cast<int>(s.maxPromptTokens));
    mSeed->setValue(static_cast<int>(s.seed));
}

bool EvaluateView::start()
{
    QString error;
    if (!mController->start(settings(), &error)) {
        mStatus->setText(error);
        Q_EMIT failed(error);
        return false;
    }
    mRun->setEnabled(false);
    mCancel->setEnabled(true);
    mProgress->setVisible(true);
    mProgress->setRange(0, 0);
    mStatus->setText(tr("Loading the models..."));
    return true;
}

void EvaluateView::cancel()
{
    if (!mController->isRunning())
        return;
    mStatus->setText(tr("Cancelling at the next batch..."));
    mController->cancel();
}

void EvaluateView::showResult(const nlohmann::json &result)
{
    if (!result.is_object())
        return;
    mResult = result;
    // Win rates and their intervals, one line per head-to-head.
    QStringList lines;
    const QString judge = QString::fromStdString(result.value("judge", std::string("ROUGE-L F1 against the reference")));
    lines << tr("<b>%1 prompts</b> of %2, %3 decoding, judged by %4").arg(result.value("prompts", 0))
                 .arg(QString::fromStdString(result.value("data", std::string("?"))).toHtmlEscaped())
                 .arg(QString::fromStdString(result.value("decoding", std::string("greedy"))), judge.toHtmlEscaped());
    const QSignalBlocker block(mComparison);
    const int keep = mComparison->currentIndex();
    mComparison->clear();
    for (const auto &h : result.value("head_to_head", nlohmann::json::array())) {
        const QString a = QString::fromStdString(h.value("a", std::string("?"))), b = QString::fromStdString(h.value("b", std::string("?")));
        const double rate = h.value("win_rate", 0.0);
        QString interval;
        if (h.contains("win_rate_interval"))
            interval = tr(" [%1, %2]").arg(percent(h["win_rate_interval"].value("low", 0.0)), percent(h["win_rate_interval"].value("high", 0.0)));
        const char *colour = rate > 0.5 ? "#2ca02c" : (rate < 0.5 ? "#e0493a" : "#b9770e");
        lines << tr("%1 vs %2: win rate <b style=\"color:%3\">%4</b>%5 (%6 wins, %7 losses, %8 ties)")
                     .arg(a.toHtmlEscaped(), b.toHtmlEscaped(), QLatin1String(colour), percent(rate), interval)
                     .arg(h.value("wins", int64_t(0)))
                     .arg(h.value("losses", int64_t(0)))
                     .arg(h.value("ties", int64_t(0)));
        mComparison->addItem(tr("vs %1").arg(b));
    }
    mComparison->setCurrentIndex(std::clamp(keep, 0, std::max(0, mComparison->count() - 1)));
    if (!result.contains("per_prompt"))
        lines << tr("<i>This evaluation was stored without its per-prompt results (an earlier version); evaluate again to see them.</i>");
    mSummary->setText(lines.join(QStringLiteral("<br>")));
    populate();
    Q_EMIT resultShown();
}

void EvaluateView::setSort(Sort sort)
{
    mSort->setCurrentIndex(static_cast<int>(sort));
}

void EvaluateView::setFilterText(const QString &text)
{
    mFilter->setText(text);
}

void EvaluateView::setComparison(int index)
{
    mComparison->setCurrentIndex(index);
}

void EvaluateView::populate()
{
    const auto rows = mResult.value("per_prompt", nlohmann::json::array());
    const size_t h = static_cast<size_t>(std::max(0, mComparison->currentIndex()));
    const QString filter = mFilter->text().trimmed();
    mOrder.clear();
    for (size_t i = 0; i < rows.size(); ++i) {
        if (!filter.isEmpty()) {
            bool hit = false;
            for (const char *key : {"prompt", "reference", "id"})
                hit = hit || QString::fromStdString(rows[i].value(key, std::string())).contains(filter, Qt::CaseInsensitive);
            for (const auto &o : rows[i].value("outputs", nlohmann::json::array()))
                hit = hit || QString::fromStdString(o.value("prediction", std::string())).contains(filter, Qt::CaseInsensitive);
            if (!hit)
                continue;
        }
        mOrder.push_back(static_cast<int>(i));
    }
    auto difference = [&](int i) { return rougeOf(rows[static_cast<size_t>(i)], 0) - rougeOf(rows[static_cast<size_t>(i)], h + 1); };
    switch (static_cast<Sort>(mSort->currentIndex())) {
    case Sort::PromptOrder: break;
    case Sort::LossesFirst:
        // Losses (by the judge) first, the largest ROUGE-L deficit first among them; then ties, then wins.
        std::stable_sort(mOrder.begin(), mOrder.end(), [&](int a, int b) {
            const int oa = outcomeOf(rows[static_cast<size_t>(a)], h), ob = outcomeOf(rows[static_cast<size_t>(b)], h);
            if (oa != ob)
                return oa < ob;
            return difference(a) < difference(b);
        });
        break;
    case Sort::LargestRougeDifference:
        std::stable_sort(mOrder.begin(), mOrder.end(), [&](int a, int b) { return std::abs(difference(a)) > std::abs(difference(b)); });
        break;
    }
    mTable->setRowCount(static_cast<int>(mOrder.size()));
    for (int r = 0; r < static_cast<int>(mOrder.size()); ++r) {
        const auto &row = rows[static_cast<size_t>(mOrder[static_cast<size_t>(r)])];
        const int outcome = outcomeOf(row, h);
        const double d = difference(mOrder[static_cast<size_t>(r)]);
        const QStringList cells = {QString::fromStdString(row.value("id", std::string())), outcome > 0 ? tr("win") : outcome < 0 ? tr("loss") : tr("tie"),
                                   QString::number(rougeOf(row, 0), 'f', 3), QString::number(rougeOf(row, h + 1), 'f', 3),
                                   QStringLiteral("%1%2").arg(d > 0 ? QStringLiteral("+") : QString()).arg(d, 0, 'f', 3),
                                   QString::fromStdString(row.value("prompt", std::string())).simplified().left(140)};
        for (int c = 0; c < cells.size(); ++c) {
            auto *item = new QTableWidgetItem(cells[c]);
            if (c == 1)
                item->setForeground(QColor(outcome > 0 ? "#2ca02c" : outcome < 0 ? "#e0493a" : "#b9770e"));
            mTable->setItem(r, c, item);
        }
    }
    mTable->resizeColumnsToContents();
    mTable->horizontalHeader()->setStretchLastSection(true);
    if (!mOrder.empty())
        mTable->selectRow(0);
    else
        mDetail->clear();
}

void EvaluateView::showPrompt(int row)
{
    const auto rows = mResult.value("per_prompt", nlohmann::json::array());
    if (row < 0 || static_cast<size_t>(row) >= mOrder.size())
        return;
    const auto &r = rows[static_cast<size_t>(mOrder[static_cast<size_t>(row)])];
    QString text = tr("<p><b>Prompt</b> %1<br>%2</p><p><b>Reference:</b> %3</p>").arg(html(r["id"]), html(r["prompt"]), html(r["reference"]));
    text += QStringLiteral("<table width=\"100%\" cellspacing=\"6\"><tr>");
    const auto &outputs = r.value("outputs", nlohmann::json::array());
    const auto &verdicts = r.value("verdicts", nlohmann::json::array());
    for (size_t m = 0; m < outputs.size(); ++m) {
        const auto &o = outputs[m];
        QString verdict;
        if (m > 0 && m - 1 < verdicts.size()) {
            const auto &v = verdicts[m - 1];
            const int outcome = v.value("outcome", 0);
            verdict = tr("<br><i>the model %1 against it</i>").arg(outcome > 0 ? tr("wins") : outcome < 0 ? tr("loses") : tr("ties"));
            if (v.contains("scores") && v["scores"].size() == 2)
                verdict += tr(" (judge scores %1 vs %2)").arg(v["scores"][0].get<double>(), 0, 'f', 3).arg(v["scores"][1].get<double>(), 0, 'f', 3);
        }
        // The reference's words the output lacks are underlined: where it falls short.
        text += tr("<td valign=\"top\" width=\"%1%\"><b>%2</b> &middot; ROUGE-L %3 &middot; %4 tokens, %5%6<br><br>%7</td>")
                    .arg(100 / std::max<size_t>(1, outputs.size()))
                    .arg(html(o["name"]))
                    .arg(o.value("rougeL_f", 0.0), 0, 'f', 3)
                    .arg(o.value("tokens", int64_t(0)))
                    .arg(html(o["finish"]), verdict)
                    .arg(QString::fromStdString(wordDiffHtml(o.value("prediction", std::string()), r.value("reference", std::string()))));
    }
    text += QStringLiteral("</tr></table>");
    mDetail->setHtml(text);
}

QStringList EvaluateView::listedIds() const
{
    QStringList ids;
    for (int r = 0; r < mTable->rowCount(); ++r)
        ids << mTable->item(r, 0)->text();
    return ids;
}

QString EvaluateView::summaryText() const
{
    return mSummary->text();
}

QString EvaluateView::detailText() const
{
    return mDetail->toPlainText();
}

} // namespace plad::ui
