#include "plad/demostudy.h"

#include "common/error.h"
#include "common/fileio.h"
#include "common/text.h"
#include "data/dataset.h"
#include "eval/comparison.h"
#include "eval/modelcalibration.h"
#include "eval/statistics.h"
#include "plad/modelevaluation.h"
#include "store/workspace.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace plad {

namespace fs = std::filesystem;

namespace {

/** One method of the study as it is run. */
struct MethodSpec
{
    std::string key;      ///< config file name and run name part
    std::string name;
    std::string method;
    std::string policy;   ///< empty for SeqKD (no pairs)
};

nlohmann::json changeJson(const Interval &i)
{
    return {{"estimate", finiteOrNull(i.estimate)}, {"ci", {finiteOrNull(i.low), finiteOrNull(i.high)}}};
}

DemoCalibration toDemoCalibration(const ModelCalibration &c)
{
    return {c.tokenEce, c.sequenceEce, c.spearman, c.rerankWinRate, c.toJson(), c.perPrompt};
}

} // namespace

fs::path defaultDemoDirectory()
{
    if (const char *env = std::getenv("PLAD_DEMO_DIR"); env && *env)
        return fs::path(env);
    // An installed program: PREFIX/bin/plad finds PREFIX/share/plad-workbench/demo.
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path installed = (exe.parent_path() / PLAD_INSTALLED_DEMO).lexically_normal();
        if (fs::is_directory(installed, ec))
            return installed;
    }
    // A program run from its build tree: the source tree's resources.
    return fs::path(PLAD_DEMO_DIR);
}

nlohmann::json DemoStudyResult::toJson() const
{
    nlohmann::json methodsJson = nlohmann::json::array();
    for (const auto &m : methods) {
        const auto &h = m.evaluation.at("head_to_head").at(0);
        const auto &models = m.evaluation.at("models");
        nlohmann::json accuracy = nlohmann::json::array();
        if (!m.heldOutAccuracy.empty())
            accuracy = {m.heldOutAccuracy.front(), m.heldOutAccuracy.back()};
        methodsJson.push_back({{"name", m.name},
                               {"method", m.method},
                               {"labeling", m.labeling},
                               {"uses_references", m.usesReferences},
                               {"run", m.runId},
                               {"win_rate", h.at("win_rate")},
                               {"ci", {h.at("win_rate_interval").at("low"), h.at("win_rate_interval").at("high")}},
                               {"wins", h.at("wins")},
                               {"losses", h.at("losses")},
                               {"ties", h.at("ties")},
                               {"rouge_l", models.at(0).at("rouge").at("rougeL").at("f")},
                               {"initial_rouge_l", models.at(1).at("rouge").at("rougeL").at("f")},
                               {"pair_accuracy", accuracy},
                               {"token_ece", {finiteOrNull(initialCalibration.tokenEce), finiteOrNull(m.calibration.tokenEce)}},
                               {"sequence_ece", {finiteOrNull(initialCalibration.sequenceEce), finiteOrNull(m.calibration.sequenceEce)}},
                               {"spearman", {finiteOrNull(initialCalibration.spearman), finiteOrNull(m.calibration.spearman)}},
                               {"rerank_win_rate", {finiteOrNull(initialCalibration.rerankWinRate), finiteOrNull(m.calibration.rerankWinRate)}},
                               {"sequence_ece_change", changeJson(m.calibrationChange.sequenceEce)},
                               {"rerank_win_rate_change", changeJson(m.calibrationChange.rerank)},
                               {"seconds", m.seconds}});
    }
    return {{"workspace", fs::absolute(workspace).string()},
            {"seconds", seconds},
            {"methods", methodsJson},
            {"initial_calibration", initialCalibration.detail},
            {"pair_quality", pairQuality},
            {"evaluated_on", evaluationSplit},
            {"calibration_lists", "[before, after] on the evaluation prompts: the initial student, then the trained one"},
            {"calibration_changes", "after - before with a 95% paired percentile-bootstrap interval over the evaluation prompts (2,000 resamples)"},
            {"pair_accuracy_list", "[step 0, last step] on the held-out pairs of the validation prompts"}};
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
    const std::string &freePolicy = options.annotationFreePolicy;
    if (freePolicy != "consensus" && freePolicy != "teacher-preferred" && freePolicy != "teacher-likelihood")
        throw ConfigError("demo: the annotation-free policy must be \"consensus\", \"teacher-likelihood\" or \"teacher-preferred\", not \"" + freePolicy + "\"");
    Workspace store = Workspace::open(options.workspace);
    const fs::path configs = options.workspace / "configs";
    fs::create_directories(configs);

    std::vector<MethodSpec> specs = {{"plad-" + freePolicy, "PLaD (" + freePolicy + ")", "plad", freePolicy}};
    if (freePolicy != "teacher-preferred")
        specs.push_back({"plad-teacher-preferred", "PLaD (teacher-preferred)", "plad", "teacher-preferred"});
    specs.push_back({"seqkd", "SeqKD", "seqkd", ""});
    if (options.full) {
        specs.push_back({"plad-judge", "PLaD (judge: ROUGE-L vs reference)", "plad", "judge"});
        specs.push_back({"dpo-" + freePolicy, "DPO (" + freePolicy + ")", "dpo", freePolicy});
    }

    DemoStudyResult study;
    study.workspace = options.workspace;
    study.evaluationSplit = options.evaluationSplit;
    nlohmann::json fileTeacher;
    std::vector<std::pair<MethodSpec, std::string>> runs;
    std::map<std::string, double> runSeconds;
    for (const auto &spec : specs) {
        const auto runStart = std::chrono::steady_clock::now();
        const bool first = runs.empty();
        const nlohmann::json teacher = first ? nlohmann::json{{"type", "local"}, {"model", (demo / "teacher").string()}} : fileTeacher;
        nlohmann::json doc = demoRunConfig(demo, spec.method, teacher, options.budget, spec.policy.empty() ? freePolicy : spec.policy);
        if (!options.overrides.empty())
            doc.merge_patch(options.overrides);
        doc["teacher"] = teacher; // the study decides where the teacher's text comes from
        writeFileAtomically(configs / (spec.key + ".json"), doc.dump(2) + "\n");
        const RunConfig config = RunConfig::fromJson(doc, {});
        const std::string id = createDistillationRun(store, config).id;
        say("== " + spec.name + " (" + id + ")");
        if (onRunCreated)
            onRunCreated(id);
        const auto result = executeRun(options.workspace, id, context, callbacks);
        if (result.status != RunStatus::Completed)
            throw Error("the " + spec.name + " run stopped: " + result.message);
        runSeconds[id] = std::chrono::duration<double>(std::chrono::steady_clock::now() - runStart).count();
        runs.emplace_back(spec, id);
        if (first) {
            // The other methods see exactly these teacher outputs: k per prompt, in sample order.
            std::map<std::string, std::map<int64_t, std::string>> texts;
            for (const auto &o : store.pairs().outputs(id, 0))
                if (o.source == OutputSource::Teacher)
                    texts[o.promptId][o.sample] = o.text;
            std::string text;
            for (const auto &[promptId, samples] : texts) {
                nlohmann::json outputs = nlohmann::json::array();
                for (const auto &[sample, t] : samples)
                    outputs.push_back(t);
                text += nlohmann::json{{"id", promptId}, {"output", outputs}}.dump() + "\n";
            }
            const fs::path teacherFile = configs / "teacher-outputs.jsonl";
            writeFileAtomically(teacherFile, text);
            fileTeacher = {{"type", "jsonl"}, {"file", fs::absolute(teacherFile).string()}};
            const auto quality = store.results().evaluations(id, "pair_quality");
            if (!quality.empty())
                study.pairQuality = nlohmann::json::parse(quality.back().resultJson);
        }
    }

    // Each student against the initial student on the test prompts (ROUGE-L judge), and its
    // calibration there.
    ImportOptions import;
    import.fields = {"prompt", "reference", "id", "group"};
    if (options.evaluationSplit != "test" && options.evaluationSplit != "validation")
        throw ConfigError("demo: the evaluation split must be \"test\" or \"validation\", not \"" + options.evaluationSplit + "\"");
    const fs::path testFile = demo / "data" / (options.evaluationSplit + ".jsonl.lz4");
    auto records = importDataset(testFile, import).records;
    if (options.testPrompts > 0 && static_cast<size_t>(options.testPrompts) < records.size())
        records.resize(static_cast<size_t>(options.testPrompts));
    GenerationEvalOptions evalOptions;
    evalOptions.limits.maxPromptTokens = 224;
    evalOptions.maxNewTokens = 32;
    const PromptTemplate promptTemplate = PromptTemplate::resolve(std::nullopt, demo / "student");
    ModelCalibrationOptions calibration;
    calibration.promptTemplate = promptTemplate;
    calibration.limits.maxPromptTokens = 224;
    calibration.maxNewTokens = 32;
    calibration.samples = options.calibrationSamples;
    calibration.sampling.greedy = false;
    calibration.sampling.temperature = 1.0;
    calibration.sampling.seed = 17;
    say("== calibration of the initial student on " + std::to_string(records.size()) + " " + options.evaluationSplit + " prompts");
    study.initialCalibration = toDemoCalibration(calibrateModel(demo / "student", records, calibration, context));
    for (const auto &[spec, id] : runs) {
        if (context && context->isCancelled())
            throw Error("the demo study was stopped before evaluating " + id + "; its runs are complete and kept");
        const auto evalStart = std::chrono::steady_clock::now();
        say("== evaluating " + spec.name + " (" + id + ") on " + std::to_string(records.size()) + " " + options.evaluationSplit + " prompts");
        const fs::path model = runDirectory(options.workspace, id) / "model";
        const auto comparison = compareModels({{id, model, promptTemplate, {}}, {"initial", demo / "student", promptTemplate, {}}}, records,
                                              evalOptions, context);
        DemoMethodResult r;
        r.name = spec.name;
        r.method = spec.method;
        r.labeling = spec.policy.empty() ? "none" : (spec.policy == "judge" ? "judge:rouge-l" : spec.policy);
        r.usesReferences = spec.policy == "judge";
        r.runId = id;
        r.evaluation = comparison.summary;
        r.evaluation["data"] = testFile.string();
        const int64_t lastStep = std::max<int64_t>(0, store.runs().lastMetricStep(id));
        // Stored with every prompt's outputs and verdicts, as plad eval stores it (the Evaluate area lists them).
        nlohmann::json stored = r.evaluation;
        stored["per_prompt"] = perPromptRows(comparison, {id, "initial"}, records);
        store.results().addEvaluation(id, lastStep, "generation", stored.dump());
        r.calibration = toDemoCalibration(calibrateModel(model, records, calibration, context));
        r.calibrationChange = calibrationChange(study.initialCalibration.perPrompt, r.calibration.perPrompt, calibration.bins, 2000, 5);
        nlohmann::json calibrationDoc = {{"data", testFile.string()}, {"samples", calibration.samples}, {"initial", study.initialCalibration.detail},
                                         {"trained", r.calibration.detail}, {"change", toJson(r.calibrationChange)}};
        store.results().addEvaluation(id, lastStep, "test_calibration", calibrationDoc.dump());
        for (const auto &p : store.runs().metrics(id, "eval_pair_accuracy"))
            r.heldOutAccuracy.push_back(p.value);
        r.seconds = runSeconds[id] + std::chrono::duration<double>(std::chrono::steady_clock::now() - evalStart).count();
        const auto &h = r.evaluation["head_to_head"][0];
        char line[1024];
        std::snprintf(line, sizeof line,
                      "%-34s win rate vs the initial student %s [%s, %s] (%lld wins, %lld losses, %lld ties); ROUGE-L %.4f vs %.4f; "
                      "sequence ECE %s -> %s (change [%s, %s]); rerank@%lld %s -> %s (change [%s, %s] points); held-out pair accuracy %s -> %s%s",
                      spec.name.c_str(), percentText(h["win_rate"].get<double>()).c_str(),
                      percentText(h["win_rate_interval"]["low"].get<double>()).c_str(),
                      percentText(h["win_rate_interval"]["high"].get<double>()).c_str(), static_cast<long long>(h["wins"].get<int64_t>()),
                      static_cast<long long>(h["losses"].get<int64_t>()), static_cast<long long>(h["ties"].get<int64_t>()),
                      r.evaluation["models"][0]["rouge"]["rougeL"]["f"].get<double>(), r.evaluation["models"][1]["rouge"]["rougeL"]["f"].get<double>(),
                      fixedText(study.initialCalibration.sequenceEce, 4).c_str(), fixedText(r.calibration.sequenceEce, 4).c_str(),
                      fixedText(r.calibrationChange.sequenceEce.low, 3).c_str(), fixedText(r.calibrationChange.sequenceEce.high, 3).c_str(),
                      static_cast<long long>(calibration.samples), percentText(study.initialCalibration.rerankWinRate).c_str(),
                      percentText(r.calibration.rerankWinRate).c_str(), fixedText(100 * r.calibrationChange.rerank.low, 1).c_str(),
                      fixedText(100 * r.calibrationChange.rerank.high, 1).c_str(),
                      r.heldOutAccuracy.empty() ? "-" : percentText(r.heldOutAccuracy.front()).c_str(),
                      r.heldOutAccuracy.empty() ? "-" : percentText(r.heldOutAccuracy.back()).c_str(),
                      r.usesReferences ? " [uses references]" : "");
        r.summary = line;
        study.methods.push_back(std::move(r));
    }
    study.seconds = elapsed();
    return study;
}

} // namespace plad
