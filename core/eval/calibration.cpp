#include "eval/calibration.h"
#include "eval/modelcalibration.h"

#include "common/error.h"
#include "eval/rouge.h"
#include "model/sequencescorer.h"
#include "model/sampling.h"
#include "model/modelloader.h"
#include "tokenizer/tokenizer.h"

#include <cmath>

#include <torch/torch.h>

namespace plad {

PairRanking pairRankingOf(std::vector<double> margins)
{
    PairRanking out;
    if (margins.empty())
        return out;
    int64_t ranked = 0;
    for (const double margin : margins) {
        out.meanMargin += margin;
        ranked += margin > 0;
    }
    out.meanMargin /= static_cast<double>(margins.size());
    out.accuracy = static_cast<double>(ranked) / static_cast<double>(margins.size());
    out.margins = std::move(margins);
    return out;
}

PairRanking pairRanking(CausalLMImpl &model, const std::vector<RankedPair> &pairs, bool mean, int64_t batchSize)
{
    if (pairs.empty())
        return {};
    std::vector<ScoreRequest> requests;
    for (const auto &p : pairs) {
        requests.push_back({p.prompt, p.chosen});
        requests.push_back({p.prompt, p.rejected});
    }
    const bool wasTraining = model.is_training();
    model.eval();
    const auto scores = scoreSequences(model, requests, batchSize);
    if (wasTraining)
        model.train();
    std::vector<double> margins;
    for (size_t i = 0; i < pairs.size(); ++i) {
        const auto &c = scores[2 * i], &r = scores[2 * i + 1];
        margins.push_back(mean ? c.meanLogprob - r.meanLogprob : c.sumLogprob - r.sumLogprob);
    }
    return pairRankingOf(std::move(margins));
}

TokenConfidences tokenConfidences(CausalLMImpl &model, const std::vector<ScoreRequest> &references, int64_t batchSize)
{
    TokenConfidences out;
    torch::NoGradGuard noGrad;
    const bool wasTraining = model.is_training();
    model.eval();
    for (size_t start = 0; start < references.size(); start += static_cast<size_t>(batchSize)) {
        const std::vector<ScoreRequest> batch(references.begin() + static_cast<long>(start),
                                              references.begin() + static_cast<long>(std::min(references.size(), start + static_cast<size_t>(batchSize))));
        const ScoredBatch scored = scoreBatch(model, batch, true);
        const auto probabilities = torch::softmax(scored.logits, -1);     // [B, L, V]
        const auto [top, argmax] = probabilities.max(-1);                  // [B, L]
        const auto topA = top.to(torch::kFloat64).contiguous();
        const auto argA = argmax.contiguous();
        auto topAcc = topA.accessor<double, 2>();
        auto argAcc = argA.accessor<int64_t, 2>();
        for (size_t b = 0; b < batch.size(); ++b)
            for (size_t t = 0; t < batch[b].completionIds.size(); ++t) {
                out.confidence.push_back(topAcc[static_cast<int64_t>(b)][static_cast<int64_t>(t)]);
                out.correct.push_back(argAcc[static_cast<int64_t>(b)][static_cast<int64_t>(t)] == batch[b].completionIds[t]);
            }
    }
    if (wasTraining)
        model.train();
    return out;
}

CalibrationCurve tokenCalibration(CausalLMImpl &model, const std::vector<ScoreRequest> &references, int bins, int64_t batchSize)
{
    const auto t = tokenConfidences(model, references, batchSize);
    return calibrationCurve(t.confidence, t.correct, bins);
}

std::vector<SampledSequences> scoredSamples(CausalLMImpl &model, const Tokenizer &tokenizer, const std::vector<std::vector<int64_t>> &prompts,
                                            const std::vector<std::string> &references, int64_t samples, const SamplingOptions &sampling,
                                            int64_t maxNewTokens, JobContext *context, std::vector<uint64_t> promptSeeds)
{
    if (prompts.size() != references.size())
        throw Error("sequence calibration: one reference per prompt is needed");
    if (samples < 2)
        throw ConfigError("sequence calibration: at least 2 samples per prompt are needed for a rank correlation");
    // Each sample's score is the log-probs the model gave its own tokens while drawing them.
    LocalSampling draw;
    draw.sampling = sampling;
    draw.maxNewTokens = maxNewTokens;
    draw.samples = samples;
    draw.batchSize = 32;
    draw.logprobs = true;
    draw.promptSeeds = std::move(promptSeeds);
    const auto drawn = sampleLocal(model, tokenizer, prompts, draw, context);
    const RougeScorer rouge;
    std::vector<SampledSequences> out;
    for (size_t i = 0; i < drawn.size(); ++i) {
        SampledSequences p;
        for (const auto &s : drawn[i]) {
            if (s.ids.empty())
                continue;
            double total = 0;
            for (const float lp : s.logprobs)
                total += lp;
            p.meanLogprob.push_back(total / static_cast<double>(s.logprobs.size()));
            p.quality.push_back(rouge.score(references[i], s.text).rougeL.f1);
        }
        out.push_back(std::move(p));
    }
    return out;
}

SequenceCalibration summariseSamples(std::vector<SampledSequences> perPrompt, int preferenceBins)
{
    SequenceCalibration out;
    double sum = 0;
    for (const auto &p : perPrompt) {
        const double rho = spearman(p.meanLogprob, p.quality);
        if (std::isfinite(rho)) {
            sum += rho;
            ++out.prompts;
        }
    }
    out.perPrompt = std::move(perPrompt);
    out.meanSpearman = out.prompts > 0 ? sum / static_cast<double>(out.prompts) : std::nan("");
    out.preference = preferenceCalibration(out.perPrompt, preferenceBins);
    out.rerank = rerankWinRate(out.perPrompt);
    return out;
}

SequenceCalibration sequenceCalibration(CausalLMImpl &model, const Tokenizer &tokenizer, const std::vector<std::vector<int64_t>> &prompts,
                                        const std::vector<std::string> &references, int64_t samples, const SamplingOptions &sampling,
                                        int64_t maxNewTokens, JobContext *context, int preferenceBins)
{
    auto perPrompt = scoredSamples(model, tokenizer, prompts, references, samples, sampling, maxNewTokens, context);
    if (perPrompt.empty())
        return {}; // cancelled
    return summariseSamples(std::move(perPrompt), preferenceBins);
}

nlohmann::json ModelCalibration::toJson() const
{
    return {{"token_ece", finiteOrNull(tokenEce)},         {"sequence_ece", finiteOrNull(sequenceEce)},
            {"sequence_pairs", sequencePairs},             {"spearman", finiteOrNull(spearman)},
            {"rerank_win_rate", finiteOrNull(rerankWinRate)}, {"rerank_rouge_l", finiteOrNull(rerankRougeL)},
            {"sample_rouge_l", finiteOrNull(sampleRougeL)}, {"prompts", prompts}};
}

ModelCalibration calibrateModel(const std::filesystem::path &directory, const std::vector<DatasetRecord> &records,
                                const ModelCalibrationOptions &options, JobContext *context)
{
    const LoadedModel loaded = loadModel(directory);
    CausalLMImpl &model = *loaded.model;
    model.eval();
    const Tokenizer tokenizer = Tokenizer::load(directory);
    EncodingLimits limits = options.limits;
    if (limits.contextLength <= 0 || limits.contextLength > model.config().maxPositions)
        limits.contextLength = model.config().maxPositions;
    std::vector<std::vector<int64_t>> prompts;
    std::vector<std::string> references;
    std::vector<ScoreRequest> referenceRequests;
    for (const auto &r : records) {
        auto ids = encodePromptWithin(r.input(), tokenizer, options.promptTemplate, limits, options.maxNewTokens);
        auto reference = options.promptTemplate.encodeResponse(tokenizer, r.reference);
        if (static_cast<int64_t>(reference.size()) > options.maxNewTokens)
            reference.resize(static_cast<size_t>(options.maxNewTokens));
        if (!reference.empty())
            referenceRequests.push_back({ids, reference});
        prompts.push_back(std::move(ids));
        references.push_back(r.reference);
    }
    ModelCalibration out;
    out.prompts = static_cast<int64_t>(records.size());
    out.tokenEce = tokenCalibration(model, referenceRequests).ece;
    const auto seq = sequenceCalibration(model, tokenizer, prompts, references, options.samples, options.sampling, options.maxNewTokens, context,
                                         options.bins);
    out.spearman = seq.meanSpearman;
    out.sequenceEce = seq.preference.samples > 0 ? seq.preference.ece : std::nan("");
    out.sequencePairs = seq.preference.samples;
    out.rerankWinRate = seq.rerank.winRate;
    out.rerankRougeL = seq.rerank.meanQuality;
    out.sampleRougeL = seq.rerank.meanSampleQuality;
    out.perPrompt = seq.perPrompt;
    return out;
}

} // namespace plad
