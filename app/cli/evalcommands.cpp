// plad rouge: ROUGE-1/2/L of prediction/target pairs. plad eval: generate on a dataset and score the outputs.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "common/error.h"
#include "common/fileio.h"
#include "data/dataset.h"
#include "eval/generationeval.h"
#include "eval/rouge.h"
#include "eval/comparison.h"
#include "plad/distillrun.h"
#include "eval/llmjudge.h"
#include "store/workspace.h"
#include "model/languagemodel.h"
#include "tokenizer/tokenizer.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <iostream>

#include <fstream>
#include <memory>

namespace plad::cli {

namespace {

/** --judge-config: a JSON object, or a file holding one (its relative paths resolve beside it). */
LlmJudgeConfig readJudgeConfig(const std::string &option)
{
    if (option.empty())
        throw UsageError("--judge llm needs --judge-config: {\"type\": \"local\", \"model\": DIR} or an http endpoint object");
    if (option.front() == '{') {
        nlohmann::json doc;
        try {
            doc = nlohmann::json::parse(option);
        } catch (const nlohmann::json::parse_error &e) {
            throw Error(std::string("--judge-config: invalid JSON (") + e.what() + ")");
        }
        return LlmJudgeConfig::fromJson(doc, "--judge-config", std::filesystem::current_path());
    }
    return LlmJudgeConfig::fromJson(readJsonFile(option), option, std::filesystem::absolute(option).parent_path());
}

void addGenerationEval(CLI::App &app)
{
    struct Args
    {
        std::string model, data, format = "jsonl", templateText, outputs, out, tokenizer, workspace, judge = "rouge-l", judgeConfig;
        std::vector<std::string> against;
        ImportOptions import;
        GenerationEvalOptions options;
        int64_t limit = 0;
        bool quiet = false;
    };
    auto a = std::make_shared<Args>();
    a->import.removeDuplicates = false;
    a->options.limits.maxPromptTokens = 224;
    auto *eval = app.add_subcommand("eval", "Generate for every prompt of a dataset with a model (greedy by default), score the "
                                            "outputs with ROUGE against the references, and compare models head to head");
    eval->add_option("MODEL", a->model, "a Hugging Face model directory with its tokenizer.json, or a run id (with --workspace)")->required();
    eval->add_option("--workspace", a->workspace,
                     "workspace of run ids: MODEL may be a run (its student), --against may name runs, \"initial\" (the run's starting "
                     "student) and \"teacher\" (its local teacher); the result is stored with the run for its report");
    eval->add_option("--data", a->data, "dataset file (JSONL, optionally .lz4) with prompts and references")->required();
    addDatasetOptions(eval, a->format, a->import);
    eval->add_option("--against", a->against,
                     "other models (directories or run ids) evaluated on the same prompts and compared head to head; \"reference\" "
                     "compares with the dataset's references (needs --judge llm)");
    eval->add_option("--judge", a->judge, "who decides each head-to-head prompt: rouge-l (F1 against the reference) or llm")
        ->check(CLI::IsMember({"rouge-l", "llm"}))
        ->capture_default_str();
    eval->add_option("--judge-config", a->judgeConfig,
                     "the LLM judge, as in a run config's labeling.llm: a JSON object or a file holding one, e.g. "
                     "{\"type\": \"local\", \"model\": DIR} or {\"type\": \"http\", \"base_url\": URL, \"model\": NAME}; "
                     "it is asked in both orders and a prompt counts only when both agree");
    eval->add_option("--template", a->templateText,
                     "prompt template: a preset (plain, tldr, chatml, llama2, alpaca; chat: the model's chat template), a format "
                     "holding {prompt}, a .jinja chat template, or a JSON object (default: the model's prompt_template.json, else its "
                     "chat template, else plain)");
    eval->add_option("--tokenizer", a->tokenizer, "tokenizer.json (or its directory) for models without their own");
    eval->add_option("--limit", a->limit, "evaluate only the first N records (0: all)")->capture_default_str();
    eval->add_option("--max-new-tokens", a->options.maxNewTokens, "longest output")->capture_default_str();
    eval->add_option("--max-prompt-tokens", a->options.limits.maxPromptTokens, "prompts are cut to this many tokens (keeping the start)")
        ->capture_default_str();
    eval->add_option("--batch-size", a->options.batchSize, "prompts generated together")->capture_default_str();
    eval->add_flag("--sample", [a](int64_t) { a->options.sampling.greedy = false; }, "sample instead of greedy decoding");
    eval->add_option("--temperature", a->options.sampling.temperature, "sampling temperature")->capture_default_str();
    eval->add_option("--top-p", a->options.sampling.topP, "nucleus sampling")->capture_default_str();
    eval->add_option("--seed", a->options.sampling.seed, "sampling seed")->capture_default_str();
    eval->add_flag("--stem", a->options.stem, "ROUGE with the Porter stemmer");
    eval->add_option("--outputs", a->outputs, "write every prompt's outputs and ROUGE-L as JSONL");
    eval->add_option("--out", a->out, "also write the summary JSON to this file");
    eval->add_flag("--quiet", a->quiet, "no progress lines on stderr");
    eval->callback([a] {
        applyDatasetFormat(a->format, a->import);
        auto records = importDataset(a->data, a->import).records;
        if (a->limit > 0 && static_cast<size_t>(a->limit) < records.size())
            records.resize(static_cast<size_t>(a->limit));

        // Names resolve to model directories: a directory as it is, else a run of the workspace.
        std::optional<Workspace> store;
        std::optional<nlohmann::json> runConfig;
        std::string runId;
        if (!a->workspace.empty()) {
            store.emplace(Workspace::open(a->workspace, false));
            if (!std::filesystem::is_directory(a->model)) {
                runId = store->runs().requireRun(a->model).id;
                runConfig = nlohmann::json::parse(store->runs().requireRun(runId).configJson);
            }
        }
        auto resolve = [&](const std::string &name) -> std::string {
            if (runConfig && name == "initial")
                return (*runConfig)["student"]["model"].get<std::string>();
            if (runConfig && name == "teacher") {
                if (!runConfig->contains("teacher") || (*runConfig)["teacher"]["type"] != "local")
                    throw Error("--against teacher: run " + runId + " has no local teacher model");
                return (*runConfig)["teacher"]["model"].get<std::string>();
            }
            if (name == "reference")
                return {};
            if (std::filesystem::is_directory(name))
                return name;
            if (!store)
                throw Error(name + ": no such model directory (pass --workspace to name runs)");
            const auto dir = runDirectory(a->workspace, store->runs().requireRun(name).id) / "model";
            if (!std::filesystem::exists(dir / "config.json"))
                throw Error("run " + name + " has no trained student yet (" + dir.string() + " is missing); finish or resume the run first");
            return dir.string();
        };
        std::vector<std::string> names{a->model};
        names.insert(names.end(), a->against.begin(), a->against.end());
        std::vector<std::string> models;
        for (const auto &n : names)
            models.push_back(resolve(n));
        std::vector<NamedModel> named;
        for (size_t i = 0; i < models.size(); ++i)
            named.push_back({names[i], models[i], models[i].empty() ? PromptTemplate{} : promptTemplateOption(a->templateText, models[i]), a->tokenizer});
        std::unique_ptr<Judge> judge;
        if (a->judge == "llm")
            judge = makeLlmJudge(readJudgeConfig(a->judgeConfig), "cpu");
        else if (!a->judgeConfig.empty())
            throw UsageError("--judge-config is for --judge llm");
        auto comparison = compareModels(
            named, records, a->options, nullptr,
            [a](const std::string &name, const JobProgress &p) {
                if (!a->quiet)
                    std::fprintf(stderr, "%s: %lld/%lld prompts  %.1f prompts/s  eta %.0fs\n", name.c_str(), static_cast<long long>(p.done),
                                 static_cast<long long>(p.total), p.ratePerSecond, p.etaSeconds);
            },
            judge.get());
        auto &summary = comparison.summary;
        const auto &results = comparison.results;
        summary["data"] = a->data;
        if (!a->outputs.empty()) {
            std::string text;
            for (size_t r = 0; r < records.size(); ++r) {
                nlohmann::json line{{"id", records[r].id}, {"reference", records[r].reference}, {"outputs", nlohmann::json::array()}};
                for (size_t m = 0; m < results.size(); ++m) {
                    if (r >= results[m].outputs.size())
                        continue;
                    const auto &o = results[m].outputs[r];
                    nlohmann::json entry{{"model", models[m].empty() ? std::string("reference") : models[m]}, {"prediction", o.prediction},
                                         {"rougeL_f", o.rouge.rougeL.f1}, {"tokens", o.tokens}, {"finish", toString(o.finishReason)}};
                    // The judge's verdict on this prompt: +1 the first model won, -1 it lost, 0 a tie.
                    if (m > 0 && m - 1 < comparison.outcomes.size() && r < comparison.outcomes[m - 1].size())
                        entry["verdict"] = comparison.outcomes[m - 1][r];
                    line["outputs"].push_back(entry);
                }
                text += line.dump() + "\n";
            }
            writeFileAtomically(a->outputs, text);
        }
        if (!a->out.empty())
            writeFileAtomically(a->out, summary.dump(2) + "\n");
        if (!runId.empty()) {
            store->results().addEvaluation(runId, std::max<int64_t>(0, store->runs().lastMetricStep(runId)), "generation", summary.dump());
        }
        printJson(summary);
    });
}

} // namespace

void addEvalCommands(CLI::App &app)
{
    addGenerationEval(app);

    struct Args
    {
        std::string pairs;
        bool stem = false;
    };
    auto a = std::make_shared<Args>();
    auto *rouge = app.add_subcommand("rouge", "ROUGE-1/2/L (rouge_score semantics) for {\"target\", \"prediction\"} JSONL lines");
    rouge->add_option("--pairs", a->pairs, "JSONL file, one {\"target\": ..., \"prediction\": ...} object per line")->required();
    rouge->add_flag("--stem", a->stem, "apply the Porter stemmer to tokens longer than three characters");
    rouge->callback([a] {
        std::ifstream in(a->pairs);
        if (!in)
            throw Error(a->pairs + ": cannot open");
        const RougeScorer scorer(a->stem);
        std::string line;
        int64_t number = 0;
        while (std::getline(in, line)) {
            ++number;
            if (line.find_first_not_of(" \t\r") == std::string::npos)
                continue;
            nlohmann::json doc;
            try {
                doc = nlohmann::json::parse(line);
            } catch (const nlohmann::json::parse_error &e) {
                throw Error(a->pairs + ":" + std::to_string(number) + ": invalid JSON (" + e.what() + ")");
            }
            for (const char *field : {"target", "prediction"})
                if (!doc.is_object() || !doc.contains(field) || !doc[field].is_string())
                    throw Error(a->pairs + ":" + std::to_string(number) + ": missing string field \"" + field + "\"");
            const auto s = scorer.score(doc["target"].get<std::string>(), doc["prediction"].get<std::string>());
            printJson(toJson(s));
        }
    });
}

} // namespace plad::cli
