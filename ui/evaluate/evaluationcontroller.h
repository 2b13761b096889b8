#pragma once

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QThread>

#include <memory>
#include <stop_token>

namespace plad::ui {

/** What the Evaluate area asks for: `plad eval` with the same choices. */
struct EvaluationSettings
{
    QString workspace;
    QStringList models;          ///< the evaluated model first (run id or directory), then the ones it meets head to head ("initial", "teacher", "reference", runs)
    QString dataFile;
    QString format = QStringLiteral("jsonl");
    QString promptField = QStringLiteral("prompt"), referenceField = QStringLiteral("response"), idField;
    qint64 limit = 100;          ///< first N records; 0: all
    QString judge = QStringLiteral("rouge-l"); ///< "rouge-l" or "llm"
    QString judgeConfig;         ///< the LLM judge's config file (judge "llm")
    bool sample = false;         ///< sampled instead of greedy decoding
    double temperature = 1.0;
    qint64 maxNewTokens = 32;
    qint64 maxPromptTokens = 512;
    qint64 seed = 0;
};

class EvaluationWorker;

/**
 * Runs evaluations (plad/modelevaluation.h) on a worker thread it owns, one at a time. The
 * result is stored with the evaluated run as `plad eval` stores it, unless it was cancelled.
 * Signals arrive on the controller's (GUI) thread; the destructor cancels and waits.
 */
class EvaluationController : public QObject
{
    Q_OBJECT

public:
    explicit EvaluationController(QObject *parent = nullptr);
    ~EvaluationController() override;

    bool isRunning() const { return mRunning; }
    /** Starts an evaluation; false (with the reason in `error`) when one is running. */
    bool start(const EvaluationSettings &settings, QString *error = nullptr);
    /** Stops the running evaluation at its next batch; nothing of it is stored. */
    void cancel();

Q_SIGNALS:
    /** `model` is generating (or being judged): `done` of `total` prompts. */
    void progress(const QString &model, qint64 done, qint64 total, double etaSeconds);
    /**
     * The evaluation ended: `status` "completed", "cancelled" or "failed"; `resultJson` the
     * summary with "per_prompt" (the prompts finished, when cancelled); `storedRunId` the run it
     * was stored with (empty when none).
     */
    void finished(const QString &status, const QString &message, const QByteArray &resultJson, const QString &storedRunId);

private:
    friend class EvaluationWorker;
    QThread mThread;
    EvaluationWorker *mWorker = nullptr;
    std::unique_ptr<std::stop_source> mStop;
    bool mRunning = false;
};

} // namespace plad::ui
