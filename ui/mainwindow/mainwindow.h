#pragma once

#include <QMainWindow>

class QLabel;

namespace plad::ui {

/** The workbench's top-level window. */
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(QWidget *parent = nullptr);

private:
    QLabel *mStatusJob = nullptr;
};

} // namespace plad::ui
