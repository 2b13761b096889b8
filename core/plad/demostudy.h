#pragma once

// The embedded demo as a study: PLaD and its baselines on the demo task at one budget, each
// evaluated against the initial student on test prompts. What `plad demo` runs (it then writes
// the PLaD run's report), and what the workbench can run the same way.

#include "common/jobcontext.h"
#include "eval/sequencecalibration.h"
#include "plad/democonfig.h"
#include "plad/distillrun.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plad {

/**
 * The demo shipped with the program: $PLAD_DEMO_DIR; else, for an installed program,
 * share/plad-workbench/demo under its install prefix; else resources/demo of the source tree.
 */
std::filesystem::path defaultDemoDirectory();

struct DemoStudyOptions
{
    std::filesystem::path demoDirectory;   ///< holds student/, teacher/ and data/
    std::filesystem::path workspace;       ///< the runs, their configs and the report go here
    DemoBudget budget;
    int64_t testPrompts = 400;             ///< test prompts each student is evaluated on (0 = all)
    bool full = false;                     ///< also PLaD with the reference judge and DPO on the annotation-free pairs
    std::string annotationFreePolicy = "consensus"; ///< the annotation-free PLaD's policy
    int64_t calibrationSamples = 4;        ///< N of rerank@N and the sequence ECE on the test prompts
    std::string evaluationSplit = "test";  ///< "test", or "validation" to choose settings without looking at the test split
    nlohmann::json overrides = nlohmann::json::object(); ///< merged (RFC 7386) into every run's config: {"loss": {"beta": 0.5}}
};

/** Calibration of a student on the test prompts (eval/modelcalibration.h), without Torch in this header. */
struct DemoCalibration
{
    double tokenEce = 0, sequenceEce = 0, spearman = 0, rerankWinRate = 0;
    nlohmann::json detail;                 ///< ModelCalibration::toJson()
    std::vector<SampledSequences> perPrompt; ///< per evaluation prompt, for paired intervals of the change
};

/** One method of the study, evaluated. */
struct DemoMethodResult
{
    std::string name;                      ///< "PLaD (consensus)", "PLaD (teacher-preferred)", "SeqKD", ...
    std::string method;                    ///< the run config's method
    std::string labeling;                  ///< the labelling policy ("consensus", "judge:rouge-l"); "none" for SeqKD
    bool usesReferences = false;           ///< its training signal looked at references (the judge policy)
    std::string runId;
    nlohmann::json evaluation;             ///< compareModels' summary against the initial student (stored with the run)
    std::vector<double> heldOutAccuracy;   ///< held-out pair ranking accuracy at each diagnostic
    DemoCalibration calibration;           ///< the trained student's calibration on the test prompts
    CalibrationChange calibrationChange;   ///< trained minus initial: sequence ECE and rerank@N, paired bootstrap intervals
    double seconds = 0;                    ///< training (and, for the first, pair generation) plus evaluation
    std::string summary;                   ///< one line for people
};

struct DemoStudyResult
{
    std::vector<DemoMethodResult> methods; ///< the annotation-free PLaD first (it generates the pairs)
    DemoCalibration initialCalibration;    ///< the initial student on the same test prompts
    nlohmann::json pairQuality;            ///< the first run's pair-quality readout (validation prompts)
    std::filesystem::path workspace;
    std::string evaluationSplit = "test";
    double seconds = 0;

    /** What `plad demo --json` prints (without the report path, which the caller adds). */
    nlohmann::json toJson() const;
};

/**
 * Runs the study: the annotation-free PLaD run generates k teacher and student samples per
 * prompt with the local teacher; PLaD with teacher-preferred pairs and SeqKD (and with `full`,
 * PLaD with the reference judge and DPO on the annotation-free pairs) reuse its teacher outputs
 * through a JSONL teacher, and draw the same student samples (same seeds), so every method
 * sees the same text and the teacher runs once. Each trained student is compared with the
 * initial student on the test prompts (ROUGE-L judge, greedy) and measured for calibration
 * there; both are stored with its run. `log` receives milestones, `onRunCreated` each run as
 * it starts (on the calling thread); runs report through `callbacks` and `context`. Throws
 * Error when a run stops before completing (a cancelled one included: it stays resumable).
 */
DemoStudyResult runDemoStudy(const DemoStudyOptions &options, JobContext *context, const RunCallbacks &callbacks,
                             const std::function<void(const std::string &)> &log = {},
                             const std::function<void(const std::string &runId)> &onRunCreated = {});

} // namespace plad
