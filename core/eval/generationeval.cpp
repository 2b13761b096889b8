#include "eval/generationeval.h"

#include "common/error.h"
#include "common/ordering.h"
#include "common/text.h"
#include "model/languagemodel.h"
#include "model/stoptokens.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

namespace plad {
namespace {

void addInto(RougeScore &sum, const RougeScore &value)
{
    sum.precision += value.precision;
    sum.recall += value.recall;
    sum.f1 += value.f1;
}

void divide(RougeScore &sum, double count)
{
    sum.precision /= count;
    sum.recall /= count;
    sum.f1 /= count;
}

/** Moves the finished outputs into `result` in record order and fills its averages. */
void collect(GenerationEvalResult &result, std::vector<std::optional<EvaluatedOutput>> &outputs)
{
    double tokens = 0, words = 0;
    for (auto &out : outputs) {
        if (!out)
            continue;
        addInto(result.mean.rouge1, out->rouge.rouge1);
        addInto(result.mean.rouge2, out->rouge.rouge2);
        addInto(result.mean.rougeL, out->rouge.rougeL);
        tokens += static_cast<double>(out->tokens);
        words += static_cast<double>(wordCount(out->prediction));
        result.endedWithoutEos += out->finishReason == FinishReason::Length ? 1 : 0;
        result.outputs.push_back(std::move(*out));
    }
    if (!result.outputs.empty()) {
        const auto n = static_cast<double>(result.outputs.size());
        divide(result.mean.rouge1, n);
        divide(result.mean.rouge2, n);
        divide(result.mean.rougeL, n);
        result.meanTokens = tokens / n;
        result.meanWords = words / n;
    }
}

} // namespace

GenerationEvalResult evaluateGeneration(LanguageModel &model, const Tokenizer &tokenizer, const std::vector<DatasetRecord> &records,
                                        const GenerationEvalOptions &options, JobContext *context)
{
    if (records.empty())
        throw Error("evaluation: no records to evaluate");
    if (options.maxNewTokens <= 0)
        throw ConfigError("max_new_tokens: must be positive");
    if (options.batchSize <= 0)
        throw ConfigError("batch_size: must be positive");
    validate(options.sampling);
    options.promptTemplate.validate();

    const auto start = std::chrono::steady_clock::now();
    EncodingLimits limits = options.limits;
    const int64_t context_length = model.config().maxPositions;
    if (limits.contextLength <= 0 || limits.contextLength > context_length)
        limits.contextLength = context_length;
    if (options.maxNewTokens >= limits.contextLength)
        throw ConfigError("max_new_tokens: " + std::to_string(options.maxNewTokens) + " leaves no room for the prompt in the model's "
                          + std::to_string(limits.contextLength) + "-token context");

    GenerationEvalResult result;
    std::vector<std::vector<int64_t>> prompts(records.size());
    std::vector<bool> truncated(records.size(), false);
    for (size_t i = 0; i < records.size(); ++i) {
        bool cut = false;
        prompts[i] = encodePromptWithin(records[i].input(), tokenizer, options.promptTemplate, limits, options.maxNewTokens, &cut);
        truncated[i] = cut;
        result.truncatedPrompts += cut ? 1 : 0;
    }

    // Longest prompts first: similar lengths share a batch (less padding) and the ETA is conservative.
    const auto order = longestFirst(records.size(), [&](size_t i) { return prompts[i].size(); });

    GenerationOptions generation;
    generation.maxNewTokens = options.maxNewTokens;
    generation.sampling = options.sampling;
    generation.eosTokenIds = stopTokenIds(model.config(), tokenizer); // as the teachers and plad serve stop
    generation.batchSize = options.batchSize;
    // Four batches per call: finished rows' slots go to waiting prompts (continuous batching).
    const auto chunk = 4 * static_cast<size_t>(options.batchSize);

    const RougeScorer scorer(options.stem);
    std::vector<std::optional<EvaluatedOutput>> outputs(records.size());
    int64_t done = 0;
    for (size_t begin = 0; begin < order.size(); begin += chunk) {
        if (context && context->isCancelled()) {
            result.cancelled = true;
            break;
        }
        const size_t end = std::min(order.size(), begin + chunk);
        std::vector<std::vector<int64_t>> batch;
        for (size_t k = begin; k < end; ++k)
            batch.push_back(prompts[order[k]]);
        const auto generated = model.generate(batch, generation);
        for (size_t k = begin; k < end; ++k) {
            const size_t index = order[k];
            const auto &row = generated[k - begin];
            EvaluatedOutput out;
            out.id = records[index].id;
            out.tokens = static_cast<int64_t>(row.ids.size());
            out.finishReason = row.finishReason;
            out.promptTruncated = truncated[index];
            std::vector<int64_t> text_ids = row.ids;
            if (row.finishReason == FinishReason::Eos && !text_ids.empty())
                text_ids.pop_back();
            out.prediction = trimmed(tokenizer.decode(text_ids, true));
            out.rouge = scorer.score(records[index].reference, out.prediction);
            outputs[index] = std::move(out);
        }
        done += static_cast<int64_t>(end - begin);
        if (context) {
            const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
            const auto total = static_cast<int64_t>(records.size());
            context->report({"evaluate", done, total, "prompts", rate, rate > 0 ? static_cast<double>(total - done) / rate : -1},
                            done == total);
        }
    }

    collect(result, outputs);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

GenerationEvalResult referenceOutputs(const std::vector<DatasetRecord> &records, const Tokenizer &tokenizer, bool stem)
{
    const RougeScorer scorer(stem);
    std::vector<std::optional<EvaluatedOutput>> outputs;
    for (const auto &record : records) {
        EvaluatedOutput out;
        out.id = record.id;
        out.prediction = trimmed(record.reference);
        out.tokens = static_cast<int64_t>(tokenizer.encode(out.prediction, false).size()) + 1; // as if ended by an EOS
        out.finishReason = FinishReason::Eos;
        out.rouge = scorer.score(record.reference, out.prediction);
        outputs.push_back(std::move(out));
    }
    GenerationEvalResult result;
    collect(result, outputs);
    return result;
}

double HeadToHead::winRate() const
{
    const int64_t decided = wins + losses;
    return decided > 0 ? static_cast<double>(wins) / static_cast<double>(decided) : 0.5; // nothing decided: even
}

HeadToHead compareByRougeL(const GenerationEvalResult &a, const GenerationEvalResult &b, double tieTolerance)
{
    std::map<std::string, double> other;
    for (const auto &out : b.outputs)
        other[out.id] = out.rouge.rougeL.f1;
    if (other.size() != a.outputs.size())
        throw Error("head-to-head: the two evaluations cover " + std::to_string(a.outputs.size()) + " and " + std::to_string(other.size())
                    + " prompts");
    HeadToHead h;
    for (const auto &out : a.outputs) {
        const auto it = other.find(out.id);
        if (it == other.end())
            throw Error("head-to-head: prompt \"" + out.id + "\" was evaluated by only one system");
        const double diff = out.rouge.rougeL.f1 - it->second;
        if (diff > tieTolerance)
            ++h.wins;
        else if (diff < -tieTolerance)
            ++h.losses;
        else
            ++h.ties;
    }
    return h;
}

nlohmann::json toJson(const RougeScores &scores)
{
    auto one = [](const RougeScore &s) { return nlohmann::json{{"p", s.precision}, {"r", s.recall}, {"f", s.f1}}; };
    return {{"rouge1", one(scores.rouge1)}, {"rouge2", one(scores.rouge2)}, {"rougeL", one(scores.rougeL)}};
}

namespace {

/** Output lengths in tokens (EOS included): percentiles and a histogram. */
nlohmann::json lengthDistribution(const GenerationEvalResult &result)
{
    std::vector<int64_t> lengths;
    for (const auto &o : result.outputs)
        lengths.push_back(o.tokens);
    std::sort(lengths.begin(), lengths.end());
    // Nearest-rank percentiles; a histogram of 4-token-wide bins from 0 to the longest output.
    auto percentile = [&](double p) {
        if (lengths.empty())
            return int64_t{0};
        const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(lengths.size())));
        return lengths[std::clamp<size_t>(rank, 1, lengths.size()) - 1];
    };
    constexpr int64_t binWidth = 4;
    std::vector<int64_t> counts(lengths.empty() ? 0 : static_cast<size_t>(lengths.back() / binWidth + 1), 0);
    for (int64_t n : lengths)
        ++counts[static_cast<size_t>(n / binWidth)];
    return {{"min", lengths.empty() ? 0 : lengths.front()},
            {"p10", percentile(10)},
            {"median", percentile(50)},
            {"p90", percentile(90)},
            {"max", lengths.empty() ? 0 : lengths.back()},
            {"histogram", {{"bin_width", binWidth}, {"counts", counts}}}};
}

} // namespace

nlohmann::json summaryJson(const GenerationEvalResult &result)
{
    return {{"prompts", result.outputs.size()},     {"rouge", toJson(result.mean)},
            {"mean_tokens", result.meanTokens},     {"mean_words", result.meanWords},
            {"token_lengths", lengthDistribution(result)},
            {"truncated_prompts", result.truncatedPrompts}, {"ended_without_eos", result.endedWithoutEos},
            {"seconds", result.seconds},            {"cancelled", result.cancelled}};
}

nlohmann::json toJson(const HeadToHead &result)
{
    return {{"wins", result.wins}, {"losses", result.losses}, {"ties", result.ties}, {"win_rate", result.winRate()}};
}

} // namespace plad
