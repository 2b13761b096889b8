#include "plad/modelevaluation.h"

#include "common/error.h"
#include "eval/judge.h"
#include "plad/distillrun.h"
#include "store/workspace.h"
#include "tokenizer/prompttemplate.h"

#include <algorithm>

namespace plad {

nlohmann::json perPromptRows(const ModelComparison &comparison, const std::vector<std::string> &names, const std::vector<DatasetRecord> &records)
{
    nlohmann::json rows = nlohmann::json::array();
    const auto &results = comparison.results;
    for (size_t r = 0; r < records.size(); ++r) {
        nlohmann::json row{{"id", records[r].id}, {"prompt", records[r].prompt}, {"reference", records[r].reference},
                           {"outputs", nlohmann::json::array()}, {"verdicts", nlohmann::json::array()}};
        bool complete = true;
        for (size_t m = 0; m < results.size(); ++m) {
            if (r >= results[m].outputs.size()) {
                complete = false;
                break;
            }
            const auto &o = results[m].outputs[r];
            row["outputs"].push_back({{"name", names[m]}, {"prediction", o.prediction}, {"rougeL_f", o.rouge.rougeL.f1}, {"tokens", o.tokens},
                                      {"finish", toString(o.finishReason)}});
        }
        if (!complete)
            break; // a cancelled evaluation: only the prompts every model finished
        for (size_t h = 0; h < comparison.outcomes.size(); ++h) {
            if (r >= comparison.outcomes[h].size())
                continue;
            nlohmann::json verdict{{"against", names[h + 1]}, {"outcome", comparison.outcomes[h][r]}};
            if (h < comparison.verdicts.size() && r < comparison.verdicts[h].size())
                verdict["scores"] = {comparison.verdicts[h][r].firstScore, comparison.verdicts[h][r].secondScore};
            row["verdicts"].push_back(verdict);
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

ModelEvaluation evaluateModels(const ModelEvaluationRequest &request, JobContext *context)
{
    if (request.models.empty())
        throw Error("evaluation: no model to evaluate");
    if (request.records.empty())
        throw Error("evaluation: " + (request.dataLabel.empty() ? std::string("the data") : request.dataLabel) + " has no records to evaluate on");

    // Names resolve to model directories: a directory as it is, else a run of the workspace.
    std::optional<Workspace> store;
    std::optional<nlohmann::json> runConfig;
    std::string runId;
    const std::string &first = request.models.front();
    if (!request.workspace.empty()) {
        store.emplace(Workspace::open(request.workspace, false));
        if (!std::filesystem::is_directory(first)) {
            const RunRecord run = store->runs().requireRun(first);
            runId = run.id;
            runConfig = nlohmann::json::parse(run.configJson);
        }
    }
    auto resolve = [&](const std::string &name) -> std::string {
        if (runConfig && name == "initial")
            return (*runConfig)["student"]["model"].get<std::string>();
        if (runConfig && name == "teacher") {
            if (!runConfig->contains("teacher") || (*runConfig)["teacher"].value("type", std::string("local")) != "local")
                throw Error("against teacher: run " + runId + " has no local teacher model");
            return (*runConfig)["teacher"]["model"].get<std::string>();
        }
        if (name == "reference")
            return {};
        if (std::filesystem::is_directory(name))
            return name;
        if (!store)
            throw Error(name + ": no such model directory (name a workspace to evaluate runs)");
        const auto dir = runDirectory(request.workspace, store->runs().requireRun(name).id) / "model";
        if (!std::filesystem::exists(dir / "config.json"))
            throw Error("run " + name + " has no trained student yet (" + dir.string() + " is missing); finish or resume the run first");
        return dir.string();
    };
    ModelEvaluation out;
    std::vector<NamedModel> named;
    for (const auto &name : request.models) {
        out.directories.push_back(resolve(name));
        const std::string &dir = out.directories.back();
        named.push_back({name, dir, dir.empty() ? PromptTemplate{} : PromptTemplate::fromOption(request.promptTemplate, dir, request.promptTemplateSource), request.tokenizer});
    }
    std::unique_ptr<Judge> judge;
    if (request.llmJudge)
        judge = makeLlmJudge(*request.llmJudge, "cpu");
    out.comparison = compareModels(
        named, request.records, request.options, context,
        [context](const std::string &name, const JobProgress &p) {
            if (!context)
                return;
            JobProgress named = p;
            named.stage = name;
            context->report(named, p.done == p.total);
        },
        judge.get());
    out.cancelled = context && context->isCancelled();
    auto &summary = out.comparison.summary;
    summary["data"] = request.dataLabel;
    out.perPrompt = perPromptRows(out.comparison, request.models, request.records);
    if (out.cancelled)
        return out;
    if (!runId.empty() && request.storeWithRun) {
        nlohmann::json stored = summary;
        stored["per_prompt"] = out.perPrompt;
        store->results().addEvaluation(runId, std::max<int64_t>(0, store->runs().lastMetricStep(runId)), "generation", stored.dump());
        out.storedRunId = runId;
    }
    return out;
}

} // namespace plad
