#include "eval/comparison.h"

#include "common/error.h"
#include "eval/statistics.h"
#include "model/languagemodel.h"
#include "eval/judge.h"
#include "tokenizer/tokenizer.h"

#include <cmath>
#include <stop_token>

#include <nlohmann/json.hpp>

namespace plad {
namespace {

/** Prompt by prompt: preferred +1 when `a` is better, -1 when `b` is, 0 for a tie, with the scores behind it. */
std::vector<JudgeVerdict> verdictsOf(const GenerationEvalResult &a, const GenerationEvalResult &b, const std::vector<DatasetRecord> &records,
                                     Judge *judge, JobContext *context)
{
    const size_t n = std::min(a.outputs.size(), b.outputs.size());
    std::vector<JudgeVerdict> verdicts;
    if (!judge) {
        for (size_t r = 0; r < n; ++r) {
            const double fa = a.outputs[r].rouge.rougeL.f1, fb = b.outputs[r].rouge.rougeL.f1;
            const double d = fa - fb;
            verdicts.push_back({std::abs(d) <= 1e-12 ? 0 : d > 0 ? 1 : -1, fa, fb});
        }
        return verdicts;
    }
    std::vector<JudgeCase> cases;
    for (size_t r = 0; r < n; ++r)
        cases.push_back({records[r].prompt, records[r].reference, a.outputs[r].prediction, b.outputs[r].prediction});
    return judge->judge(cases, context);
}

} // namespace

ModelComparison compareModels(const std::vector<NamedModel> &models, const std::vector<DatasetRecord> &records,
                              const GenerationEvalOptions &options, JobContext *context,
                              const std::function<void(const std::string &, const JobProgress &)> &progress, Judge *judge)
{
    if (models.empty() || models.front().directory.empty())
        throw Error("comparison: the first system must be a model");
    for (const auto &m : models)
        if (m.directory.empty() && !judge)
            throw Error("comparison against \"" + m.name
                        + "\": the references can only be judged by an LLM judge (ROUGE-L against the reference always prefers them)");

    ModelComparison out;
    out.summary = {{"prompts", records.size()}, {"decoding", options.sampling.greedy ? "greedy" : "sampled"},
                   {"max_new_tokens", options.maxNewTokens}, {"rouge_stemming", options.stem}, {"models", nlohmann::json::array()},
                   {"judge", judge ? judge->name() : std::string("ROUGE-L F1 against the reference")}};
    for (const auto &m : models) {
        if (m.directory.empty()) {
            // The references, with lengths in the first model's tokens.
            const Tokenizer tokenizer = Tokenizer::load(models.front().tokenizer.empty() ? models.front().directory : models.front().tokenizer);
            out.results.push_back(referenceOutputs(records, tokenizer, options.stem));
            auto entry = summaryJson(out.results.back());
            entry["name"] = m.name;
            entry["model"] = "reference";
            out.summary["models"].push_back(entry);
            continue;
        }
        auto model = LanguageModel::load(m.directory);
        const Tokenizer tokenizer = Tokenizer::load(m.tokenizer.empty() ? m.directory : m.tokenizer);
        GenerationEvalOptions o = options;
        o.promptTemplate = m.promptTemplate;
        JobContext local = context ? context->silent() : JobContext();
        JobContext reporting = (context ? *context : JobContext()).withProgress([&](const JobProgress &p) {
            if (progress)
                progress(m.name, p);
        });
        // Cancellation from the caller's context, progress to the callback.
        JobContext *use = progress ? &reporting : (context ? &local : nullptr);
        out.results.push_back(evaluateGeneration(model, tokenizer, records, o, use));
        auto entry = summaryJson(out.results.back());
        entry["name"] = m.name;
        entry["model"] = m.directory.string();
        entry["parameters"] = model.summary().parameterCount;
        entry["template"] = o.promptTemplate.toJson();
        out.summary["models"].push_back(entry);
        if (context && context->isCancelled())
            return out;
    }
    if (out.results.size() > 1) {
        out.summary["head_to_head"] = nlohmann::json::array();
        for (size_t i = 1; i < out.results.size(); ++i) {
            out.verdicts.push_back(verdictsOf(out.results[0], out.results[i], records, judge, context));
            std::vector<int> outcomes;
            for (const auto &v : out.verdicts.back())
                outcomes.push_back(v.preferred);
            out.outcomes.push_back(outcomes);
            HeadToHead counts;
            for (int v : outcomes)
                (v > 0 ? counts.wins : v < 0 ? counts.losses : counts.ties) += 1;
            auto h = toJson(counts);
            h["a"] = models[0].name;
            h["b"] = models[i].name;
            h["model"] = models[0].directory.string();
            h["against"] = models[i].directory.empty() ? std::string("reference") : models[i].directory.string();
            h["rougeL_f_difference"] = out.results[0].mean.rougeL.f1 - out.results[i].mean.rougeL.f1;
            const auto rate = winRate(outcomes, 2000, 0);
            h["win_rate_interval"] = {{"low", rate.rate.low}, {"high", rate.rate.high}, {"level", rate.rate.level}};
            out.summary["head_to_head"].push_back(h);
        }
    }
    return out;
}

} // namespace plad
