#include "eval/comparison.h"

#include "eval/statistics.h"
#include "model/languagemodel.h"
#include "tokenizer/tokenizer.h"

#include <cmath>
#include <stop_token>

#include <nlohmann/json.hpp>

namespace plad {

ModelComparison compareModels(const std::vector<NamedModel> &models, const std::vector<DatasetRecord> &records,
                              const GenerationEvalOptions &options, JobContext *context,
                              const std::function<void(const std::string &, const JobProgress &)> &progress)
{
    ModelComparison out;
    out.summary = {{"prompts", records.size()}, {"decoding", options.sampling.greedy ? "greedy" : "sampled"},
                   {"max_new_tokens", options.maxNewTokens}, {"rouge_stemming", options.stem}, {"models", nlohmann::json::array()}};
    for (const auto &m : models) {
        auto model = LanguageModel::load(m.directory);
        const Tokenizer tokenizer = Tokenizer::load(m.tokenizer.empty() ? m.directory : m.tokenizer);
        GenerationEvalOptions o = options;
        o.promptTemplate = m.promptTemplate;
        JobContext local = context ? context->silent() : JobContext();
        JobContext reporting(std::stop_token(), [&](const JobProgress &p) {
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
            auto h = toJson(compareByRougeL(out.results[0], out.results[i]));
            h["a"] = models[0].name;
            h["b"] = models[i].name;
            h["model"] = models[0].directory.string();
            h["against"] = models[i].directory.string();
            h["rougeL_f_difference"] = out.results[0].mean.rougeL.f1 - out.results[i].mean.rougeL.f1;
            std::vector<int> outcomes;
            for (size_t r = 0; r < out.results[0].outputs.size() && r < out.results[i].outputs.size(); ++r) {
                const double d = out.results[0].outputs[r].rouge.rougeL.f1 - out.results[i].outputs[r].rouge.rougeL.f1;
                outcomes.push_back(std::abs(d) <= 1e-12 ? 0 : d > 0 ? 1 : -1);
            }
            const auto rate = winRate(outcomes, 2000, 0);
            h["win_rate_interval"] = {{"low", rate.rate.low}, {"high", rate.rate.high}, {"level", rate.rate.level}};
            out.summary["head_to_head"].push_back(h);
        }
    }
    return out;
}

} // namespace plad
