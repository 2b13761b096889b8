#include "evaluate/evaluationcontroller.h"

#include "common/error.h"
#include "common/fileio.h"
#include "data/dataset.h"
#include "eval/llmjudge.h"
#include "plad/modelevaluation.h"

#include <filesystem>

#include <nlohmann/json.hpp>

namespace plad::ui {

/** Lives on the controller's thread; answers by queuing lambdas on the controller. */
class EvaluationWorker : public QObject
{
public:
    explicit EvaluationWorker(EvaluationController *controller)
        : mController(controller)
    {}

    void execute(EvaluationSettings s, std::stop_token stop)
    {
        try {
            ImportOptions import;
            import.format = parseDatasetFormat(s.format.toStdString());
            import.fields.prompt = s.promptField.toStdString();
            import.fields.reference = s.referenceField.toStdString();
            import.fields.id = s.idField.toStdString();
            ModelEvaluationRequest request;
            request.records = importDataset(s.dataFile.toStdString(), import).records;
            if (s.limit > 0 && static_cast<size_t>(s.limit) < request.records.size())
                request.records.resize(static_cast<size_t>(s.limit));
            for (const auto &m : s.models)
                request.models.push_back(m.toStdString());
            request.workspace = s.workspace.toStdString();
            request.dataLabel = s.dataFile.toStdString();
            request.options.maxNewTokens = s.maxNewTokens;
            request.options.limits.maxPromptTokens = s.maxPromptTokens;
            request.options.sampling.greedy = !s.sample;
            request.options.sampling.temperature = s.temperature;
            request.options.sampling.seed = static_cast<uint64_t>(s.seed);
            if (s.judge == QLatin1String("llm")) {
                if (s.judgeConfig.isEmpty())
                    throw Error("the LLM judge needs its config file: {\"type\": \"local\", \"model\": DIR} or an endpoint object");
                const std::filesystem::path file = s.judgeConfig.toStdString();
                request.llmJudge = LlmJudgeConfig::fromJson(readJsonFile(file), file.string(), std::filesystem::absolute(file).parent_path());
            }
            JobContext context(stop, [this](const JobProgress &p) {
                post([c = mController, p] { Q_EMIT c->progress(QString::fromStdString(p.stage), p.done, p.total, p.etaSeconds); });
            });
            const ModelEvaluation evaluation = evaluateModels(request, &context);
            nlohmann::json result = evaluation.comparison.summary;
            result["per_prompt"] = evaluation.perPrompt;
            const QByteArray json = QByteArray::fromStdString(result.dump());
            if (evaluation.cancelled)
                finish(QStringLiteral("cancelled"), QObject::tr("stopped after %1 prompt(s); nothing was stored").arg(evaluation.perPrompt.size()), json, {});
            else
                finish(QStringLiteral("completed"),
                       evaluation.storedRunId.empty() ? QObject::tr("evaluated %1 prompt(s)").arg(evaluation.perPrompt.size())
                                                      : QObject::tr("evaluated %1 prompt(s); stored with %2")
                                                            .arg(evaluation.perPrompt.size())
                                                            .arg(QString::fromStdString(evaluation.storedRunId)),
                       json, QString::fromStdString(evaluation.storedRunId));
        } catch (const std::exception &e) {
            finish(stop.stop_requested() ? QStringLiteral("cancelled") : QStringLiteral("failed"), QString::fromUtf8(e.what()), {}, {});
        }
    }

private:
    template<typename F>
    void post(F &&f)
    {
        QMetaObject::invokeMethod(mController, std::forward<F>(f), Qt::QueuedConnection);
    }

    void finish(const QString &status, const QString &message, const QByteArray &json, const QString &runId)
    {
        post([c = mController, status, message, json, runId] {
            c->mRunning = false;
            c->mStop.reset();
            Q_EMIT c->finished(status, message, json, runId);
        });
    }

    EvaluationController *mController;
};

EvaluationController::EvaluationController(QObject *parent)
    : QObject(parent)
{
    mThread.setObjectName(QStringLiteral("plad-eval-worker"));
    mWorker = new EvaluationWorker(this);
    mWorker->moveToThread(&mThread);
    connect(&mThread, &QThread::finished, mWorker, &QObject::deleteLater);
    mThread.start();
}

EvaluationController::~EvaluationController()
{
    if (mStop)
        mStop->request_stop();
    mThread.quit();
    mThread.wait();
}

bool EvaluationController::start(const EvaluationSettings &settings, QString *error)
{
    auto fail = [error](const QString &message) {
        if (error)
            *error = message;
        return false;
    };
    if (mRunning)
        return fail(tr("An evaluation is running; cancel it first."));
    if (settings.models.isEmpty())
        return fail(tr("Choose the model to evaluate."));
    if (settings.dataFile.isEmpty())
        return fail(tr("Choose the data to evaluate on (a JSONL file with prompts and references)."));
    mRunning = true;
    mStop = std::make_unique<std::stop_source>();
    QMetaObject::invokeMethod(
        mWorker, [w = mWorker, settings, token = mStop->get_token()] { w->execute(settings, token); }, Qt::QueuedConnection);
    return true;
}

void EvaluationController::cancel()
{
    if (mStop)
        mStop->request_stop();
}

} // namespace plad::ui
