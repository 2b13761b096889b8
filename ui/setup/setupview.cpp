#include "setup/setupview.h"

#include "common/configreader.h"
#include "common/fileio.h"
#include "common/lastpaths.h"
#include "data/dataset.h"
#include "jobs/backgroundtask.h"
#include "plad/democonfig.h"
#include "plad/preflight.h"
#include "plad/runconfigschema.h"
#include "openai/openaiclient.h"
#include "setup/schemaform.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"
#include "train/dataconfig.h"
#include "train/sftdata.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QTableWidget>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace plad::ui {
namespace {

/** A line edit with a "Browse..." button choosing a folder (or a file when `filter` is set). */
QWidget *pathRow(QWidget *parent, QLineEdit *edit, const QString &title, const QString &filter = {})
{
    auto *row = new QWidget(parent);
    auto *layout = new QHBoxLayout(row);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(edit, 1);
    auto *browse = new QPushButton(QObject::tr("Browse..."), row);
    QObject::connect(browse, &QPushButton::clicked, row, [edit, title, filter, row] {
        const QString chosen = filter.isEmpty() ? QFileDialog::getExistingDirectory(row, title, edit->text())
                                                : QFileDialog::getOpenFileName(row, title, edit->text(), filter);
        if (!chosen.isEmpty())
            edit->setText(chosen);
    });
    layout->addWidget(browse);
    return row;
}

std::string text(const QLineEdit *e)
{
    return e->text().trimmed().toStdString();
}

} // namespace

SetupView::SetupView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("setup"));
    setAcceptDrops(true);
    // Every editor below takes its range, choices, default and tooltip from the run-config
    // schema (core), and the form writes back only what the user changed.
    mForm = new SchemaForm(runConfigSchema(), this);
    auto *outer = new QVBoxLayout(this);
    auto *scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    auto *page = new QWidget(scroll);
    auto *columns = new QHBoxLayout(page);
    auto *left = new QVBoxLayout;
    auto *right = new QVBoxLayout;
    columns->addLayout(left, 1);
    columns->addLayout(right, 1);

    auto group = [&](QVBoxLayout *column, const QString &title) {
        auto *box = new QGroupBox(title, page);
        auto *form = new QFormLayout(box);
        form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
        column->addWidget(box);
        return form;
    };

    auto *run = group(left, tr("Run"));
    mWorkspace = new QLineEdit(page);
    mWorkspace->setObjectName(QStringLiteral("workspaceEdit"));
    mWorkspace->setToolTip(tr("<b>Workspace</b>: the folder whose plad.sqlite holds the runs (created when missing); "
                              "the same folder plad run --workspace takes. Not part of the run config."));
    run->addRow(tr("Workspace"), pathRow(page, mWorkspace, tr("Workspace folder")));
    mName = mForm->text("name", page);
    mName->setPlaceholderText(tr("optional"));
    run->addRow(tr("Name"), mName);
    mSeed = mForm->integer("seed", page);
    run->addRow(tr("Seed"), mSeed);
    mProcesses = new QSpinBox(page);
    mProcesses->setObjectName(QStringLiteral("processesSpin"));
    mProcesses->setRange(1, 64);
    mProcesses->setValue(1);
    mProcesses->setSuffix(tr(" process(es)"));
    mProcesses->setToolTip(tr("Worker processes on this machine (torch.distributed over Gloo): pair generation is shared by prompt, "
                              "training is data-parallel, each process gets cores / processes threads. Not stored in the config: "
                              "a run resumes on any number. Several machines: plad run --nnodes (docs/distributed.md)."));
    run->addRow(tr("Processes"), mProcesses);

    auto *teacher = group(left, tr("Teacher"));
    mTeacherType = mForm->choice("teacher.type", page, {tr("Local model folder"), tr("OpenAI-compatible endpoint"), tr("JSONL file of outputs")});
    mTeacherType->setObjectName(QStringLiteral("teacherTypeCombo"));
    teacher->addRow(tr("Source"), mTeacherType);
    mTeacherPath = mForm->text("teacher.model", page, "teacher.type=local");
    mForm->bindText(mTeacherPath, "teacher.file", "teacher.type=jsonl");
    mTeacherPath->setObjectName(QStringLiteral("teacherEdit"));
    teacher->addRow(tr("Folder or file"), pathRow(page, mTeacherPath, tr("Teacher")));
    mEndpoint = mForm->text("teacher.base_url", page, "teacher.type=http");
    mEndpoint->setPlaceholderText(QStringLiteral("http://127.0.0.1:8000/v1"));
    teacher->addRow(tr("Base URL"), mEndpoint);
    mEndpointModel = mForm->text("teacher.model", page, "teacher.type=http");
    teacher->addRow(tr("Model name"), mEndpointModel);
    mApiKeyEnv = mForm->text("teacher.api_key_env", page, "teacher.type=http");
    mApiKeyEnv->setPlaceholderText(tr("environment variable holding the key (optional)"));
    teacher->addRow(tr("API key from"), mApiKeyEnv);
    // A template leaf (data.template, teacher.template) as its two forms: a text format and a
    // chat template, each with the leaf's help from the schema.
    auto templateRows = [&](QFormLayout *form, const std::string &leaf, const QString &formatPlaceholder, QLineEdit *&format,
                            QLineEdit *&chat) {
        const QString help = QString::fromStdString(runConfigSchema().find(leaf)->help).toHtmlEscaped();
        format = mForm->text(leaf + ".format", page);
        format->setPlaceholderText(formatPlaceholder);
        format->setToolTip(QStringLiteral("<b>%1.format</b>: ").arg(QString::fromStdString(leaf)) + help);
        form->addRow(tr("Prompt template"), format);
        chat = mForm->text(leaf + ".chat_template", page);
        chat->setPlaceholderText(tr("or a chat template: model, chatml or a .jinja file"));
        chat->setToolTip(QStringLiteral("<b>%1.chat_template</b>: ").arg(QString::fromStdString(leaf)) + help);
        form->addRow(tr("Chat template"), chat);
    };
    // How prompts are written for the teacher (only text crosses between the two models).
    templateRows(teacher, "teacher.template", tr("its own prompt_template.json or chat template, else the student's"), mTeacherFormat,
                 mTeacherChat);
    mTeacherFormat->setObjectName(QStringLiteral("teacherFormatEdit"));
    mTeacherChat->setObjectName(QStringLiteral("teacherChatTemplateEdit"));
    auto *test = new QPushButton(tr("Test connection"), page);
    mConnection = new QLabel(page);
    mConnection->setWordWrap(true);
    auto *testRow = new QHBoxLayout;
    testRow->addWidget(test);
    testRow->addWidget(mConnection, 1);
    teacher->addRow(QString(), testRow);
    connect(test, &QPushButton::clicked, this, &SetupView::testConnection);
    connect(mTeacherType, &QComboBox::currentIndexChanged, this, &SetupView::updateTeacherFields);

    auto *student = group(left, tr("Student"));
    mStudent = mForm->text("student.model", page);
    mStudent->setObjectName(QStringLiteral("studentEdit"));
    student->addRow(tr("Model folder"), pathRow(page, mStudent, tr("Student model folder")));

    auto *data = group(left, tr("Data"));
    mData = mForm->text("data.file", page);
    mData->setObjectName(QStringLiteral("dataEdit"));
    data->addRow(tr("Dataset"), pathRow(page, mData, tr("Dataset"), tr("Datasets (*.jsonl *.json *.lz4 *.gz *.zst);;All files (*)")));
    mFormat = mForm->choice("data.format", page);
    mFormat->setObjectName(QStringLiteral("dataFormat"));
    data->addRow(tr("Format"), mFormat);
    mPromptField = mForm->text("data.fields.prompt", page);
    mResponseField = mForm->text("data.fields.response", page);
    mResponseField->setObjectName(QStringLiteral("responseFieldEdit"));
    mIdField = mForm->text("data.fields.id", page);
    mIdField->setObjectName(QStringLiteral("idFieldEdit"));
    mIdField->setPlaceholderText(tr("line number"));
    data->addRow(tr("Prompt field"), mPromptField);
    data->addRow(tr("Reference field"), mResponseField);
    data->addRow(tr("Id field"), mIdField);
    templateRows(data, "data.template", tr("the student's prompt_template.json, e.g. {prompt}\\nSummary:"), mTemplate, mChatTemplate);
    mChatTemplate->setObjectName(QStringLiteral("chatTemplateEdit"));
    mMaxPrompt = mForm->integer("data.limits.max_prompt_tokens", page);
    mMaxPrompt->setObjectName(QStringLiteral("maxPromptSpin"));
    mMaxPrompt->setSuffix(tr(" tokens"));
    data->addRow(tr("Longest prompt"), mMaxPrompt);
    mMaxResponse = mForm->integer("data.limits.max_response_tokens", page);
    mMaxResponse->setObjectName(QStringLiteral("maxResponseSpin"));
    mMaxResponse->setSuffix(tr(" tokens"));
    data->addRow(tr("Longest response"), mMaxResponse);
    mPreview = new QTableWidget(0, 3, page);
    mPreview->setObjectName(QStringLiteral("dataPreview"));
    mPreview->setHorizontalHeaderLabels({tr("id"), tr("prompt"), tr("reference")});
    mPreview->horizontalHeader()->setStretchLastSection(true);
    mPreview->setMinimumHeight(140);
    mPreview->setEditTriggers(QAbstractItemView::NoEditTriggers);
    data->addRow(tr("First rows"), mPreview);
    mRenderedPrompt = new QTextBrowser(page);
    mRenderedPrompt->setObjectName(QStringLiteral("renderedPrompt"));
    mRenderedPrompt->setMaximumHeight(110);
    mRenderedPrompt->setToolTip(tr("The first training prompt exactly as the student is given it: rendered with its prompt format and "
                                   "tokenized; special tokens are marked"));
    data->addRow(tr("First prompt, as tokenized"), mRenderedPrompt);
    for (QLineEdit *e : {mData, mPromptField, mResponseField, mIdField, mTemplate, mChatTemplate, mStudent})
        if (e)
            connect(e, &QLineEdit::editingFinished, this, &SetupView::refreshPreview);
    connect(mFormat, &QComboBox::currentIndexChanged, this, &SetupView::refreshPreview);

    auto *pairs = group(right, tr("Pairs and labelling"));
    mPrompts = mForm->integer("pairs.prompts", page);
    mPrompts->setObjectName(QStringLiteral("promptsSpin"));
    mPrompts->setSpecialValueText(tr("all training prompts"));
    pairs->addRow(tr("Prompts"), mPrompts);
    mPerPrompt = mForm->integer("pairs.per_prompt", page);
    pairs->addRow(tr("Outputs per side and prompt (k)"), mPerPrompt);
    mTeacherTemperature = mForm->number("pairs.teacher.temperature", page);
    pairs->addRow(tr("Teacher temperature"), mTeacherTemperature);
    mStudentTemperature = mForm->number("pairs.student.temperature", page);
    pairs->addRow(tr("Student temperature"), mStudentTemperature);
    mStudentGreedy = mForm->boolean("pairs.student.greedy", tr("greedy student outputs (its most likely answer)"), page);
    pairs->addRow(QString(), mStudentGreedy);
    mPolicy = mForm->choice("labeling.policy", page);
    pairs->addRow(tr("Labelling"), mPolicy);
    mStudentPairs = mForm->boolean("labeling.student_pairs", tr("also rank the student's own samples (consensus)"), page);
    mStudentPairs->setObjectName(QStringLiteral("studentPairsCheck"));
    pairs->addRow(QString(), mStudentPairs);
    auto updateStudentPairs = [this] { mStudentPairs->setEnabled(mPolicy->currentData().toString() == QLatin1String("consensus")); };
    connect(mPolicy, &QComboBox::currentIndexChanged, this, updateStudentPairs);
    updateStudentPairs();
    mJudge = mForm->choice("labeling.judge", page);
    pairs->addRow(tr("Judge"), mJudge);

    auto *loss = group(right, tr("Method and loss"));
    mMethod = mForm->choice("method", page);
    mMethod->setObjectName(QStringLiteral("methodCombo"));
    loss->addRow(tr("Method"), mMethod);
    mScore = mForm->choice("loss.score", page, {tr("mean log-prob per token"), tr("summed log-prob")});
    loss->addRow(tr("Score s(y|x)"), mScore);
    mBeta = mForm->number("loss.beta", page);
    loss->addRow(tr("beta (margin)"), mBeta);
    mLambda = mForm->number("loss.lambda", page);
    mLambda->setObjectName(QStringLiteral("lambdaSpin"));
    loss->addRow(tr("lambda (CE weight)"), mLambda);
    mCeTarget = mForm->choice("loss.ce_target", page);
    loss->addRow(tr("CE target"), mCeTarget);
    mFormula = new QLabel(page);
    mFormula->setObjectName(QStringLiteral("lossFormula"));
    mFormula->setWordWrap(true);
    mFormula->setTextFormat(Qt::RichText);
    loss->addRow(tr("Loss"), mFormula);
    for (QComboBox *c : {mMethod, mScore, mCeTarget})
        connect(c, &QComboBox::currentIndexChanged, this, &SetupView::updateFormula);
    for (QDoubleSpinBox *b : {mBeta, mLambda})
        connect(b, &QDoubleSpinBox::valueChanged, this, &SetupView::updateFormula);

    auto *train = group(right, tr("Training and evaluation"));
    mLearningRate = mForm->number("train.learning_rate", page);
    mLearningRate->setObjectName(QStringLiteral("learningRateSpin"));
    train->addRow(tr("Learning rate"), mLearningRate);
    mSteps = mForm->integer("train.max_steps", page);
    mSteps->setObjectName(QStringLiteral("stepsSpin"));
    train->addRow(tr("Optimiser steps"), mSteps);
    mBatch = mForm->integer("train.batch_size", page);
    mBatch->setObjectName(QStringLiteral("batchSpin"));
    train->addRow(tr("Batch size (pairs)"), mBatch);
    mWarmup = mForm->integer("train.warmup_steps", page);
    train->addRow(tr("Warm-up steps"), mWarmup);
    mEvalPrompts = mForm->integer("eval.prompts", page);
    mEvalPrompts->setObjectName(QStringLiteral("evalPromptsSpin"));
    train->addRow(tr("Diagnostic prompts (held out)"), mEvalPrompts);
    mEvalEvery = mForm->integer("eval.every", page);
    mEvalEvery->setObjectName(QStringLiteral("evalEverySpin"));
    mEvalEvery->setSpecialValueText(tr("start and end only"));
    // Units where a number has one (the tooltips say the rest, from the schema's help).
    for (const auto &[spin, unit] : {std::pair{mPrompts, tr(" prompts")}, {mSteps, tr(" steps")},
                                     {mBatch, tr(" pairs")}, {mWarmup, tr(" steps")}, {mEvalPrompts, tr(" prompts")}, {mEvalEvery, tr(" steps")}})
        spin->setSuffix(unit);
    train->addRow(tr("Diagnostics every (steps)"), mEvalEvery);

    auto *check = new QGroupBox(tr("Pre-flight check"), page);
    auto *checkLayout = new QVBoxLayout(check);
    mPreflight = new QTextBrowser(check);
    mPreflight->setObjectName(QStringLiteral("preflight"));
    mPreflight->setMinimumHeight(150);
    mPreflight->setPlaceholderText(tr("Check lists problems before launch: tokenizers, context length, memory and time."));
    checkLayout->addWidget(mPreflight);
    right->addWidget(check, 1);
    left->addStretch();

    scroll->setWidget(page);
    outer->addWidget(scroll, 1);

    auto *buttons = new QHBoxLayout;
    auto button = [&](const QString &label, const QString &name, auto slot) {
        auto *b = new QPushButton(label, this);
        b->setObjectName(name);
        connect(b, &QPushButton::clicked, this, slot);
        buttons->addWidget(b);
        return b;
    };
    button(tr("Load..."), QStringLiteral("loadButton"), [this] {
        if (!confirmDiscardEdits(tr("Load another configuration")))
            return;
        const QString file = QFileDialog::getOpenFileName(this, tr("Load run configuration"), lastFolder(QStringLiteral("config"), mBase), tr("Run config (*.json)"));
        if (!file.isEmpty())
            rememberFolder(QStringLiteral("config"), file);
        if (!file.isEmpty())
            loadFile(file);
    });
    button(tr("Save..."), QStringLiteral("saveButton"), [this] {
        const QString file = QFileDialog::getSaveFileName(this, tr("Save run configuration"), lastFolder(QStringLiteral("config"), mBase), tr("Run config (*.json)"));
        if (!file.isEmpty())
            rememberFolder(QStringLiteral("config"), file);
        if (!file.isEmpty())
            saveFile(file);
    })->setShortcut(QKeySequence::Save);
    buttons->addStretch();
    button(tr("Check"), QStringLiteral("checkButton"), [this] { runPreflight(); });
    auto *launch = button(tr("Launch run"), QStringLiteral("launchButton"), [this] { Q_EMIT launchRequested(); });
    launch->setDefault(true);
    outer->addLayout(buttons);

    setDocument(nlohmann::json::object());
}

int SetupView::processes() const
{
    return mProcesses->value();
}

QString SetupView::workspace() const
{
    return mWorkspace->text().trimmed();
}

void SetupView::setWorkspace(const QString &workspace)
{
    mWorkspace->setText(workspace);
}

void SetupView::setDocument(const nlohmann::json &doc, const QString &baseDirectory)
{
    mBaseDoc = doc.is_object() ? doc : nlohmann::json::object();
    mBase = baseDirectory.isEmpty() ? QDir::currentPath() : baseDirectory;
    // The file over the schema's defaults: what the form shows is what `plad run` would use.
    mForm->load(mBaseDoc, mBase);
    mLoadedTeacherType = mForm->current("teacher.type");
    updateTeacherFields();
    updateFormula();
    refreshPreview();
    mCleanDocument = document();
}

bool SetupView::isModified() const
{
    return document() != mCleanDocument;
}

bool SetupView::confirmDiscardEdits(const QString &action)
{
    if (!isModified())
        return true;
    QMessageBox box(QMessageBox::Question, action,
                    mFile.isEmpty() ? tr("The setup has changes that are not saved in a file. Save them first?")
                                    : tr("The setup has changes not saved in %1. Save them first?").arg(QDir::toNativeSeparators(mFile)),
                    QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, this);
    box.setObjectName(QStringLiteral("unsavedSetupQuestion"));
    box.setDefaultButton(QMessageBox::Save);
    const int answer = box.exec();
    if (answer == QMessageBox::Discard)
        return true;
    if (answer != QMessageBox::Save)
        return false;
    QString file = mFile;
    if (file.isEmpty())
        file = QFileDialog::getSaveFileName(this, tr("Save run configuration"), lastFolder(QStringLiteral("config"), mBase), tr("Run config (*.json)"));
    if (file.isEmpty())
        return false;
    // Written now, not in the background: what follows replaces the form.
    try {
        writeFileAtomically(file.toStdString(), documentFor(file).dump(2) + "\n");
    } catch (const std::exception &e) {
        QMessageBox::warning(this, action, tr("The setup was not saved: %1").arg(QString::fromUtf8(e.what())));
        return false;
    }
    mFile = file;
    mCleanDocument = document();
    Q_EMIT configFileDone(file, QString());
    return true;
}

nlohmann::json SetupView::document() const
{
    nlohmann::json doc = mBaseDoc;
    if (mForm->current("teacher.type") != mLoadedTeacherType)
        doc["teacher"] = nlohmann::json::object(); // another kind of teacher: the old one's fields do not apply
    doc = mForm->write(doc);
    if (!doc.contains("version"))
        doc["version"] = 1;
    return doc;
}

void SetupView::loadFile(const QString &file)
{
    runInBackground<nlohmann::json>(
        this, [path = file.toStdString()] { return readJsonFile(path); },
        [this, file](const TaskOutcome<nlohmann::json> &outcome) {
            if (outcome.value) {
                setDocument(*outcome.value, QFileInfo(file).absolutePath());
                mFile = QFileInfo(file).absoluteFilePath();
            } else
                mPreflight->setHtml(QStringLiteral("<p style=\"color:#c0392b\">%1</p>").arg(outcome.error.toHtmlEscaped()));
            Q_EMIT configFileDone(file, outcome.value ? QString() : outcome.error);
        });
}

void SetupView::saveFile(const QString &file)
{
    runInBackground<bool>(
        this, [path = file.toStdString(), text = documentFor(file).dump(2) + "\n"] { writeFileAtomically(path, text); return true; },
        [this, file, saved = document()](const TaskOutcome<bool> &outcome) {
            if (outcome.value) {
                mFile = QFileInfo(file).absoluteFilePath();
                mCleanDocument = saved; // edits made while it was written stay unsaved
            }
            if (!outcome.value)
                mPreflight->setHtml(QStringLiteral("<p style=\"color:#c0392b\">%1</p>").arg(outcome.error.toHtmlEscaped()));
            Q_EMIT configFileDone(file, outcome.value ? QString() : outcome.error);
        });
}

nlohmann::json SetupView::documentFor(const QString &file) const
{
    nlohmann::json doc = document();
    if (QFileInfo(file).absolutePath() == QDir(mBase).absolutePath())
        return doc;
    // Saved elsewhere: relative paths would resolve against the new folder, so make them absolute.
    for (const auto &field : runConfigSchema().fields()) {
        if (field.type != FieldType::Path || !runConfigSchema().applies(field, doc))
            continue;
        const auto value = valueAt(doc, field.path);
        if (value.is_string() && !value.get<std::string>().empty())
            setValueAt(doc, field.path, QDir::cleanPath(QDir(mBase).absoluteFilePath(QString::fromStdString(value.get<std::string>()))).toStdString());
    }
    return doc;
}

void SetupView::loadDemo(const QString &demoDirectory)
{
    // The demo's PLaD run, as `plad demo` configures it.
    const std::filesystem::path demo = QDir(demoDirectory).absolutePath().toStdString();
    const nlohmann::json doc = demoRunConfig(demo, "plad", {{"type", "local"}, {"model", (demo / "teacher").string()}}, DemoBudget{});
    setDocument(doc, demoDirectory);
    mFile.clear();
}

void SetupView::updateTeacherFields()
{
    const QString type = mTeacherType->currentData().toString();
    const bool http = type == QLatin1String("http");
    mTeacherPath->setEnabled(!http);
    mEndpoint->setEnabled(http);
    mEndpointModel->setEnabled(http);
    mApiKeyEnv->setEnabled(http);
    // A JSONL teacher's outputs exist already: no prompt is written for it.
    mTeacherFormat->setEnabled(type != QLatin1String("jsonl"));
    mTeacherChat->setEnabled(type != QLatin1String("jsonl"));
}

void SetupView::updateFormula()
{
    const QString method = mMethod->currentText();
    const QString s = mScore->currentData().toString() == QLatin1String("mean") ? tr("(1/|y|) log p(y|x)") : tr("log p(y|x)");
    const QString ce = mLambda->value() > 0
                           ? tr(" + %1 &middot; CE(%2)").arg(mLambda->value()).arg(mCeTarget->currentText() == QLatin1String("chosen") ? tr("y<sup>+</sup>") : tr("reference"))
                           : QString();
    QString formula;
    if (method == QLatin1String("plad"))
        formula = tr("max(0, %1 &minus; s(y<sup>+</sup>|x) + s(y<sup>&minus;</sup>|x))%2").arg(mBeta->value()).arg(ce);
    else if (method == QLatin1String("plad-logistic"))
        formula = tr("&minus;log &sigma;(s(y<sup>+</sup>|x) &minus; s(y<sup>&minus;</sup>|x) &minus; %1)%2").arg(mBeta->value()).arg(ce);
    else if (method == QLatin1String("seqkd"))
        formula = tr("CE(teacher output | x): imitate the teacher's text");
    else if (method == QLatin1String("dpo"))
        formula = tr("&minus;log &sigma;(&beta;<sub>DPO</sub> [(log p(y<sup>+</sup>) &minus; log p<sub>ref</sub>(y<sup>+</sup>)) &minus; (log p(y<sup>&minus;</sup>) &minus; log p<sub>ref</sub>(y<sup>&minus;</sup>))])");
    else if (method == QLatin1String("word-kd"))
        formula = tr("KL between the teacher's and the student's next-token distributions (one shared vocabulary)");
    else
        formula = tr("CE(reference | x): continued fine-tuning");
    mFormula->setText(formula + (method.startsWith(QLatin1String("plad")) ? tr("<br>with s(y|x) = %1").arg(s) : QString()));
}

void SetupView::refreshPreview()
{
    const std::string file = text(mData);
    if (file.empty())
        return;
    const nlohmann::json doc = document();
    const std::string base = mBase.toStdString();
    struct Preview
    {
        std::vector<DatasetRecord> records;
        QString rendered; ///< HTML: the first prompt as tokenized, special tokens marked
    };
    runInBackground<Preview>(
        this,
        [doc, base]() {
            Preview out;
            // The data section read exactly as `plad run` reads it: file, format, field mapping.
            const DataConfig data = DataConfig::fromConfig(ConfigReader(doc.value("data", nlohmann::json::object()), "data", base));
            ImportOptions options = data.import;
            options.removeDuplicates = false;
            namespace fs = std::filesystem;
            out.records = importDataset(data.file, options).records;
            out.records.resize(std::min<size_t>(out.records.size(), 6));
            const nlohmann::json studentSection = doc.value("student", nlohmann::json::object());
            fs::path student = studentSection.value("model", std::string());
            if (!student.empty() && student.is_relative())
                student = fs::path(base) / student;
            if (out.records.empty() || student.empty() || !fs::exists(student / "tokenizer.json"))
                return out;
            try {
                const Tokenizer tokenizer = Tokenizer::load(student);
                std::optional<PromptTemplate> configured = data.promptTemplate;
                if (studentSection.contains("template"))
                    configured = PromptTemplate::fromJson(studentSection["template"], "student.template", base);
                const PromptTemplate t = PromptTemplate::resolve(configured, student);
                EncodingLimits limits = data.limits;
                limits.contextLength = 1 << 20;
                const auto ids = encodePromptWithin(out.records.front().input(), tokenizer, t, limits, 0);
                QString html = QObject::tr("<i>%1 tokens, %2:</i><br>").arg(ids.size()).arg(t.isChat() ? QObject::tr("chat template")
                                                                                                         : QObject::tr("text format"));
                std::vector<int64_t> run;
                auto flush = [&] {
                    if (!run.empty())
                        html += QString::fromStdString(tokenizer.decode(run)).toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("&#8629;<br>"));
                    run.clear();
                };
                for (const int64_t id : ids) {
                    if (tokenizer.isSpecial(id)) {
                        flush();
                        html += QStringLiteral("<b style=\"background-color:#c9d7f2;color:#111\">%1</b>")
                                    .arg(QString::fromStdString(tokenizer.decode({id})).toHtmlEscaped());
                    } else {
                        run.push_back(id);
                    }
                }
                flush();
                out.rendered = html;
            } catch (const std::exception &e) {
                out.rendered = QObject::tr("<b>The first prompt cannot be rendered:</b> %1").arg(QString::fromStdString(e.what()).toHtmlEscaped());
            }
            return out;
        },
        [this](const TaskOutcome<Preview> &outcome) {
            if (!outcome.value) {
                mPreview->setRowCount(1);
                mPreview->setItem(0, 0, new QTableWidgetItem(tr("error")));
                mPreview->setItem(0, 1, new QTableWidgetItem(outcome.error));
                mPreview->setItem(0, 2, new QTableWidgetItem());
                mRenderedPrompt->clear();
                return;
            }
            mRenderedPrompt->setHtml(outcome.value->rendered);
            mPreview->setRowCount(static_cast<int>(outcome.value->records.size()));
            int row = 0;
            for (const auto &r : outcome.value->records) {
                mPreview->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(r.id)));
                mPreview->setItem(row, 1, new QTableWidgetItem(QString::fromStdString(r.prompt).simplified().left(160)));
                mPreview->setItem(row, 2, new QTableWidgetItem(QString::fromStdString(r.reference).simplified().left(120)));
                ++row;
            }
        });
}

void SetupView::runPreflight()
{
    mPreflight->setHtml(tr("<p>Checking...</p>"));
    const nlohmann::json doc = document();
    const std::string base = mBase.toStdString();
    runInBackground<std::vector<PreflightFinding>>(
        this, [doc, base] { return preflightCheck(doc, base); },
        [this](const TaskOutcome<std::vector<PreflightFinding>> &outcome) {
            if (!outcome.value) {
                mPreflight->setHtml(QStringLiteral("<p style=\"color:#c0392b\">%1</p>").arg(outcome.error.toHtmlEscaped()));
                Q_EMIT preflightDone(1);
                return;
            }
            QString html = QStringLiteral("<ul>");
            int errors = 0;
            for (const auto &f : *outcome.value) {
                const QString colour = f.severity == "error" ? QStringLiteral("#c0392b") : f.severity == "warning" ? QStringLiteral("#b9770e") : QString();
                errors += f.severity == "error" ? 1 : 0;
                html += QStringLiteral("<li><b%1>%2</b> (%3): %4</li>")
                            .arg(colour.isEmpty() ? QString() : QStringLiteral(" style=\"color:%1\"").arg(colour),
                                 QString::fromStdString(f.severity), QString::fromStdString(f.topic), QString::fromStdString(f.message).toHtmlEscaped());
            }
            html += QStringLiteral("</ul>");
            html.prepend(errors == 0 ? tr("<p><b>Ready to launch.</b></p>") : tr("<p><b>%n problem(s) to fix before launch.</b></p>", nullptr, errors));
            mPreflight->setHtml(html);
            Q_EMIT preflightDone(errors);
        });
}

QString SetupView::preflightText() const
{
    return mPreflight->toPlainText();
}

void SetupView::testConnection()
{
    OpenAiEndpoint endpoint;
    endpoint.baseUrl = text(mEndpoint);
    endpoint.model = text(mEndpointModel);
    endpoint.apiKeyEnv = text(mApiKeyEnv);
    endpoint.maxRetries = 0;
    endpoint.timeoutSeconds = 10;
    endpoint.concurrency = 1;
    mConnection->setText(tr("Connecting..."));
    runInBackground<QString>(
        this,
        [endpoint] {
            endpoint.validate("teacher");
            CompletionSettings settings;
            settings.maxTokens = 1;
            QString result;
            requestCompletions(endpoint, settings, {"Hello"}, [&](const CompletionResult &r) {
                if (!r.error.empty())
                    throw Error(r.error);
                result = QObject::tr("answered in %1 s").arg(r.seconds, 0, 'f', 2);
            });
            return result;
        },
        [this](const TaskOutcome<QString> &outcome) {
            const bool ok = outcome.value.has_value();
            mConnection->setText(ok ? tr("Connected: %1").arg(*outcome.value) : tr("Failed: %1").arg(outcome.error));
            Q_EMIT connectionTested(ok, ok ? *outcome.value : outcome.error);
        });
}

void SetupView::dragEnterEvent(QDragEnterEvent *event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void SetupView::dropEvent(QDropEvent *event)
{
    if (takeDroppedFiles(event->mimeData()->urls()))
        event->acceptProposedAction();
}

bool SetupView::takeDroppedFiles(const QList<QUrl> &urls)
{
    bool taken = false;
    for (const QUrl &url : urls) {
        const QFileInfo info(url.toLocalFile());
        if (info.isDir() && QFileInfo::exists(info.filePath() + QStringLiteral("/config.json"))) {
            // A model: the student first, then the teacher.
            QLineEdit *target = mStudent->text().isEmpty() ? mStudent : mTeacherPath;
            if (target == mTeacherPath)
                mTeacherType->setCurrentIndex(mTeacherType->findData(QStringLiteral("local")));
            target->setText(info.absoluteFilePath());
            taken = true;
        } else if (info.isFile() && info.fileName().endsWith(QLatin1String(".json")) && !info.fileName().endsWith(QLatin1String(".jsonl"))) {
            if (confirmDiscardEdits(tr("Load %1").arg(info.fileName())))
                loadFile(info.absoluteFilePath());
            taken = true;
        } else if (info.isFile()) {
            mData->setText(info.absoluteFilePath());
            refreshPreview();
            taken = true;
        }
    }
    return taken;
}

} // namespace plad::ui
