#pragma once

#include <QString>
#include <QWidget>

class QLabel;
class QTextBrowser;


namespace plad::ui {

/**
 * The report of a run: a preview (the Markdown report with the workbench's own charts), and
 * exports of the report (HTML, Markdown, CSV, PDF), the pairs (TRL JSONL) and the distilled
 * student (Hugging Face layout). Everything that reads or writes files runs in the background.
 */
class ReportView : public QWidget
{
    Q_OBJECT

public:
    explicit ReportView(QWidget *parent = nullptr);

    /** Builds the preview of `runId` (in the background); emits previewReady() when shown. */
    void showRun(const QString &workspace, const QString &runId);
    QString runId() const { return mRunId; }
    QTextBrowser *preview() const { return mPreview; }

    /** Exports by kind: "html", "md", "csv", "pdf", "pairs" (TRL JSONL), "model" (a directory). Emits exported() or failed(). */
    void exportTo(const QString &kind, const QString &path);

Q_SIGNALS:
    void previewReady();
    void exported(const QString &kind, const QString &path);
    void failed(const QString &message);

private:
    void choose(const QString &kind);

    QString mWorkspace, mRunId;
    QLabel *mTitle = nullptr;
    QTextBrowser *mPreview = nullptr;
};

} // namespace plad::ui
