// plad rouge: ROUGE-1/2/L of prediction/target pairs. plad eval: generate on a dataset and score the outputs.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "common/error.h"
#include "common/fileio.h"
#include "data/dataset.h"
#include "eval/generationeval.h"
#include "eval/rouge.h"
#include "eval/comparison.h"
#include "plad/modelevaluation.h"
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

        ModelEvaluationRequest request;
        request.models = {a->model};
        request.models.insert(request.models.end(), a->against.begin(), a->against.end());
        request.workspace = a->workspace;
        request.records = records;
        request.dataLabel = a->data;
        request.options = a->options;
        request.promptTemplate = a->templateText;
        request.promptTemplateSource = "--template";
        request.tokenizer = a->tokenizer;
        if (a->judge == "llm")
            request.llmJudge = readJudgeConfig(a->judgeConfig);
        else if (!a->judgeConfig.empty())
            throw UsageError("--judge-config is for --judge llm");
        JobContext context(std::stop_token(), [a](const JobProgress &p) {
            if (!a->quiet)
                std::fprintf(stderr, "%s: %lld/%lld prompts  %.1f prompts/s  eta %.0fs\n", p.stage.c_str(), static_cast<long long>(p.done),
                             static_cast<long long>(p.total), p.ratePerSecond, p.etaSeconds);
        });
        const ModelEvaluation evaluation = evaluateModels(request, &context);
        const auto &summary = evaluation.comparison.summary;
        if (!a->outputs.empty()) {
            std::string text;
            for (const auto &row : evaluation.perPrompt) {
                nlohmann::json line{{"id", row["id"]}, {"reference", row["reference"]}, {"outputs", nlohmann::json::array()}};
                for (size_t m = 0; m < row["outputs"].size(); ++m) {
                    const auto &o = row["outputs"][m];
                    nlohmann::json entry{{"model", evaluation.directories[m].empty() ? std::string("reference") : evaluation.directories[m]},
                                         {"prediction", o["prediction"]}, {"rougeL_f", o["rougeL_f"]}, {"tokens", o["tokens"]}, {"finish", o["finish"]}};
                    // The judge's verdict on this prompt: +1 the first model won, -1 it lost, 0 a tie.
                    if (m > 0 && m - 1 < row["verdicts"].size())
                        entry["verdict"] = row["verdicts"][m - 1]["outcome"];
                    line["outputs"].push_back(entry);
                }
                text += line.dump() + "\n";
            }
            writeFileAtomically(a->outputs, text);
        }
        if (!a->out.empty())
            writeFileAtomically(a->out, summary.dump(2) + "\n");
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
