// The workbench window starts, shows and closes under the offscreen platform.
#include "mainwindow/mainwindow.h"

#include <QLabel>
#include <QStatusBar>
#include <QtTest>

class TestMainWindow : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void opensAndShowsItsParts()
    {
        plad::ui::MainWindow window;
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QCOMPARE(window.windowTitle(), QStringLiteral("PLaD Workbench"));
        QVERIFY(window.statusBar()->isVisible());
        auto *support = window.findChild<QLabel *>("supportedArchitectures");
        QVERIFY(support);
        QVERIFY(support->text().contains("qwen3"));
        window.close();
        QTRY_VERIFY(!window.isVisible());
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
