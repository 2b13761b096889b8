#include "mainwindow/mainwindow.h"

#include "model/modelconfig.h"

#include <QLabel>
#include <QStatusBar>
#include <QVBoxLayout>

namespace plad::ui {

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent)
{
    setWindowTitle(tr("PLaD Workbench"));
    setObjectName("MainWindow");
    resize(1100, 720);

    auto *central = new QWidget(this);
    auto *layout = new QVBoxLayout(central);
    auto *title = new QLabel(tr("<h2>PLaD Workbench</h2>"
                                "<p>Preference-based distillation of language models.</p>"),
                             central);
    title->setObjectName("welcomeTitle");
    title->setAlignment(Qt::AlignCenter);
    QStringList types;
    for (const auto &type : plad::supportedModelTypes())
        types << QString::fromStdString(type);
    auto *support = new QLabel(tr("Supported architectures: %1").arg(types.join(QStringLiteral(", "))), central);
    support->setObjectName("supportedArchitectures");
    support->setAlignment(Qt::AlignCenter);
    layout->addStretch();
    layout->addWidget(title);
    layout->addWidget(support);
    layout->addStretch();
    setCentralWidget(central);

    mStatusJob = new QLabel(tr("No job running"), this);
    statusBar()->addPermanentWidget(mStatusJob);
    statusBar()->showMessage(tr("Ready"));
}

} // namespace plad::ui
