#include "playground/playgroundview.h"

#include "plad/demostudy.h"
#include "plad/distillrun.h"
#include "report/tokenhtml.h"
#include "serve/textgenerator.h"
#include "store/workspace.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QAbstractTextDocumentLayout>
#include <QHelpEvent>
#include <QScrollBar>
#include <QTextBrowser>
#include <QTextCursor>
#include <QToolTip>
#include <QToolButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrent>

#include <cmath>
#include <mutex>

#include <nlohmann/json.hpp>

namespace plad::ui {

/** Loaded models by directory; a model generates for one worker at a time. */
struct PlaygroundView::Cache
{
    struct Loaded
    {
        std::shared_ptr<plad::TextGenerator> generator;
        std::mutex busy;
    };
    std::mutex mutex;
    std::map<QString, std::shared_ptr<Loaded>> models;

    std::shared_ptr<Loaded> get(const QString &directory, QString *error)
    {
        {
            std::lock_guard lock(mutex);
            if (const auto it = models.find(directory); it != models.end())
                return it->second;
        }
        try {
            auto loaded = std::make_shared<Loaded>();
            loaded->generator = std::make_shared<plad::TextGenerator>(directory.toStdString());
            std::lock_guard lock(mutex);
            return models.emplace(directory, loaded).first->second;
        } catch (const std::exception &e) {
            *error = QString::fromStdString(e.what());
            return nullptr;
        }
    }
};

PlaygroundView::PlaygroundView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("playground"));
    mCache = std::make_shared<Cache>();
    auto *layout = new QVBoxLayout(this);

    auto *promptBox = new QGroupBox(tr("Prompt"), this);
    auto *promptLayout = new QVBoxLayout(promptBox);
    auto *modeRow = new QHBoxLayout;
    mMode = new QComboBox(promptBox);
    mMode->setObjectName(QStringLiteral("promptMode"));
    mMode->addItem(tr("Text, through each model's prompt format"), QStringLiteral("text"));
    mMode->addItem(tr("Conversation: a JSON list of {\"role\", \"content\"} messages"), QStringLiteral("messages"));
    mMode->addItem(tr("Raw text, no prompt format"), QStringLiteral("raw"));
    mMode->setToolTip(tr("How the text below reaches the models: rendered with each model's chat template or the text format it was "
                         "trained with, as a conversation, or tokenized as it is"));
    mSystem = new QLineEdit(promptBox);
    mSystem->setObjectName(QStringLiteral("system"));
    mSystem->setPlaceholderText(tr("System prompt (optional; used when the conversation has none)"));
    modeRow->addWidget(mMode);
    modeRow->addWidget(mSystem, 1);
    promptLayout->addLayout(modeRow);
    mPrompt = new QPlainTextEdit(promptBox);
    mPrompt->setObjectName(QStringLiteral("prompt"));
    mPrompt->setPlaceholderText(tr("Type a prompt (Ctrl+Return generates)"));
    mPrompt->setMaximumHeight(120);
    promptLayout->addWidget(mPrompt);

    auto *settings = new QHBoxLayout;
    mMaxTokens = new QSpinBox(promptBox);
    mMaxTokens->setRange(1, 4096);
    mMaxTokens->setValue(48);
    mMaxTokens->setSuffix(tr(" tokens"));
    mMaxTokens->setToolTip(tr("Longest output (within each model's context)"));
    mGreedy = new QCheckBox(tr("Greedy"), promptBox);
    mGreedy->setChecked(true);
    mGreedy->setToolTip(tr("Pick the most likely token each step; off: sample with the temperature, top-p and seed"));
    mTemperature = new QDoubleSpinBox(promptBox);
    mTemperature->setRange(0.05, 2.0);
    mTemperature->setSingleStep(0.05);
    mTemperature->setValue(1.0);
    mTemperature->setToolTip(tr("Sampling temperature"));
    mTopP = new QDoubleSpinBox(promptBox);
    mTopP->setRange(0.01, 1.0);
    mTopP->setSingleStep(0.05);
    mTopP->setValue(1.0);
    mTopP->setToolTip(tr("Nucleus sampling: the smallest set of tokens with this total probability"));
    mSeed = new QSpinBox(promptBox);
    mSeed->setRange(0, 1 << 30);
    mSeed->setToolTip(tr("Random seed: the same seed gives the same sample"));
    for (auto *w : std::initializer_list<QWidget *>{mTemperature, mTopP, mSeed})
        w->setEnabled(false);
    connect(mGreedy, &QCheckBox::toggled, this, [this](bool greedy) {
        for (auto *w : std::initializer_list<QWidget *>{mTemperature, mTopP, mSeed})
            w->setEnabled(!greedy);
    });
    settings->addWidget(new QLabel(tr("Max"), promptBox));
    settings->addWidget(mMaxTokens);
    settings->addWidget(mGreedy);
    settings->addWidget(new QLabel(tr("Temperature"), promptBox));
    settings->addWidget(mTemperature);
    settings->addWidget(new QLabel(tr("Top-p"), promptBox));
    settings->addWidget(mTopP);
    settings->addWidget(new QLabel(tr("Seed"), promptBox));
    settings->addWidget(mSeed);
    settings->addStretch(1);
    mGenerate = new QPushButton(tr("&Generate"), promptBox);
    mGenerate->setObjectName(QStringLiteral("generate"));
    mStop = new QPushButton(tr("S&top"), promptBox);
    mStop->setObjectName(QStringLiteral("stop"));
    mStop->setEnabled(false);
    settings->addWidget(mGenerate);
    settings->addWidget(mStop);
    promptLayout->addLayout(settings);
    layout->addWidget(promptBox);

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    for (int s = 0; s < 2; ++s) {
        Side &side = mSides[s];
        auto *box = new QGroupBox(s == 0 ? tr("Model A") : tr("Model B"), splitter);
        auto *boxLayout = new QVBoxLayout(box);
        auto *row = new QHBoxLayout;
        side.model = new QComboBox(box);
        side.model->setObjectName(QStringLiteral("model%1").arg(s));
        side.model->setEditable(true);
        side.model->setToolTip(tr("A Hugging Face model directory with its tokenizer: pick one or type a path"));
        side.model->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
        auto *browseButton = new QToolButton(box);
        browseButton->setText(QStringLiteral("..."));
        browseButton->setToolTip(tr("Choose a model directory"));
        connect(browseButton, &QToolButton::clicked, this, [this, s] { browse(s); });
        row->addWidget(side.model, 1);
        row->addWidget(browseButton);
        boxLayout->addLayout(row);
        side.format = new QLabel(box);
        side.format->setWordWrap(true);
        side.format->setTextFormat(Qt::RichText);
        side.format->setTextInteractionFlags(Qt::TextSelectableByMouse);
        boxLayout->addWidget(side.format);
        side.view = new QTextBrowser(box);
        side.view->setObjectName(QStringLiteral("output%1").arg(s));
        side.view->viewport()->installEventFilter(this);
        boxLayout->addWidget(side.view, 1);
        side.status = new QLabel(tr("Idle"), box);
        boxLayout->addWidget(side.status);
        splitter->addWidget(box);
    }
    layout->addWidget(splitter, 1);
    auto *legend = new QLabel(tr("Tokens are tinted by the model's log-probability: green near 0, yellow, red at -6 nats and below."),
                              this);
    legend->setWordWrap(true);
    layout->addWidget(legend);

    connect(mGenerate, &QPushButton::clicked, this, &PlaygroundView::generate);
    connect(mStop, &QPushButton::clicked, this, &PlaygroundView::stop);
    auto *shortcut = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return), this);
    connect(shortcut, &QShortcut::activated, this, &PlaygroundView::generate);
    setWorkspace(QString());
}

PlaygroundView::~PlaygroundView()
{
    stop();
    // Workers hold their generator by shared_ptr and post to this view through QPointer: nothing dangles.
}

void PlaygroundView::setWorkspace(const QString &workspace)
{
    std::vector<std::pair<QString, QString>> models;
    const auto demo = plad::defaultDemoDirectory();
    for (const char *name : {"teacher", "student"})
        if (std::filesystem::exists(demo / name / "config.json"))
            models.emplace_back(tr("demo %1").arg(QString::fromLatin1(name)), QString::fromStdString((demo / name).string()));
    if (!workspace.isEmpty() && std::filesystem::exists(std::filesystem::path(workspace.toStdString()) / plad::Workspace::fileName)) {
        try {
            auto store = plad::Workspace::openReadOnly(workspace.toStdString());
            for (const auto &run : store.runs().list()) {
                const auto dir = plad::runDirectory(workspace.toStdString(), run.id) / "model";
                if (std::filesystem::exists(dir / "config.json"))
                    models.emplace_back(tr("%1: trained student").arg(QString::fromStdString(run.id)), QString::fromStdString(dir.string()));
                const auto config = nlohmann::json::parse(run.configJson, nullptr, false);
                if (config.is_object() && config.contains("student") && config["student"].contains("model"))
                    models.emplace_back(tr("%1: initial student").arg(QString::fromStdString(run.id)),
                                        QString::fromStdString(config["student"]["model"].get<std::string>()));
                if (config.is_object() && config.contains("teacher") && config["teacher"].value("type", "") == "local")
                    models.emplace_back(tr("%1: teacher").arg(QString::fromStdString(run.id)),
                                        QString::fromStdString(config["teacher"]["model"].get<std::string>()));
            }
        } catch (const std::exception &e) {
            Q_EMIT failed(tr("Playground: cannot list the runs of %1: %2").arg(workspace, QString::fromStdString(e.what())));
        }
    }
    for (int s = 0; s < 2; ++s) {
        auto *combo = mSides[s].model;
        const QString current = combo->currentData().toString().isEmpty() ? combo->currentText() : combo->currentData().toString();
        combo->clear();
        for (const auto &[label, path] : models)
            combo->addItem(label, path);
        const int found = combo->findData(current);
        if (found >= 0)
            combo->setCurrentIndex(found);
        else if (!current.isEmpty())
            combo->setEditText(current);
        else if (combo->count() > 1)
            combo->setCurrentIndex(s == 0 ? 0 : 1); // the demo's teacher beside its student
    }
}

void PlaygroundView::setModel(int side, const QString &directory)
{
    auto *combo = mSides[side].model;
    const int found = combo->findData(directory);
    if (found >= 0)
        combo->setCurrentIndex(found);
    else
        combo->setEditText(directory);
}

void PlaygroundView::setPrompt(const QString &text)
{
    mPrompt->setPlainText(text);
}

void PlaygroundView::setMaxNewTokens(int tokens)
{
    mMaxTokens->setValue(tokens);
}

QString PlaygroundView::output(int side) const
{
    return mSides[side].text;
}

QString PlaygroundView::renderedPrompt(int side) const
{
    return mSides[side].rendered;
}

void PlaygroundView::browse(int side)
{
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Model directory"), mSides[side].model->currentText());
    if (!dir.isEmpty())
        setModel(side, dir);
}

void PlaygroundView::generate()
{
    if (mRunning > 0)
        return;
    const QString prompt = mPrompt->toPlainText();
    if (prompt.trimmed().isEmpty()) {
        Q_EMIT failed(tr("Playground: type a prompt first"));
        return;
    }
    plad::TextRequest request;
    const QString mode = mMode->currentData().toString();
    if (mode == QLatin1String("messages")) {
        const auto doc = nlohmann::json::parse(prompt.toStdString(), nullptr, false);
        if (!doc.is_array()) {
            Q_EMIT failed(tr("Playground: the conversation must be a JSON list of {\"role\", \"content\"} messages"));
            return;
        }
        request.messages = doc.dump();
    } else {
        request.prompt = prompt.toStdString();
        request.raw = mode == QLatin1String("raw");
    }
    request.maxNewTokens = mMaxTokens->value();
    plad::SamplingOptions sampling;
    sampling.greedy = mGreedy->isChecked();
    sampling.temperature = mTemperature->value();
    sampling.topP = mTopP->value();
    sampling.seed = static_cast<uint64_t>(mSeed->value());
    request.sampling = sampling;
    const std::string system = mSystem->text().toStdString();

    mCancel = std::make_shared<std::atomic<bool>>(false);
    QPointer<PlaygroundView> self(this);
    for (int s = 0; s < 2; ++s) {
        Side &side = mSides[s];
        side.text.clear();
        side.rendered.clear();
        side.tokens = 0;
        side.view->clear();
        const QString directory = side.model->currentData().toString().isEmpty() || side.model->currentText() != side.model->itemText(side.model->currentIndex())
                                      ? side.model->currentText()
                                      : side.model->currentData().toString();
        if (directory.trimmed().isEmpty()) {
            side.status->setText(tr("No model chosen"));
            continue;
        }
        side.status->setText(tr("Loading %1...").arg(directory));
        ++mRunning;
        auto cancel = mCancel;
        auto cache = mCache;
        (void)QtConcurrent::run([self, s, directory, request, system, cancel, cache]() mutable {
            QString error;
            const auto loaded = cache->get(directory, &error);
            if (!loaded) {
                QMetaObject::invokeMethod(self, [self, s, error] { if (self) self->sideDone(s, QString(), 0, error); }, Qt::QueuedConnection);
                return;
            }
            std::lock_guard busy(loaded->busy);
            auto &generator = *loaded->generator;
            try {
                std::string rendered;
                plad::TextRequest r = request;
                if (!system.empty() && r.raw == false) {
                    // The system prompt joins the conversation (a text prompt becomes one user turn).
                    nlohmann::ordered_json messages = r.messages.empty()
                                                          ? nlohmann::ordered_json::array({{{"role", "user"}, {"content", r.prompt}}})
                                                          : nlohmann::ordered_json::parse(r.messages);
                    if (messages.empty() || messages[0].value("role", "") != "system")
                        messages.insert(messages.begin(), nlohmann::ordered_json::object({{"role", "system"}, {"content", system}}));
                    r.messages = messages.dump();
                }
                (void)generator.encode(r, &rendered);
                const QString format = generator.promptFormat().isChat()
                                           ? QObject::tr("chat template")
                                           : QObject::tr("text format \"%1\"").arg(QString::fromStdString(generator.promptFormat().format).replace(QLatin1Char('\n'), QChar(0x21b5)));
                QMetaObject::invokeMethod(self, [self, s, rendered, format] {
                    if (!self)
                        return;
                    self->mSides[s].rendered = QString::fromStdString(rendered);
                    self->mSides[s].format->setText(QObject::tr("Prompt through its %1: <code>%2</code>").arg(format.toHtmlEscaped(),
                                                     QString::fromStdString(rendered).toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("\u21b5<br>"))));
                    self->mSides[s].status->setText(QObject::tr("Generating..."));
                }, Qt::QueuedConnection);
                const auto result = generator.generate(r, [&](const plad::TextDelta &d) {
                    const QString text = QString::fromStdString(d.text);
                    const float lp = d.logprob;
                    const bool end = d.end;
                    QMetaObject::invokeMethod(self, [self, s, text, lp, end] { if (self) self->appendDelta(s, text, lp, end); }, Qt::QueuedConnection);
                    return !cancel->load();
                });
                const QString finish = QString::fromStdString(result.finishReason);
                const double seconds = result.seconds;
                QMetaObject::invokeMethod(self, [self, s, finish, seconds] { if (self) self->sideDone(s, finish, seconds, QString()); }, Qt::QueuedConnection);
            } catch (const std::exception &e) {
                const QString message = QString::fromStdString(e.what());
                QMetaObject::invokeMethod(self, [self, s, message] { if (self) self->sideDone(s, QString(), 0, message); }, Qt::QueuedConnection);
            }
        });
    }
    if (mRunning > 0) {
        mGenerate->setEnabled(false);
        mStop->setEnabled(true);
    }
}

void PlaygroundView::appendDelta(int s, const QString &text, float logprob, bool end)
{
    Side &side = mSides[s];
    if (!end)
        ++side.tokens;
    if (text.isEmpty())
        return;
    side.text += text;
    // Appended as a run of characters whose format carries the tint and, as its tool tip, the
    // log-probability: hovering a token shows it (eventFilter below).
    QTextCharFormat format;
    format.setBackground(QColor(QString::fromStdString(plad::logprobTint(logprob))));
    format.setForeground(QColor(0x11, 0x11, 0x11));
    format.setToolTip(tr("<code>&quot;%1&quot;</code><br>log p = %2 (p = %3)").arg(text.toHtmlEscaped()).arg(logprob, 0, 'f', 3).arg(std::exp(logprob), 0, 'f', 3));
    QTextCursor cursor(side.view->document());
    cursor.movePosition(QTextCursor::End);
    cursor.insertText(text, format);
    side.status->setText(tr("%1 tokens...").arg(side.tokens));
}

QString PlaygroundView::tokenInfoAt(int s, const QPoint &viewportPosition) const
{
    QTextBrowser *view = mSides[s].view;
    const int position = view->document()->documentLayout()->hitTest(viewportPosition + QPoint(view->horizontalScrollBar()->value(),
                                                                                               view->verticalScrollBar()->value()),
                                                                      Qt::ExactHit);
    if (position < 0)
        return {};
    QTextCursor cursor(view->document());
    cursor.setPosition(position);
    cursor.movePosition(QTextCursor::NextCharacter, QTextCursor::KeepAnchor); // the format of the character under the point
    return cursor.charFormat().toolTip();
}

bool PlaygroundView::eventFilter(QObject *watched, QEvent *event)
{
    if (event->type() == QEvent::ToolTip)
        for (int s = 0; s < 2; ++s)
            if (watched == mSides[s].view->viewport()) {
                auto *help = static_cast<QHelpEvent *>(event);
                const QString info = tokenInfoAt(s, help->pos());
                if (info.isEmpty())
                    QToolTip::hideText();
                else
                    QToolTip::showText(help->globalPos(), info, mSides[s].view->viewport());
                return true;
            }
    return QWidget::eventFilter(watched, event);
}

void PlaygroundView::stop()
{
    if (mCancel)
        mCancel->store(true);
}

void PlaygroundView::sideDone(int s, const QString &finish, double seconds, const QString &error)
{
    Side &side = mSides[s];
    if (!error.isEmpty()) {
        side.status->setText(tr("Failed: %1").arg(error));
        Q_EMIT failed(tr("Playground, model %1: %2").arg(s == 0 ? QStringLiteral("A") : QStringLiteral("B"), error));
    } else {
        side.status->setText(tr("%1 tokens in %2 s (%3 tokens/s), finished: %4")
                                 .arg(side.tokens)
                                 .arg(seconds, 0, 'f', 2)
                                 .arg(seconds > 0 ? side.tokens / seconds : 0.0, 0, 'f', 1)
                                 .arg(finish));
    }
    if (--mRunning == 0) {
        mGenerate->setEnabled(true);
        mStop->setEnabled(false);
        Q_EMIT finished();
    }
}

} // namespace plad::ui
