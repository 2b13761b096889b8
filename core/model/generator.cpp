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

/**
 * Generation over a fixed set of row slots (continuous batching). Prompts enter in the given
 * order (longest first) while slots are free; a slot's row decodes one token per step until it
 * stops, then leaves the batch, and waiting prompts take the free slots, so decode steps keep
 * running on a full batch instead of on the rows a batch has left.
 *
 * The KV cache has one row per slot and shared columns: every running row writes its step's
 * token in the same column, and a prompt entering a running batch is prefilled into the columns
 * just before it (right-aligned), so it needs a batch at least as long as itself (the longest
 * first order guarantees that). Columns before a row's first token are masked out; once no row
 * needs the oldest columns, the cache moves its columns to the front instead of growing.
 */
class SlotGeneration
{
public:
    SlotGeneration(CausalLMImpl &model, const std::vector<std::vector<int64_t>> &prompts, const std::vector<size_t> &order,
                   const std::vector<uint64_t> &seeds, const GenerationOptions &options, std::vector<GenerationResult> &results,
                   GenerationProfile &profile)
        : mModel(model)
        , mOptions(options)
        , mPrompts(prompts)
        , mOrder(order)
        , mSeeds(seeds)
        , mResults(results)
        , mProfile(profile)
    {
        const size_t N = order.size();
        const size_t slots = options.batchSize > 0 ? std::min(N, static_cast<size_t>(options.batchSize)) : N;
        mSlots.resize(slots);
        mDevice = model.parameters().front().device();
        mVocab = model.config().vocabSize;
        mPenalty = options.sampling.repetitionPenalty != 1.0;
        if (mPenalty)
            mSeen = torch::zeros({static_cast<int64_t>(slots), mVocab}, torch::TensorOptions().dtype(torch::kBool).device(mDevice)); // [slots, V]
        if (options.useCache) {
            mCache = std::make_unique<KVCache>(model.newCache());
            mCache->reserve(static_cast<int64_t>(prompts[order.front()].size()) + options.maxNewTokens); // the longest prompt comes first
        }
    }

    /**
     * Runs every prompt to its end; false when cancelled (unfinished rows, and prompts not yet
     * started, are marked Cancelled). After each step `onProgress` gets the token budget used up
     * by it: one per row still running, plus the rest of a finished row's budget.
     */
    bool run(JobContext *context, const std::function<void(int64_t)> &onProgress)
    {
        torch::Tensor logits; // [A, V], row a for slot mActive[a]
        while (true) {
            if (context && context->isCancelled()) {
                for (const size_t slot : mActive)
                    if (!mSlots[slot].finished)
                        mResults[mSlots[slot].prompt].finishReason = FinishReason::Cancelled;
                for (size_t i = mNext; i < mOrder.size(); ++i)
                    mResults[mOrder[i]].finishReason = FinishReason::Cancelled;
                return false;
            }
            if (!mActive.empty()) {
                chooseAndRecord(mActive, logits, onProgress);
                mActive = staying(mActive);
            }
            // Waiting prompts take the free slots and choose their first token from the prefill,
            // so they join this very decode step.
            while (mNext < mOrder.size() && admitting()) {
                auto start = Clock::now();
                const auto [fresh, freshLogits] = admit();
                mProfile.prefillSeconds += secondsSince(start);
                chooseAndRecord(fresh, freshLogits, onProgress);
                const auto joining = staying(fresh);
                mActive.insert(mActive.end(), joining.begin(), joining.end());
            }
            if (mActive.empty())
                return true; // no prompt waits: admitting() holds for an empty batch
            const auto start = Clock::now();
            logits = decode();
            mProfile.decodeSeconds += secondsSince(start);
            ++mProfile.decodeSteps;
            mProfile.decodeRowSteps += static_cast<int64_t>(mActive.size());
        }
    }

private:
    struct Slot
    {
        size_t prompt = 0;     // index into the prompts
        int64_t start = 0;     // cache column of the prompt's first token
        int64_t position = 0;  // position of the next token fed to the model
        int64_t generated = 0; // new tokens so far
        int64_t token = 0;     // the token to feed next (a finished row kept in the batch feeds 0)
        bool finished = false;
    };

    /**
     * Whether to start waiting prompts now: into an empty batch always; into a running one (with
     * a KV cache and continuous batching on) once an eighth of the slots is free (or as many as
     * prompts wait), so each prefill call has a few rows, and the next prompt fits before the
     * batch's columns.
     */
    bool admitting() const
    {
        if (mActive.empty())
            return true;
        if (!mOptions.useCache || !mOptions.continuousBatching || !mOptions.dropFinishedRows)
            return false;
        const size_t free = mSlots.size() - mActive.size();
        const size_t waiting = mOrder.size() - mNext;
        return free >= std::min(waiting, std::max<size_t>(1, mSlots.size() / 8))
               && static_cast<int64_t>(mPrompts[mOrder[mNext]].size()) <= mColumns;
    }

    /** Starts the next prompts in free slots; returns the slots and the logits of their last prompt position [n, V]. */
    std::pair<std::vector<size_t>, torch::Tensor> admit()
    {
        std::vector<bool> busy(mSlots.size(), false);
        for (const size_t slot : mActive)
            busy[slot] = true;
        const bool empty = mActive.empty();
        if (empty)
            mColumns = static_cast<int64_t>(mPrompts[mOrder[mNext]].size()); // a fresh batch: as long as its longest prompt
        std::vector<size_t> fresh;
        for (size_t slot = 0; slot < mSlots.size() && mNext < mOrder.size(); ++slot) {
            if (busy[slot])
                continue;
            const size_t prompt = mOrder[mNext];
            const int64_t length = static_cast<int64_t>(mPrompts[prompt].size());
            if (length > mColumns)
                break; // cannot happen in longest-first order; the prompt waits for an empty batch
            mSlots[slot] = Slot{prompt, mColumns - length, length, 0, 0, false};
            fresh.push_back(slot);
            ++mNext;
            mProfile.promptTokens += length;
        }
        mProfile.rows += static_cast<int64_t>(fresh.size());
        ++mProfile.batches;
        if (mPenalty)
            markPromptTokens(fresh);

        std::vector<torch::Tensor> logits;
        if (!mCache) {
            logits.push_back(scratchLogits(fresh));
        } else {
            // Blocks of about prefillTokens tokens, each padded only to its own longest prompt.
            for (size_t first = 0; first < fresh.size();) {
                const int64_t longest = static_cast<int64_t>(mPrompts[mSlots[fresh[first]].prompt].size()); // slots fill longest first
                size_t count = fresh.size() - first;
                if (mOptions.prefillTokens > 0)
                    count = std::min(count, static_cast<size_t>(std::max<int64_t>(1, mOptions.prefillTokens / longest)));
                const std::vector<size_t> block(fresh.begin() + static_cast<long>(first), fresh.begin() + static_cast<long>(first + count));
                auto [ids, positions, mask] = leftPadded(block, longest);
                mCache->useRows(slotTensor(block), static_cast<int64_t>(mSlots.size()), mColumns - longest, 0);
                logits.push_back(mModel.logitsFromHidden(mModel.hiddenStates(ids, positions, mask, mCache.get()).select(1, longest - 1)));
                mProfile.paddedPromptTokens += static_cast<int64_t>(count) * longest;
                first += count;
            }
        }
        return {fresh, logits.size() == 1 ? logits.front() : torch::cat(logits, 0)};
    }

    /** Ids [n, L], positions [n, L] and key mask (undefined when nothing is padded) of `block`'s prompts, left-padded to L. */
    std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> leftPadded(const std::vector<size_t> &block, int64_t L) const
    {
        const int64_t n = static_cast<int64_t>(block.size());
        auto ids = torch::zeros({n, L}, torch::kInt64);
        auto positions = torch::zeros({n, L}, torch::kInt64);
        auto mask = torch::zeros({n, L}, torch::kInt64);
        auto idsA = ids.accessor<int64_t, 2>(), posA = positions.accessor<int64_t, 2>(), maskA = mask.accessor<int64_t, 2>();
        bool padded = false;
        for (int64_t b = 0; b < n; ++b) {
            const Slot &slot = mSlots[block[static_cast<size_t>(b)]];
            std::vector<int64_t> row = mPrompts[slot.prompt];
            row.insert(row.end(), mResults[slot.prompt].ids.begin(), mResults[slot.prompt].ids.end());
            const int64_t offset = L - static_cast<int64_t>(row.size());
            padded = padded || offset > 0;
            for (size_t j = 0; j < row.size(); ++j) {
                idsA[b][offset + static_cast<int64_t>(j)] = row[j];
                posA[b][offset + static_cast<int64_t>(j)] = static_cast<int64_t>(j);
                maskA[b][offset + static_cast<int64_t>(j)] = 1;
            }
        }
        return {ids.to(mDevice), positions.to(mDevice), padded ? mask.to(mDevice) : torch::Tensor()};
    }

    torch::Tensor slotTensor(const std::vector<size_t> &slots) const
    {
        std::vector<int64_t> ids(slots.begin(), slots.end());
        return torch::tensor(ids, torch::kInt64).to(mDevice);
    }

    /** Without a KV cache: the whole prompt and output of every row in `slots` through the model; the last position's logits [n, V]. */
    torch::Tensor scratchLogits(const std::vector<size_t> &slots) const
    {
        int64_t L = 0;
        for (const size_t slot : slots)
            L = std::max<int64_t>(L, static_cast<int64_t>(mPrompts[mSlots[slot].prompt].size() + mResults[mSlots[slot].prompt].ids.size()));
        auto [ids, positions, mask] = leftPadded(slots, L);
        return mModel.logitsFromHidden(mModel.hiddenStates(ids, positions, mask, nullptr).select(1, L - 1));
    }

    /** Repetition penalty: the prompt's tokens count as seen in each fresh slot. */
    void markPromptTokens(const std::vector<size_t> &fresh)
    {
        auto seen = torch::zeros({static_cast<int64_t>(fresh.size()), mVocab}, torch::kBool);
        auto seenA = seen.accessor<bool, 2>();
        for (size_t i = 0; i < fresh.size(); ++i)
            for (const int64_t id : mPrompts[mSlots[fresh[i]].prompt])
                if (id >= 0 && id < mVocab)
                    seenA[static_cast<int64_t>(i)][id] = true;
        mSeen.index_copy_(0, slotTensor(fresh), seen.to(mDevice));
    }

    /** Chooses and records the next token of the rows in `slots` from their `logits` [n, V]. */
    void chooseAndRecord(const std::vector<size_t> &slots, const torch::Tensor &logits, const std::function<void(int64_t)> &onProgress)
    {
        if (slots.empty())
            return;
        const auto start = Clock::now();
        const auto next = chooseTokens(slots, logits);
        const int64_t used = record(slots, next);
        mProfile.samplingSeconds += secondsSince(start);
        if (onProgress)
            onProgress(used);
    }

    /** The rows of `slots` that stay in the batch: the unfinished ones (without dropping: all of them while one runs). */
    std::vector<size_t> staying(const std::vector<size_t> &slots) const
    {
        std::vector<size_t> kept;
        for (const size_t slot : slots)
            if (!mSlots[slot].finished)
                kept.push_back(slot);
        return mOptions.dropFinishedRows || kept.empty() ? kept : slots;
    }

    /** The next token of each row of `slots`, [n] int64 on the CPU (log-probs recorded on the way). */
    torch::Tensor chooseTokens(const std::vector<size_t> &slots, const torch::Tensor &logits)
    {
        auto scores = logits.to(torch::kFloat32); // [n, V]
        if (mOptions.logprobs) {
            mLogprobs = torch::log_softmax(scores, -1).to(torch::kCPU).contiguous(); // the raw model's distribution
            if (mOptions.topLogprobs > 0) {
                auto [values, indices] = mLogprobs.topk(std::min<int64_t>(mOptions.topLogprobs, mVocab), -1);
                mTopValues = values.contiguous();
                mTopIndices = indices.contiguous();
            }
        }
        if (mPenalty)
            applyRepetitionPenalty(scores, mSeen.index_select(0, slotTensor(slots)), mOptions.sampling.repetitionPenalty);
        if (mOptions.sampling.greedy)
            return scores.argmax(-1).to(torch::kCPU).contiguous();

        scores = scores / mOptions.sampling.temperature;
        applyTopKTopP(scores, mOptions.sampling.topK, mOptions.sampling.topP);
        auto probs = scores.softmax(-1).to(torch::kCPU).contiguous(); // [n, V]
        const int64_t n = probs.size(0);
        auto next = torch::zeros({n}, torch::kInt64);
        auto nextA = next.accessor<int64_t, 1>();
        const float *p = probs.data_ptr<float>();
        for (int64_t a = 0; a < n; ++a) {
            const Slot &slot = mSlots[slots[static_cast<size_t>(a)]];
            if (!slot.finished)
                nextA[a] = drawToken(p + a * mVocab, mVocab, uniformDraw(mSeeds[slot.prompt], static_cast<uint64_t>(slot.generated)));
        }
        return next;
    }

    /** Appends each row's token; returns the token budget this step used up. */
    int64_t record(const std::vector<size_t> &slots, const torch::Tensor &next)
    {
        const auto nextA = next.accessor<int64_t, 1>();
        const float *lp = mOptions.logprobs ? mLogprobs.data_ptr<float>() : nullptr;
        int64_t used = 0;
        for (int64_t a = 0; a < next.size(0); ++a) {
            Slot &slot = mSlots[slots[static_cast<size_t>(a)]];
            if (slot.finished) {
                slot.token = 0; // a finished row kept in the batch runs on with a harmless token
                continue;
            }
            auto &row = mResults[slot.prompt];
            const int64_t token = nextA[a];
            slot.token = token;
            row.ids.push_back(token);
            if (lp)
                row.logprobs.push_back(lp[a * mVocab + token]);
            if (lp && mOptions.topLogprobs > 0) {
                const int64_t k = mTopValues.size(1);
                const float *v = mTopValues.data_ptr<float>() + a * k;
                const int64_t *ix = mTopIndices.data_ptr<int64_t>() + a * k;
                std::vector<std::pair<int64_t, float>> top;
                for (int64_t j = 0; j < k; ++j)
                    top.emplace_back(ix[j], v[j]);
                row.topLogprobs.push_back(std::move(top));
            }
            ++slot.generated;
            ++mProfile.newTokens;
            ++used;
            if (std::find(mOptions.eosTokenIds.begin(), mOptions.eosTokenIds.end(), token) != mOptions.eosTokenIds.end()) {
                row.finishReason = FinishReason::Eos;
                slot.finished = true;
                if (mOptions.onToken)
                    mOptions.onToken(slot.prompt, token, row);
            } else if (mOptions.onToken && !mOptions.onToken(slot.prompt, token, row)) {
                row.finishReason = FinishReason::StopSequence;
                slot.finished = true;
            } else {
                for (const auto &stop : mOptions.stopSequences)
                    if (endsWith(row.ids, stop)) {
                        row.finishReason = FinishReason::StopSequence;
                        slot.finished = true;
                        break;
                    }
            }
            if (!slot.finished && slot.generated == mOptions.maxNewTokens) {
                row.finishReason = FinishReason::Length;
                slot.finished = true;
            }
            if (slot.finished)
                used += mOptions.maxNewTokens - slot.generated;
        }
        return used;
    }

    /** Feeds each active row's token; returns the logits of the next position [A, V]. */
    torch::Tensor decode()
    {
        const int64_t A = static_cast<int64_t>(mActive.size());
        std::vector<int64_t> positions, tokens;
        for (const size_t slot : mActive) {
            positions.push_back(mSlots[slot].position++);
            tokens.push_back(mSlots[slot].token);
        }
        auto next = torch::tensor(tokens, torch::kInt64).to(mDevice); // [A]
        if (mPenalty)
            mSeen.index_put_({slotTensor(mActive), next}, torch::tensor(true));
        if (!mCache)
            return scratchLogits(mActive);

        if (mColumns + 1 > mCache->capacity())
            moveColumns();
        std::vector<int64_t> starts;
        bool padded = false;
        for (const size_t slot : mActive) {
            starts.push_back(mSlots[slot].start);
            padded = padded || mSlots[slot].start > 0;
        }
        torch::Tensor keyMask;
        if (padded) // [A, S + 1]: each row's own columns, from its first token on
            keyMask = (torch::arange(mColumns + 1, torch::kInt64).unsqueeze(0) >= torch::tensor(starts, torch::kInt64).unsqueeze(1))
                          .to(torch::kUInt8)
                          .to(mDevice);
        mCache->useRows(slotTensor(mActive), static_cast<int64_t>(mSlots.size()), 0, mColumns);
        auto logits = mModel.forward(next.view({A, 1}), torch::tensor(positions, torch::kInt64).view({A, 1}).to(mDevice), keyMask, mCache.get())
                          .select(1, 0);
        ++mColumns;
        mProfile.cacheColumns = std::max(mProfile.cacheColumns, mCache->capacity());
        return logits;
    }

    /**
     * The cache is full: when a quarter of its columns or more precede every running row's
     * first token, those move out (one copy) instead of the cache doubling.
     */
    void moveColumns()
    {
        int64_t unused = mColumns;
        for (const size_t slot : mActive)
            unused = std::min(unused, mSlots[slot].start);
        if (unused * 4 < mCache->capacity())
            return; // the cache grows on its next append
        const auto start = Clock::now();
        mCache->dropLeadingColumns(unused);
        for (auto &slot : mSlots)
            slot.start = std::max<int64_t>(0, slot.start - unused);
        mColumns -= unused;
        ++mProfile.cacheMoves;
        mProfile.compactSeconds += secondsSince(start);
    }

    CausalLMImpl &mModel;
    const GenerationOptions &mOptions;
    const std::vector<std::vector<int64_t>> &mPrompts;
    const std::vector<size_t> &mOrder;   // prompt indices in the order they start
    const std::vector<uint64_t> &mSeeds; // by prompt index
    std::vector<GenerationResult> &mResults;
    GenerationProfile &mProfile;
    torch::Device mDevice = torch::kCPU;
    int64_t mVocab = 0;
    bool mPenalty = false;
    std::vector<Slot> mSlots;
    std::vector<size_t> mActive; // slots in the decode batch, in row order
    size_t mNext = 0;            // next prompt of mOrder to start
    int64_t mColumns = 0;        // cache columns in use (the running rows' shared length)
    torch::Tensor mSeen;         // [slots, V] tokens in each slot's row so far (repetition penalty)
    torch::Tensor mLogprobs;     // [A, V] of the current step
    torch::Tensor mTopValues, mTopIndices; // [A, topLogprobs] of the current step
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
    SlotGeneration(model, prompts, order, seeds, options, results, p).run(context, reportTokens);
    return results;
}

} // namespace plad
