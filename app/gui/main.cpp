// plad-workbench: the desktop application. Wiring only.
#include "mainwindow/mainwindow.h"

#include <QApplication>

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("PLaD Workbench"));
    QApplication::setOrganizationName(QStringLiteral("PLaD"));
    QApplication::setApplicationVersion(QStringLiteral("0.1.0"));
    plad::ui::MainWindow window;
    window.show();
    return QApplication::exec();
}
