#pragma once

#include "evaluate/evaluationcontroller.h"

#include <QString>
#include <QWidget>

#include <vector>

#include <nlohmann/json.hpp>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTextBrowser;
class QVBoxLayout;

namespace plad::ui {

/**
 * Evaluate: pick a run (or model folder) and what it meets head to head (its initial student,
 * its teacher, the references, other runs), the data, the judge (ROUGE-L or an LLM) and the
 * decoding; the evaluation runs in a worker with progress and cancel and is stored with the run
 * as `plad eval` stores it. The result shows win rates with their intervals at the top and
 * every prompt below: sortable by losses or by the largest ROUGE-L difference, filterable, and
 * the selected prompt's reference and outputs side by side with the judge's verdict and scores.
 * A run's stored evaluations can be reopened.
 */
class EvaluateView : public QWidget
{
    Q_OBJECT

public:
    enum class Sort { PromptOrder, LossesFirst, LargestRougeDifference };

    explicit EvaluateView(QWidget *parent = nullptr);

    void setWorkspace(const QString &workspace);
    /** Makes `runId` the evaluated model and shows its last stored evaluation, if any. */
    void setRun(const QString &runId);
    EvaluationController *controller() const { return mController; }
    /** The settings the form describes. */
    EvaluationSettings settings() const;
    /** Fills the form (for tests and for "evaluate this run" from Runs). */
    void setSettings(const EvaluationSettings &settings);
    /** Starts the evaluation the form describes; false with the reason shown when it cannot. */
    bool start();
    void cancel();

    /** Shows an evaluation (the stored JSON: summary with "per_prompt"). */
    void showResult(const nlohmann::json &result);
    void setSort(Sort sort);
    void setFilterText(const QString &text);
    /** Which head-to-head the verdict column and sorting follow (0: the first). */
    void setComparison(int index);
    /** Prompt ids in the order the table lists them now. */
    QStringList listedIds() const;
    QString summaryText() const;
    QString detailText() const;

Q_SIGNALS:
    /** The runs and their stored evaluations were read. */
    void runsLoaded();
    /** An evaluation (new or stored) is shown. */
    void resultShown();
    void failed(const QString &message);

private:
    void refreshRuns();
    void loadStored(const QString &runId);
    void populate();
    void showPrompt(int row);
    /** The opponent `model` (a name, run or folder) as a check box, made when missing. */
    QCheckBox *addAgainst(const QString &model, bool checked);

    QString mWorkspace;
    EvaluationController *mController = nullptr;
    QComboBox *mModel = nullptr;
    QWidget *mAgainst = nullptr;
    QVBoxLayout *mAgainstLayout = nullptr;
    std::vector<QCheckBox *> mAgainstBoxes;
    QStringList mExtraModels; ///< folders added by hand
    QLineEdit *mData = nullptr;
    QComboBox *mFormat = nullptr;
    QLineEdit *mPromptField = nullptr, *mReferenceField = nullptr, *mIdField = nullptr;
    QSpinBox *mLimit = nullptr;
    QComboBox *mJudge = nullptr;
    QLineEdit *mJudgeConfig = nullptr;
    QCheckBox *mSample = nullptr;
    QDoubleSpinBox *mTemperature = nullptr;
    QSpinBox *mMaxNewTokens = nullptr, *mMaxPromptTokens = nullptr, *mSeed = nullptr;
    QPushButton *mRun = nullptr, *mCancel = nullptr;
    QProgressBar *mProgress = nullptr;
    QLabel *mStatus = nullptr;
    QComboBox *mStored = nullptr;
    QLabel *mSummary = nullptr;
    QComboBox *mComparison = nullptr, *mSort = nullptr;
    QLineEdit *mFilter = nullptr;
    QTableWidget *mTable = nullptr;
    QTextBrowser *mDetail = nullptr;
    nlohmann::json mResult;
    std::vector<std::pair<QString, nlohmann::json>> mStoredResults; ///< label, result of the run's stored evaluations
    std::vector<int> mOrder; ///< rows of the table -> index into per_prompt
    QString mPendingRun;
};

} // namespace plad::ui
