#include "mainwindow/welcomepanel.h"

#include <QDir>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>

namespace plad::ui {

WelcomePanel::WelcomePanel(QWidget *parent)
    : QFrame(parent)
{
    setObjectName(QStringLiteral("welcome"));
    setFrameShape(QFrame::StyledPanel);
    setAutoFillBackground(true);
    setBackgroundRole(QPalette::AlternateBase);
    auto *layout = new QVBoxLayout(this);
    auto *top = new QHBoxLayout;
    auto *title = new QLabel(tr("<b>Welcome to PLaD Workbench</b>: distil a large model into a small one with pseudo-preference pairs."), this);
    top->addWidget(title, 1);
    auto *hide = new QToolButton(this);
    hide->setText(tr("Hide"));
    hide->setToolTip(tr("Hide this panel (it comes back for a workspace without runs)"));
    connect(hide, &QToolButton::clicked, this, &QWidget::hide);
    top->addWidget(hide);
    layout->addLayout(top);
    mState = new QLabel(this);
    mState->setObjectName(QStringLiteral("welcomeState"));
    mState->setWordWrap(true);
    layout->addWidget(mState);
    auto *buttons = new QHBoxLayout;
    auto button = [&](const QString &text, const QString &tip, auto signal) {
        auto *b = new QPushButton(text, this);
        b->setToolTip(tip);
        connect(b, &QPushButton::clicked, this, signal);
        buttons->addWidget(b);
        return b;
    };
    button(tr("Load the demo"), tr("Fill Setup with the embedded summarisation demo (Ctrl+D); Launch runs it"), &WelcomePanel::loadDemoRequested)
        ->setObjectName(QStringLiteral("welcomeLoadDemo"));
    button(tr("Run the demo study"), tr("Annotation-free PLaD, PLaD as published and SeqKD, each evaluated (minutes on a laptop CPU)"),
           &WelcomePanel::demoStudyRequested);
    button(tr("Open a workspace..."), tr("A folder with plad.sqlite, or a new empty folder"), &WelcomePanel::openWorkspaceRequested);
    button(tr("Quick tour"), tr("What each area does, in one page (Help > Quick tour)"), &WelcomePanel::quickTourRequested);
    buttons->addStretch();
    layout->addLayout(buttons);
    mRecent = new QLabel(this);
    mRecent->setObjectName(QStringLiteral("welcomeRecent"));
    mRecent->setWordWrap(true);
    mRecent->setTextFormat(Qt::RichText);
    connect(mRecent, &QLabel::linkActivated, this, [this](const QString &link) { Q_EMIT workspaceChosen(QUrl(link).toLocalFile()); });
    layout->addWidget(mRecent);
}

void WelcomePanel::setWorkspace(const QString &workspace, int runs)
{
    const QString where = QDir::toNativeSeparators(workspace).toHtmlEscaped();
    if (runs < 0)
        mState->setText(tr("Workspace %1.").arg(where));
    else if (runs == 0)
        mState->setText(tr("The workspace %1 has no runs yet. Next: <b>load the demo</b> and press Launch (Ctrl+R), or fill in the teacher, "
                           "student and data below, press Check (Ctrl+K), then Launch.")
                            .arg(where));
    else
        mState->setText(tr("The workspace %1 has %n run(s): open them in Runs (Ctrl+4), compare them, evaluate them in Evaluate (Ctrl+5).", nullptr, runs)
                            .arg(where));
}

void WelcomePanel::setRecentWorkspaces(const QStringList &workspaces)
{
    QStringList links;
    for (const auto &w : workspaces)
        links << QStringLiteral("<a href=\"%1\">%2</a>").arg(QUrl::fromLocalFile(w).toString().toHtmlEscaped(), QDir::toNativeSeparators(w).toHtmlEscaped());
    mRecent->setText(links.isEmpty() ? QString() : tr("Recent workspaces: %1").arg(links.join(QStringLiteral(" &middot; "))));
    mRecent->setVisible(!links.isEmpty());
}

QString WelcomePanel::text() const
{
    return mState->text() + QLatin1Char('\n') + mRecent->text();
}

} // namespace plad::ui
