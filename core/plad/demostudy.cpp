#include "plad/demostudy.h"

#include "common/error.h"
#include "common/fileio.h"
#include "data/dataset.h"
#include "eval/comparison.h"
#include "store/workspace.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace plad {

namespace fs = std::filesystem;

namespace {

std::string percentText(double v)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.1f%%", 100 * v);
    return text;
}

} // namespace

fs::path defaultDemoDirectory()
{
    const char *env = std::getenv("PLAD_DEMO_DIR");
    return env && *env ? fs::path(env) : fs::path(PLAD_DEMO_DIR);
}

DemoStudyResult runDemoStudy(const DemoStudyOptions &options, JobContext *context, const RunCallbacks &callbacks,
                             const std::function<void(const std::string &)> &log,
                             const std::function<void(const std::string &runId)> &onRunCreated)
{
    const auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    auto say = [&](const std::string &line) {
        if (log)
            log(line + "  [" + std::to_string(static_cast<int>(elapsed())) + " s]");
    };
    const fs::path &demo = options.demoDirectory;
    if (!fs::exists(demo / "student" / "config.json") || !fs::exists(demo / "teacher" / "config.json"))
        throw Error(demo.string() + ": the demo's models are not there (pass --resources DIR or set PLAD_DEMO_DIR)");
    Workspace store = Workspace::open(options.workspace);
    const fs::path configs = options.workspace / "configs";
    fs::create_directories(configs);

    auto runMethod = [&](const std::string &method, const nlohmann::json &teacher) {
        const nlohmann::json doc = demoRunConfig(demo, method, teacher, options.budget);
        writeFileAtomically(configs / (method + ".json"), doc.dump(2) + "\n");
        const RunConfig config = RunConfig::fromJson(doc, {});
        const std::string id = createDistillationRun(store, config).id;
        say("== " + method + " (" + id + ")");
        if (onRunCreated)
            onRunCreated(id);
        const auto result = executeRun(options.workspace, id, context, callbacks);
        if (result.status != RunStatus::Completed)
            throw Error("the " + method + " run stopped: " + result.message);
        return id;
    };

    DemoStudyResult study;
    const std::string pladRun = runMethod("plad", {{"type", "local"}, {"model", (demo / "teacher").string()}});
    const fs::path teacherFile = configs / "teacher-outputs.jsonl";
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
    const fs::path testFile = demo / "data" / "test.jsonl.lz4";
    auto records = importDataset(testFile, import).records;
    if (options.testPrompts > 0 && static_cast<size_t>(options.testPrompts) < records.size())
        records.resize(static_cast<size_t>(options.testPrompts));
    GenerationEvalOptions evalOptions;
    evalOptions.limits.maxPromptTokens = 224;
    evalOptions.maxNewTokens = 32;
    const PromptTemplate promptTemplate = PromptTemplate::loadFrom(demo / "student").value_or(PromptTemplate{});
    for (const auto &[name, method, id] : {std::tuple{"PLaD", "plad", pladRun}, {"SeqKD", "seqkd", seqkdRun}, {"DPO", "dpo", dpoRun}}) {
        if (context && context->isCancelled())
            throw Error("the demo study was stopped before evaluating " + id + "; its runs are complete and kept");
        say("== evaluating " + id + " on " + std::to_string(records.size()) + " test prompts");
        const auto comparison = compareModels({{id, runDirectory(options.workspace, id) / "model", promptTemplate, {}},
                                               {"initial", demo / "student", promptTemplate, {}}},
                                              records, evalOptions, context);
        DemoMethodResult r;
        r.name = name;
        r.method = method;
        r.runId = id;
        r.evaluation = comparison.summary;
        r.evaluation["data"] = testFile.string();
        store.results().addEvaluation(id, std::max<int64_t>(0, store.runs().lastMetricStep(id)), "generation", r.evaluation.dump());
        for (const auto &p : store.runs().metrics(id, "eval_pair_accuracy"))
            r.heldOutAccuracy.push_back(p.value);
        const auto &h = r.evaluation["head_to_head"][0];
        char line[512];
        std::snprintf(line, sizeof line,
                      "%-6s win rate vs the initial student %s [%s, %s] (%lld wins, %lld losses, %lld ties); ROUGE-L %.4f vs %.4f; held-out pair "
                      "ranking accuracy %s -> %s",
                      name, percentText(h["win_rate"].get<double>()).c_str(), percentText(h["win_rate_interval"]["low"].get<double>()).c_str(),
                      percentText(h["win_rate_interval"]["high"].get<double>()).c_str(), static_cast<long long>(h["wins"].get<int64_t>()),
                      static_cast<long long>(h["losses"].get<int64_t>()), static_cast<long long>(h["ties"].get<int64_t>()),
                      r.evaluation["models"][0]["rouge"]["rougeL"]["f"].get<double>(),
                      r.evaluation["models"][1]["rouge"]["rougeL"]["f"].get<double>(),
                      r.heldOutAccuracy.empty() ? "-" : percentText(r.heldOutAccuracy.front()).c_str(),
                      r.heldOutAccuracy.empty() ? "-" : percentText(r.heldOutAccuracy.back()).c_str());
        r.summary = line;
        study.methods.push_back(std::move(r));
    }
    study.seconds = elapsed();
    return study;
}

} // namespace plad
