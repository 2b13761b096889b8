#pragma once

#include <QFrame>
#include <QString>
#include <QStringList>

class QLabel;
class QVBoxLayout;

namespace plad::ui {

/**
 * What a new user sees first, above Setup: what the open workspace holds and what to do next,
 * the demo (load it, or run its study), opening a workspace, the recent workspaces and the
 * quick tour. Shown while the workspace has no runs; it can be hidden.
 */
class WelcomePanel : public QFrame
{
    Q_OBJECT

public:
    explicit WelcomePanel(QWidget *parent = nullptr);

    /** Describes the workspace: `runs` runs in it (negative: not read yet). */
    void setWorkspace(const QString &workspace, int runs);
    void setRecentWorkspaces(const QStringList &workspaces);
    QString text() const;

Q_SIGNALS:
    void loadDemoRequested();
    void demoStudyRequested();
    void openWorkspaceRequested();
    void workspaceChosen(const QString &workspace);
    void quickTourRequested();

private:
    QLabel *mState = nullptr;
    QLabel *mRecent = nullptr;
};

} // namespace plad::ui
