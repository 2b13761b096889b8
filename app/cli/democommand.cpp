// plad demo: PLaD and two baselines on the embedded demo task, evaluated and reported.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "common/error.h"
#include "plad/demostudy.h"
#include "plad/distillstep.h"
#include "report/report.h"
#include "store/workspace.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

namespace plad::cli {

namespace fs = std::filesystem;

namespace {

struct DemoArgs
{
    std::string workspace = "demo-workspace";
    std::string resources;
    int64_t prompts = 1500;
    int64_t steps = 240;
    int64_t testPrompts = 400;
    int64_t evalPrompts = 64;
    int64_t perPrompt = 4;
    std::string policy = "consensus";
    bool full = false;
    bool json = false;
    std::string split = "test";
    std::vector<std::string> settings;
};

} // namespace

void addDemoCommand(CLI::App &app)
{
    auto a = std::make_shared<DemoArgs>();
    auto *demo = app.add_subcommand("demo", "Run annotation-free PLaD (consensus pairs), PLaD with teacher-preferred pairs (the paper) and "
                                            "SeqKD on the embedded demo task, evaluate them on test prompts against the initial student, "
                                            "and write the report");
    demo->add_option("--workspace", a->workspace, "workspace for the demo's runs")->capture_default_str();
    demo->add_option("--resources", a->resources, "the demo's directory (default: $PLAD_DEMO_DIR, else the installed demo, else resources/demo of the source tree)");
    demo->add_option("--prompts", a->prompts, "training prompts (pairs are generated for each)")->capture_default_str();
    demo->add_option("--steps", a->steps, "optimiser steps per method (the same budget for all three)")->capture_default_str();
    demo->add_option("--test-prompts", a->testPrompts, "test prompts each student is evaluated on")->capture_default_str();
    demo->add_option("--eval-prompts", a->evalPrompts, "validation prompts of the calibration diagnostics and the pair-quality readout")
        ->capture_default_str();
    demo->add_option("--per-prompt", a->perPrompt, "teacher and student samples per prompt (k)")->capture_default_str();
    demo->add_option("--policy", a->policy, "the annotation-free PLaD's labelling policy: consensus, teacher-likelihood or teacher-preferred")
        ->capture_default_str();
    demo->add_flag("--full", a->full, "also PLaD with the reference ROUGE-L judge (uses annotations) and DPO on the annotation-free pairs");
    demo->add_option("--evaluate-on", a->split, "evaluate on the demo's test split, or on its validation split to choose settings")
        ->check(CLI::IsMember({"test", "validation"}))
        ->capture_default_str();
    demo->add_option("--set", a->settings, "PATH=VALUE: a run-config field for every method, e.g. --set loss.beta=0.5 "
                                            "--set pairs.teacher.temperature=1 (VALUE is JSON, or else a string)");
    demo->add_flag("--json", a->json, "print the study as JSON on standard output (progress stays on standard error)");
    demo->callback([a] {
        DemoStudyOptions options;
        options.demoDirectory = a->resources.empty() ? defaultDemoDirectory() : fs::path(a->resources);
        options.workspace = a->workspace;
        options.budget = {a->prompts, a->steps, a->evalPrompts, a->perPrompt};
        options.testPrompts = a->testPrompts;
        options.full = a->full;
        options.annotationFreePolicy = a->policy;
        options.evaluationSplit = a->split;
        for (const auto &setting : a->settings) {
            const auto equals = setting.find('=');
            if (equals == std::string::npos || equals == 0)
                throw UsageError("--set " + setting + ": expected PATH=VALUE, such as loss.beta=0.5");
            nlohmann::json value = nlohmann::json::parse(setting.substr(equals + 1), nullptr, false);
            if (value.is_discarded())
                value = setting.substr(equals + 1);
            std::string path = setting.substr(0, equals);
            for (char &c : path)
                if (c == '.')
                    c = '/';
            nlohmann::json patch;
            patch[nlohmann::json::json_pointer("/" + path)] = value;
            options.overrides.merge_patch(patch);
        }
        auto log = [](const std::string &line) { std::cerr << line << std::endl; };
        RunCallbacks callbacks;
        callbacks.log = log;
        auto lastLine = std::chrono::steady_clock::now() - std::chrono::hours(1);
        callbacks.onStep = [&](const DistillStep &s) {
            if (std::chrono::steady_clock::now() - lastLine < std::chrono::seconds(5))
                return;
            lastLine = std::chrono::steady_clock::now();
            std::fprintf(stderr, "  step %ld/%ld  loss %.4f  eta %.0fs\n", static_cast<long>(s.point.step), static_cast<long>(a->steps), s.point.loss,
                         s.point.etaSeconds);
        };
        JobContext context({}, [](const JobProgress &p) {
            if (p.stage != "train")
                std::fprintf(stderr, "  %s %ld/%ld %s  %.1f/s  eta %.0fs\n", p.stage.c_str(), static_cast<long>(p.done), static_cast<long>(p.total),
                             p.unit.c_str(), p.ratePerSecond, p.etaSeconds);
        });
        const DemoStudyResult study = runDemoStudy(options, &context, callbacks, log);
        Workspace store = Workspace::open(a->workspace, false);
        const std::string mainRun = study.methods.front().runId;
        const fs::path report = writeReport(store, mainRun, ReportFormat::Html, runDirectory(a->workspace, mainRun) / "report.html");
        if (a->json) {
            nlohmann::json doc = study.toJson();
            doc["report"] = fs::absolute(report).string();
            std::cout << doc.dump(2) << std::endl;
            return;
        }
        std::cout << "report: " << fs::absolute(report).string() << "  (" << static_cast<int>(study.seconds) << " s)\n";
        for (const auto &m : study.methods)
            std::cout << m.summary << "\n";
        std::cout << std::flush;
    });
}

} // namespace plad::cli
