// plad demo: PLaD and two baselines on the embedded demo task, evaluated and reported.
#include "cli/clisupport.h"
#include "cli/commands.h"
#include "cli/demopaths.h"

#include "common/error.h"
#include "common/fileio.h"
#include "data/dataset.h"
#include "eval/comparison.h"
#include "plad/democonfig.h"
#include "plad/distillrun.h"
#include "plad/distilltrainer.h"
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
};

std::string percentText(double v)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.1f%%", 100 * v);
    return text;
}

} // namespace

void addDemoCommand(CLI::App &app)
{
    auto a = std::make_shared<DemoArgs>();
    auto *demo = app.add_subcommand("demo", "Run PLaD and the SeqKD and DPO baselines on the embedded demo task, evaluate them on test "
                                            "prompts against the initial student, and write the report");
    demo->add_option("--workspace", a->workspace, "workspace for the demo's runs")->capture_default_str();
    demo->add_option("--resources", a->resources, "the demo's directory (default: resources/demo of the source tree, or $PLAD_DEMO_DIR)");
    demo->add_option("--prompts", a->prompts, "training prompts (pairs are generated for each)")->capture_default_str();
    demo->add_option("--steps", a->steps, "optimiser steps per method (the same budget for all three)")->capture_default_str();
    demo->add_option("--test-prompts", a->testPrompts, "test prompts each student is evaluated on")->capture_default_str();
    demo->add_option("--eval-prompts", a->evalPrompts, "validation prompts of the calibration diagnostics during training")->capture_default_str();
    demo->callback([a] {
        const auto start = std::chrono::steady_clock::now();
        fs::path demoDir = a->resources;
        if (demoDir.empty()) {
            const char *env = std::getenv("PLAD_DEMO_DIR");
            demoDir = env && *env ? fs::path(env) : fs::path(PLAD_DEMO_DIR);
        }
        if (!fs::exists(demoDir / "student" / "config.json") || !fs::exists(demoDir / "teacher" / "config.json"))
            throw Error(demoDir.string() + ": the demo's models are not there (pass --resources DIR or set PLAD_DEMO_DIR)");
        Workspace store = Workspace::open(a->workspace);
        fs::create_directories(fs::path(a->workspace) / "configs");
        auto log = [](const std::string &line) { std::cerr << line << std::endl; };
        auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
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

        auto runMethod = [&](const std::string &method, const nlohmann::json &teacher) {
            const nlohmann::json doc = demoRunConfig(demoDir, method, teacher, {a->prompts, a->steps, a->evalPrompts});
            writeFileAtomically(fs::path(a->workspace) / "configs" / (method + ".json"), doc.dump(2) + "\n");
            const RunConfig config = RunConfig::fromJson(doc, {});
            const std::string id = createDistillationRun(store, config).id;
            std::cerr << "== " << method << " (" << id << ")  [" << static_cast<int>(elapsed()) << " s]" << std::endl;
            const auto result = executeRun(a->workspace, id, &context, callbacks);
            if (result.status != RunStatus::Completed)
                throw Error("the " + method + " run stopped: " + result.message);
            return id;
        };

        // PLaD generates the pairs; the baselines reuse its teacher outputs (a JSONL teacher), so
        // the three methods see the same teacher text and the teacher runs once.
        const std::string pladRun = runMethod("plad", {{"type", "local"}, {"model", (demoDir / "teacher").string()}});
        const fs::path teacherFile = fs::path(a->workspace) / "configs" / "teacher-outputs.jsonl";
        {
            std::string text;
            for (const auto &o : store.pairs().outputs(pladRun, 0))
                if (o.source == OutputSource::Teacher)
                    text += nlohmann::json{{"id", o.promptId}, {"output", o.text}}.dump() + "\n";
            writeFileAtomically(teacherFile, text);
        }
        const nlohmann::json fileTeacher = {{"type", "jsonl"}, {"file", fs::absolute(teacherFile).string()}};
        const std::string seqkdRun = runMethod("seqkd", fileTeacher);
        const std::string dpoRun = runMethod("dpo", fileTeacher);

        // Each student against the initial student on the test prompts (ROUGE-L judge).
        ImportOptions import;
        import.fields = {"prompt", "reference", "id", "group"};
        auto records = importDataset(demoDir / "data" / "test.jsonl.lz4", import).records;
        if (a->testPrompts > 0 && static_cast<size_t>(a->testPrompts) < records.size())
            records.resize(static_cast<size_t>(a->testPrompts));
        GenerationEvalOptions options;
        options.limits.maxPromptTokens = 224;
        options.maxNewTokens = 32;
        const PromptTemplate promptTemplate = PromptTemplate::loadFrom(demoDir / "student").value_or(PromptTemplate{});
        std::vector<std::string> summary;
        for (const auto &[method, id] : {std::pair{"PLaD", pladRun}, {"SeqKD", seqkdRun}, {"DPO", dpoRun}}) {
            std::cerr << "== evaluating " << id << " on " << records.size() << " test prompts  [" << static_cast<int>(elapsed()) << " s]" << std::endl;
            const auto comparison = compareModels({{id, runDirectory(a->workspace, id) / "model", promptTemplate, {}},
                                                   {"initial", demoDir / "student", promptTemplate, {}}},
                                                  records, options);
            nlohmann::json result = comparison.summary;
            result["data"] = (demoDir / "data" / "test.jsonl.lz4").string();
            store.results().addEvaluation(id, std::max<int64_t>(0, store.runs().lastMetricStep(id)), "generation", result.dump());
            const auto &h = result["head_to_head"][0];
            const auto accuracy = store.runs().metrics(id, "eval_pair_accuracy");
            char line[512];
            std::snprintf(line, sizeof line, "%-6s win rate vs the initial student %s [%s, %s] (%lld wins, %lld losses, %lld ties); ROUGE-L %.4f vs %.4f; held-out pair ranking accuracy %s -> %s",
                          method, percentText(h["win_rate"].get<double>()).c_str(), percentText(h["win_rate_interval"]["low"].get<double>()).c_str(),
                          percentText(h["win_rate_interval"]["high"].get<double>()).c_str(), static_cast<long long>(h["wins"].get<int64_t>()),
                          static_cast<long long>(h["losses"].get<int64_t>()), static_cast<long long>(h["ties"].get<int64_t>()),
                          result["models"][0]["rouge"]["rougeL"]["f"].get<double>(), result["models"][1]["rouge"]["rougeL"]["f"].get<double>(),
                          accuracy.empty() ? "-" : percentText(accuracy.front().value).c_str(),
                          accuracy.empty() ? "-" : percentText(accuracy.back().value).c_str());
            summary.push_back(line);
        }
        const fs::path report = writeReport(store, pladRun, ReportFormat::Html, runDirectory(a->workspace, pladRun) / "report.html");
        std::cout << "report: " << fs::absolute(report).string() << "  (" << static_cast<int>(elapsed()) << " s)\n";
        for (const auto &line : summary)
            std::cout << line << "\n";
        std::cout << std::flush;
    });
}

} // namespace plad::cli
