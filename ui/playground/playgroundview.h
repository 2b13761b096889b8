#pragma once

#include <QString>
#include <QWidget>

#include <atomic>
#include <memory>
#include <vector>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTextBrowser;

namespace plad {
class TextGenerator;
}

namespace plad::ui {

/**
 * The Playground: two models side by side (the demo's teacher and student, a run's initial
 * student, teacher or trained student, or any model directory) answer the same prompt or
 * conversation, streaming, with every token tinted by its log-probability. Each side generates
 * in its own worker thread through the model's prompt format (its chat template, or the text
 * format it was trained with); Stop ends both.
 */
class PlaygroundView : public QWidget
{
    Q_OBJECT

public:
    explicit PlaygroundView(QWidget *parent = nullptr);
    ~PlaygroundView() override;

    /** Offers the demo models and the models of `workspace`'s runs in the model choosers. */
    void setWorkspace(const QString &workspace);
    /** Chooses side 0 or 1's model directory. */
    void setModel(int side, const QString &directory);
    void setPrompt(const QString &text);
    void setMaxNewTokens(int tokens);

    /** Starts both sides; emits finished() when both are done. */
    void generate();
    void stop();
    bool isRunning() const { return mRunning > 0; }

    /** Side 0 or 1's output as text, and the prompt as that model saw it. */
    QString output(int side) const;
    QString renderedPrompt(int side) const;
    QTextBrowser *outputView(int side) const { return mSides[static_cast<size_t>(side)].view; }
    /** What hovering side `side`'s output at `viewportPosition` shows: the token's log-probability (empty off the text). */
    QString tokenInfoAt(int side, const QPoint &viewportPosition) const;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

Q_SIGNALS:
    void finished();
    void failed(const QString &message);

private:
    struct Side
    {
        QComboBox *model = nullptr;
        QTextBrowser *view = nullptr;
        QLabel *status = nullptr;
        QLabel *format = nullptr;
        QString text, rendered;
        int tokens = 0;
    };
    void browse(int side);
    void sideDone(int side, const QString &finish, double seconds, const QString &error);

    QPlainTextEdit *mPrompt = nullptr;
    QComboBox *mMode = nullptr;
    QLineEdit *mSystem = nullptr;
    QSpinBox *mMaxTokens = nullptr;
    QCheckBox *mGreedy = nullptr;
    QDoubleSpinBox *mTemperature = nullptr;
    QDoubleSpinBox *mTopP = nullptr;
    QSpinBox *mSeed = nullptr;
    QPushButton *mGenerate = nullptr;
    QPushButton *mStop = nullptr;
    Side mSides[2];
    int mRunning = 0;
    std::shared_ptr<std::atomic<bool>> mCancel;
    struct Cache;
    std::shared_ptr<Cache> mCache; ///< loaded models by directory, shared with the workers
    void appendDelta(int side, const QString &text, float logprob, bool end);
};

} // namespace plad::ui
