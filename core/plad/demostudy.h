#pragma once

// The embedded demo as a study: PLaD and its baselines on the demo task at one budget, each
// evaluated against the initial student on test prompts. What `plad demo` runs (it then writes
// the PLaD run's report), and what the workbench can run the same way.

#include "common/jobcontext.h"
#include "plad/democonfig.h"
#include "plad/distillrun.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plad {

/** The demo shipped with the program: $PLAD_DEMO_DIR, else resources/demo of the source tree. */
std::filesystem::path defaultDemoDirectory();

struct DemoStudyOptions
{
    std::filesystem::path demoDirectory;   ///< holds student/, teacher/ and data/
    std::filesystem::path workspace;       ///< the runs, their configs and the report go here
    DemoBudget budget;
    int64_t testPrompts = 400;             ///< test prompts each student is evaluated on (0 = all)
};

/** One method of the study, evaluated. */
struct DemoMethodResult
{
    std::string name;                      ///< "PLaD", "SeqKD", "DPO"
    std::string method;                    ///< the run config's method
    std::string runId;
    nlohmann::json evaluation;             ///< compareModels' summary against the initial student (stored with the run)
    std::vector<double> heldOutAccuracy;   ///< held-out pair ranking accuracy at each diagnostic
    std::string summary;                   ///< one line for people
};

struct DemoStudyResult
{
    std::vector<DemoMethodResult> methods; ///< PLaD first
    double seconds = 0;
};

/**
 * Runs the study: PLaD generates the pairs; SeqKD and DPO reuse its teacher outputs (a JSONL
 * teacher), so the three see the same teacher text and the teacher runs once. Each trained
 * student is compared with the initial student on the test prompts (ROUGE-L judge) and the
 * comparison is stored with its run. `log` receives milestones, `onRunCreated` each run as it
 * starts (on the calling thread); runs report through `callbacks` and `context`. Throws Error
 * when a run stops before completing (a cancelled one included: it stays resumable).
 */
DemoStudyResult runDemoStudy(const DemoStudyOptions &options, JobContext *context, const RunCallbacks &callbacks,
                             const std::function<void(const std::string &)> &log = {},
                             const std::function<void(const std::string &runId)> &onRunCreated = {});

} // namespace plad
