#include "model/generator.h"

#include "common/error.h"
#include "common/ordering.h"
#include "common/seeds.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <numeric>

#include <torch/torch.h>

namespace plad {

std::string toString(FinishReason reason)
{
    switch (reason) {
    case FinishReason::Eos: return "eos";
    case FinishReason::StopSequence: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    }
    return "?";
}

void validate(const SamplingOptions &o)
{
    if (o.repetitionPenalty <= 0)
        throw ConfigError("repetition_penalty: must be positive, found " + std::to_string(o.repetitionPenalty));
    if (o.greedy)
        return;
    if (!(o.temperature > 0))
        throw ConfigError("temperature: must be positive, found " + std::to_string(o.temperature) + " (use greedy decoding instead of 0)");
    if (o.topK < 0)
        throw ConfigError("top_k: must be 0 (off) or positive, found " + std::to_string(o.topK));
    if (!(o.topP > 0 && o.topP <= 1))
        throw ConfigError("top_p: must be in (0, 1], found " + std::to_string(o.topP));
}

namespace {

constexpr float kRemoved = -std::numeric_limits<float>::infinity();

// Hugging Face RepetitionPenaltyLogitsProcessor: for every token already in the row, divide a
// positive logit by the penalty and multiply a negative one. `seen` [B, V] marks those tokens.
void applyRepetitionPenalty(torch::Tensor &logits, const torch::Tensor &seen, double penalty)
{
    auto penalised = torch::where(logits < 0, logits * penalty, logits / penalty);
    logits = torch::where(seen, penalised, logits);
}

// TopKLogitsWarper then TopPLogitsWarper, as Hugging Face orders them after temperature.
void applyTopKTopP(torch::Tensor &logits, int64_t topK, double topP)
{
    const int64_t V = logits.size(-1);
    if (topK > 0 && topK < V) {
        auto kth = std::get<0>(logits.topk(topK, -1)).narrow(-1, topK - 1, 1); // [B, 1]
        logits = logits.masked_fill(logits < kth, kRemoved);
    }
    if (topP < 1.0) {
        auto [sorted, indices] = logits.sort(-1, /*descending=*/false);   // ascending, [B, V]
        auto cumulative = sorted.softmax(-1).cumsum(-1);
        auto removeSorted = cumulative <= (1.0 - topP);
        removeSorted.narrow(-1, V - 1, 1).fill_(false); // always keep the most likely token
        auto remove = removeSorted.scatter(-1, indices, removeSorted);
        logits = logits.masked_fill(remove, kRemoved);
    }
}

bool endsWith(const std::vector<int64_t> &ids, const std::vector<int64_t> &suffix)
{
    return !suffix.empty() && ids.size() >= suffix.size() && std::equal(suffix.rbegin(), suffix.rend(), ids.rbegin());
}

} // namespace

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/**
 * Draws one token per row from `probs` [A, V] (float32 on the CPU) by inverting its cumulative
 * distribution at the row's own uniform number, so a row's choice depends on its probabilities
 * and its seed only.
 */
int64_t drawToken(const float *probs, int64_t V, double u)
{
    double cumulative = 0;
    int64_t last = -1;
    for (int64_t v = 0; v < V; ++v) {
        if (probs[v] <= 0)
            continue;
        cumulative += probs[v];
        last = v;
        if (u < cumulative)
            return v;
    }
    return last < 0 ? 0 : last; // rounding left the total just under u: the last possible token
}

/** One batch: `rows` indexes `prompts`; results go to the same indices of `results`. */
class BatchGeneration
{
public:
    BatchGeneration(CausalLMImpl &model, const std::vector<std::vector<int64_t>> &prompts, const std::vector<size_t> &rows,
                    const std::vector<uint64_t> &seeds, const GenerationOptions &options, std::vector<GenerationResult> &results,
                    GenerationProfile &profile)
        : mModel(model)
        , mOptions(options)
        , mRows(rows)
        , mSeeds(seeds)
        , mResults(results)
        , mProfile(profile)
    {
        const int64_t B = static_cast<int64_t>(rows.size());
        mDevice = model.parameters().front().device();
        mVocab = model.config().vocabSize;
        mPenalty = options.sampling.repetitionPenalty != 1.0;
        int64_t P = 0;
        for (size_t r : rows)
            P = std::max<int64_t>(P, static_cast<int64_t>(prompts[r].size()));

        // Left padding keeps every row's newest token in the last column.
        auto ids = torch::zeros({B, P}, torch::kInt64);  // [B, P]
        mMask = torch::zeros({B, P}, torch::kInt64);     // [B, P] 1 = real token
        if (mPenalty)
            mSeen = torch::zeros({B, mVocab}, torch::kBool); // [B, V] tokens in each row so far
        auto idsA = ids.accessor<int64_t, 2>();
        auto maskA = mMask.accessor<int64_t, 2>();
        for (int64_t b = 0; b < B; ++b) {
            const auto &prompt = prompts[rows[static_cast<size_t>(b)]];
            const int64_t offset = P - static_cast<int64_t>(prompt.size());
            for (size_t j = 0; j < prompt.size(); ++j) {
                idsA[b][offset + static_cast<int64_t>(j)] = prompt[j];
                maskA[b][offset + static_cast<int64_t>(j)] = 1;
            }
            if (mPenalty) {
                auto seenA = mSeen.accessor<bool, 2>();
                for (const int64_t id : prompt)
                    if (id >= 0 && id < mVocab)
                        seenA[b][id] = true;
            }
            mProfile.promptTokens += static_cast<int64_t>(prompt.size());
            mLengths.push_back(static_cast<int64_t>(prompt.size()));
        }
        mProfile.rows += B;
        ++mProfile.batches;
        mIds = ids.to(mDevice);
        mMask = mMask.to(mDevice);
        if (mPenalty)
            mSeen = mSeen.to(mDevice);
        mPadded = (mMask == 0).any().item<bool>();
        mPositions = (mMask.cumsum(1) - 1).clamp_min(0); // [B, P]
        mActive.resize(rows.size());
        std::iota(mActive.begin(), mActive.end(), size_t{0});
        mFinished.assign(rows.size(), false);
        mCache = std::make_unique<KVCache>(model.newCache());
        mCache->reserve(P + options.maxNewTokens);
    }

    /**
     * Runs the batch to its end; false when cancelled (unfinished rows are marked Cancelled).
     * After each step `onProgress` gets the token budget used up by it: one per row still
     * running, plus the rest of a finished row's budget.
     */
    bool run(JobContext *context, const std::function<void(int64_t)> &onProgress)
    {
        auto start = Clock::now();
        auto logits = prefill(); // [B, V]
        mProfile.prefillSeconds += secondsSince(start);

        int64_t remaining = static_cast<int64_t>(mRows.size());
        for (int64_t step = 0; step < mOptions.maxNewTokens; ++step) {
            if (context && context->isCancelled()) {
                for (size_t i = 0; i < mRows.size(); ++i)
                    if (!mFinished[i])
                        mResults[mRows[i]].finishReason = FinishReason::Cancelled;
                return false;
            }
            start = Clock::now();
            auto next = chooseTokens(logits, step); // [A] on the CPU
            const int64_t running = remaining;
            const int64_t finishedNow = record(next, remaining);
            mProfile.samplingSeconds += secondsSince(start);
            if (onProgress)
                onProgress(running + finishedNow * (mOptions.maxNewTokens - step - 1));
            if (remaining == 0 || step + 1 == mOptions.maxNewTokens)
                return true;

            if (mOptions.dropFinishedRows && 4 * remaining <= 3 * static_cast<int64_t>(mActive.size())) {
                start = Clock::now();
                next = compact(next);
                mProfile.compactSeconds += secondsSince(start);
            }

            start = Clock::now();
            logits = advance(next);
            mProfile.decodeSeconds += secondsSince(start);
            mProfile.decodeRowSteps += static_cast<int64_t>(mActive.size());
        }
        return true;
    }

private:
    /**
     * The prompts through the model in blocks of rows of about `prefillTokens` tokens, each
     * padded only to its own longest prompt (rows come longest first), so a block's
     * activations stay in cache and a wide batch pads little; decoding then runs on all rows at
     * once. Returns the logits of each row's last position [B, V].
     */
    torch::Tensor prefill()
    {
        const int64_t B = mIds.size(0), P = mIds.size(1);
        if (!mOptions.useCache || mOptions.prefillTokens <= 0 || B * P <= mOptions.prefillTokens) {
            mProfile.paddedPromptTokens += B * P;
            return mModel.logitsFromHidden(
                mModel.hiddenStates(mIds, mPositions, mPadded ? mMask : torch::Tensor(), mOptions.useCache ? mCache.get() : nullptr)
                    .select(1, P - 1));
        }
        std::vector<torch::Tensor> logits;
        for (int64_t first = 0; first < B;) {
            const int64_t longest = mLengths[static_cast<size_t>(first)]; // rows come longest first
            const int64_t count = std::min(B - first, std::max<int64_t>(1, mOptions.prefillTokens / longest));
            const int64_t offset = P - longest;
            mCache->beginRows(first, count, B, offset);
            auto mask = mMask.narrow(0, first, count).narrow(1, offset, longest);
            const bool padded = mLengths[static_cast<size_t>(first + count - 1)] < longest;
            logits.push_back(mModel.logitsFromHidden(mModel.hiddenStates(mIds.narrow(0, first, count).narrow(1, offset, longest),
                                                                         mPositions.narrow(0, first, count).narrow(1, offset, longest),
                                                                         padded ? mask : torch::Tensor(), mCache.get())
                                                         .select(1, longest - 1)));
            mProfile.paddedPromptTokens += count * longest;
            first += count;
        }
        mCache->endRows(P);
        return torch::cat(logits, 0);
    }

    /** The next token of every active row, [A] int64 on the CPU (log-probs recorded on the way). */
    torch::Tensor chooseTokens(const torch::Tensor &logits, int64_t step)
    {
        auto scores = logits.to(torch::kFloat32); // [A, V]
        if (mOptions.logprobs)
            mLogprobs = torch::log_softmax(scores, -1).to(torch::kCPU); // the raw model's distribution
        if (mPenalty)
            applyRepetitionPenalty(scores, mSeen, mOptions.sampling.repetitionPenalty);
        if (mOptions.sampling.greedy)
            return scores.argmax(-1).to(torch::kCPU);

        scores = scores / mOptions.sampling.temperature;
        applyTopKTopP(scores, mOptions.sampling.topK, mOptions.sampling.topP);
        auto probs = scores.softmax(-1).to(torch::kCPU).contiguous(); // [A, V]
        const int64_t A = probs.size(0);
        auto next = torch::zeros({A}, torch::kInt64);
        auto nextA = next.accessor<int64_t, 1>();
        const float *p = probs.data_ptr<float>();
        for (int64_t a = 0; a < A; ++a) {
            const size_t local = mActive[static_cast<size_t>(a)];
            if (!mFinished[local])
                nextA[a] = drawToken(p + a * mVocab, mVocab, uniformDraw(mSeeds[mRows[local]], static_cast<uint64_t>(step)));
        }
        return next;
    }

    /** Appends each active row's token; returns how many rows finished with it. */
    int64_t record(torch::Tensor &next, int64_t &remaining)
    {
        auto nextA = next.accessor<int64_t, 1>();
        const float *lp = mOptions.logprobs ? mLogprobs.data_ptr<float>() : nullptr;
        int64_t finishedNow = 0;
        for (int64_t a = 0; a < next.size(0); ++a) {
            const size_t local = mActive[static_cast<size_t>(a)];
            if (mFinished[local]) {
                nextA[a] = 0; // a finished row not yet dropped runs on with a harmless token
                continue;
            }
            auto &row = mResults[mRows[local]];
            const int64_t token = nextA[a];
            row.ids.push_back(token);
            if (lp)
                row.logprobs.push_back(lp[a * mVocab + token]);
            ++mProfile.newTokens;
            bool done = false;
            if (std::find(mOptions.eosTokenIds.begin(), mOptions.eosTokenIds.end(), token) != mOptions.eosTokenIds.end()) {
                row.finishReason = FinishReason::Eos;
                done = true;
            } else {
                for (const auto &stop : mOptions.stopSequences)
                    if (endsWith(row.ids, stop)) {
                        row.finishReason = FinishReason::StopSequence;
                        done = true;
                        break;
                    }
            }
            if (done) {
                mFinished[local] = true;
                --remaining;
                ++finishedNow;
            }
        }
        return finishedNow;
    }

    /** Drops finished rows from every per-row tensor and the cache; returns `next` for the rows kept. */
    torch::Tensor compact(const torch::Tensor &next)
    {
        std::vector<int64_t> keep;
        std::vector<size_t> active;
        for (size_t a = 0; a < mActive.size(); ++a)
            if (!mFinished[mActive[a]]) {
                keep.push_back(static_cast<int64_t>(a));
                active.push_back(mActive[a]);
            }
        auto keepCpu = torch::tensor(keep, torch::kInt64);
        auto rows = keepCpu.to(mDevice);
        mActive = std::move(active);
        mMask = mMask.index_select(0, rows);
        mPositions = mPositions.index_select(0, rows);
        if (mPenalty)
            mSeen = mSeen.index_select(0, rows);
        if (mOptions.useCache)
            mCache->keepRows(rows);
        else
            mIds = mIds.index_select(0, rows);
        mPadded = (mMask == 0).any().item<bool>();
        return next.index_select(0, keepCpu);
    }

    /** Feeds each active row's new token; returns the logits of the next position [A, V]. */
    torch::Tensor advance(const torch::Tensor &nextCpu)
    {
        auto next = nextCpu.to(mDevice).unsqueeze(1); // [A, 1]
        const int64_t A = next.size(0);
        if (mPenalty)
            mSeen.scatter_(1, next, true);
        mMask = torch::cat({mMask, torch::ones({A, 1}, mMask.options())}, 1); // [A, S]
        auto nextPositions = mPositions.select(1, mPositions.size(1) - 1).unsqueeze(1) + 1; // [A, 1]
        mPositions = torch::cat({mPositions, nextPositions}, 1);
        const auto keyMask = mPadded ? mMask : torch::Tensor();
        if (mOptions.useCache)
            return mModel.forward(next, nextPositions, keyMask, mCache.get()).select(1, 0);
        mIds = torch::cat({mIds, next}, 1);
        auto hidden = mModel.hiddenStates(mIds, mPositions, keyMask, nullptr);
        return mModel.logitsFromHidden(hidden.select(1, hidden.size(1) - 1)); // only the last position's logits
    }

    CausalLMImpl &mModel;
    const GenerationOptions &mOptions;
    const std::vector<size_t> &mRows;    // local row -> prompt index
    const std::vector<uint64_t> &mSeeds; // by prompt index
    std::vector<GenerationResult> &mResults;
    GenerationProfile &mProfile;
    torch::Device mDevice = torch::kCPU;
    int64_t mVocab = 0;
    bool mPenalty = false;
    bool mPadded = false;
    torch::Tensor mIds, mMask, mPositions, mSeen, mLogprobs;
    std::vector<size_t> mActive; // tensor row -> local row
    std::vector<bool> mFinished; // by local row
    std::vector<int64_t> mLengths; // prompt length by local row (longest first)
    std::unique_ptr<KVCache> mCache;
};

} // namespace

std::vector<GenerationResult> generate(CausalLMImpl &model, const std::vector<std::vector<int64_t>> &prompts,
                                       const GenerationOptions &options, JobContext *context, GenerationProfile *profile)
{
    validate(options.sampling);
    if (options.maxNewTokens < 0)
        throw ConfigError("max new tokens must not be negative");
    if (options.batchSize < 0)
        throw ConfigError("generation batch size must not be negative");
    if (!options.rowSeeds.empty() && options.rowSeeds.size() != prompts.size())
        throw Error("generation: " + std::to_string(options.rowSeeds.size()) + " row seeds for " + std::to_string(prompts.size()) + " prompts");
    const size_t N = prompts.size();
    std::vector<GenerationResult> results(N);
    if (N == 0 || options.maxNewTokens == 0)
        return results;
    for (size_t i = 0; i < N; ++i)
        if (prompts[i].empty())
            throw Error("prompt " + std::to_string(i) + " is empty; generation needs at least one token (e.g. BOS)");

    std::vector<uint64_t> seeds = options.rowSeeds;
    if (seeds.empty())
        for (size_t i = 0; i < N; ++i)
            seeds.push_back(deriveSeed(options.sampling.seed, static_cast<uint64_t>(i)));

    // Buckets: longest prompts first, so rows of a batch (and of its prefill blocks) need little padding.
    const auto order = longestFirst(N, [&](size_t i) { return prompts[i].size(); });
    const size_t batchSize = options.batchSize > 0 ? static_cast<size_t>(options.batchSize) : N;

    c10::InferenceMode inference;
    GenerationProfile local;
    GenerationProfile &p = profile ? *profile : local;
    const auto start = Clock::now();
    const int64_t total = static_cast<int64_t>(N) * options.maxNewTokens; // the token budget
    int64_t done = 0;
    auto reportTokens = [&](int64_t used) {
        done += used;
        if (!context)
            return;
        const double elapsed = secondsSince(start);
        const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
        context->report({"generate", done, total, "tokens", rate, rate > 0 ? static_cast<double>(total - done) / rate : -1.0},
                        done == total);
    };
    for (size_t first = 0; first < N; first += batchSize) {
        const std::vector<size_t> rows(order.begin() + static_cast<long>(first), order.begin() + static_cast<long>(std::min(N, first + batchSize)));
        BatchGeneration batch(model, prompts, rows, seeds, options, results, p);
        if (!batch.run(context, reportTokens)) {
            for (size_t i = first + rows.size(); i < N; ++i)
                results[order[i]].finishReason = FinishReason::Cancelled;
            break;
        }
    }
    return results;
}

} // namespace plad
