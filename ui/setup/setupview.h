#pragma once

#include <QString>
#include <QWidget>

#include <nlohmann/json.hpp>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;
class QTableWidget;
class QTextBrowser;
class QUrl;

namespace plad::ui {

class SchemaForm;

/**
 * Experiment setup: teacher (local folder, OpenAI-compatible endpoint with a connection test,
 * or a JSONL of outputs), student, dataset with a preview of its first rows under the field
 * mapping, template, pairs and labelling, method and loss (with the formula), training and
 * evaluation settings, seed. The form edits a run config document, the same JSON `plad run`
 * reads: fields the form does not show are kept as loaded. Folders and files can be dropped on
 * it. A pre-flight check lists problems in plain language before launch.
 */
class SetupView : public QWidget
{
    Q_OBJECT

public:
    explicit SetupView(QWidget *parent = nullptr);

    QString workspace() const;
    void setWorkspace(const QString &workspace);
    /**
     * The run config the form describes: the loaded document with only the fields the user
     * changed written over it (relative paths resolve against baseDirectory()).
     */
    nlohmann::json document() const;
    /** Fills the form from a run config over the schema's defaults; relative paths resolve against `baseDirectory`. */
    void setDocument(const nlohmann::json &doc, const QString &baseDirectory = {});
    QString baseDirectory() const { return mBase; }
    /** Reads a run config file in the background, then fills the form; configFileDone() reports it. */
    void loadFile(const QString &file);
    /** Writes the form's run config to `file` in the background; configFileDone() reports it. */
    void saveFile(const QString &file);
    /** Loads the embedded demo's PLaD configuration (the models and data shipped in `demoDirectory`). */
    void loadDemo(const QString &demoDirectory);
    /**
     * Takes dropped files: a model folder (config.json) becomes the student, then the teacher; a
     * run config (.json) is loaded; any other file becomes the dataset. False when none applied.
     */
    bool takeDroppedFiles(const QList<QUrl> &urls);
    /** Runs the pre-flight check in the background; preflightDone() carries the findings' count of errors. */
    void runPreflight();
    QString preflightText() const;

    /** Whether the form differs from what was last loaded or saved. */
    bool isModified() const;
    /** The file the form was last loaded from or saved to; empty for the demo or a new setup. */
    QString currentFile() const { return mFile; }
    /**
     * When the form has unsaved changes, asks whether to save them (to the current file, else a
     * chosen one), discard them, or cancel `action`; true when the action may go on.
     */
    bool confirmDiscardEdits(const QString &action);

    /** Processes to run on (docs/distributed.md); 1 = this process alone. */
    int processes() const;

    /** Direct access for tests and the main window's shortcuts. */
    QLineEdit *studentEdit() const { return mStudent; }
    QLineEdit *teacherEdit() const { return mTeacherPath; }
    QLineEdit *dataEdit() const { return mData; }

Q_SIGNALS:
    /** The user asked to launch the run the form describes. */
    void launchRequested();
    void preflightDone(int errors);
    void connectionTested(bool ok, const QString &message);
    /** A load or save finished; `error` is empty on success. */
    void configFileDone(const QString &file, const QString &error);

protected:
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    void updateTeacherFields();
    void updateFormula();
    void refreshPreview();
    void testConnection();
    /** The document to save as `file`: paths made absolute when it goes to another folder. */
    nlohmann::json documentFor(const QString &file) const;

    SchemaForm *mForm = nullptr;
    nlohmann::json mBaseDoc;
    nlohmann::json mLoadedTeacherType;
    nlohmann::json mCleanDocument; ///< document() as last loaded or saved
    QString mFile;
    QString mBase;
    QLineEdit *mWorkspace = nullptr;
    QLineEdit *mName = nullptr;
    QComboBox *mTeacherType = nullptr;
    QLineEdit *mTeacherPath = nullptr;
    QLineEdit *mEndpoint = nullptr;
    QLineEdit *mEndpointModel = nullptr;
    QLineEdit *mApiKeyEnv = nullptr;
    QLineEdit *mTeacherFormat = nullptr;
    QLineEdit *mTeacherChat = nullptr;
    QLabel *mConnection = nullptr;
    QLineEdit *mStudent = nullptr;
    QLineEdit *mData = nullptr;
    QLineEdit *mPromptField = nullptr;
    QLineEdit *mResponseField = nullptr;
    QLineEdit *mIdField = nullptr;
    QTableWidget *mPreview = nullptr;
    QLineEdit *mTemplate = nullptr;
    QLineEdit *mChatTemplate = nullptr;
    QComboBox *mFormat = nullptr;
    QTextBrowser *mRenderedPrompt = nullptr;
    QSpinBox *mMaxPrompt = nullptr;
    QSpinBox *mMaxResponse = nullptr;
    QSpinBox *mPrompts = nullptr;
    QSpinBox *mPerPrompt = nullptr;
    QDoubleSpinBox *mTeacherTemperature = nullptr;
    QDoubleSpinBox *mStudentTemperature = nullptr;
    QCheckBox *mStudentGreedy = nullptr;
    QComboBox *mPolicy = nullptr;
    QCheckBox *mStudentPairs = nullptr;
    QComboBox *mJudge = nullptr;
    QComboBox *mMethod = nullptr;
    QComboBox *mScore = nullptr;
    QDoubleSpinBox *mBeta = nullptr;
    QDoubleSpinBox *mLambda = nullptr;
    QComboBox *mCeTarget = nullptr;
    QLabel *mFormula = nullptr;
    QDoubleSpinBox *mLearningRate = nullptr;
    QSpinBox *mSteps = nullptr;
    QSpinBox *mBatch = nullptr;
    QSpinBox *mWarmup = nullptr;
    QSpinBox *mEvalPrompts = nullptr;
    QSpinBox *mEvalEvery = nullptr;
    QSpinBox *mSeed = nullptr;
    QSpinBox *mProcesses = nullptr; ///< not part of the config: how the run executes, changeable on every resume
    QTextBrowser *mPreflight = nullptr;
};

} // namespace plad::ui
