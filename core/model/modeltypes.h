#pragma once

// Plain value types of the model runtime, free of Torch so the CLI and the GUI can use them.

#include "common/enumnames.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <utility>
#include <string>
#include <vector>

namespace plad {

/** s(y|x), a sequence's score under a model: its length-normalised or its summed log-likelihood. */
enum class ScoreKind { Mean, Sum };
inline constexpr EnumName<ScoreKind> scoreKindNames[] = {{ScoreKind::Mean, "mean"}, {ScoreKind::Sum, "sum"}};

/** A completion to score given its prompt, both as token ids. */
struct ScoreRequest
{
    std::vector<int64_t> promptIds;     ///< non-empty: the first completion token needs context
    std::vector<int64_t> completionIds; ///< non-empty
};

/** log p(completion | prompt) under a model, token by token. */
struct SequenceScore
{
    std::vector<double> tokenLogprobs; ///< natural-log probability of each completion token
    double sumLogprob = 0;             ///< s(y|x) summed
    double meanLogprob = 0;            ///< s(y|x) length-normalised (sum / tokens)
};

/** How the next token is chosen; Hugging Face `generate()` semantics and order. */
struct SamplingOptions
{
    bool greedy = true;              ///< argmax; the fields below apply only when false
    double temperature = 1.0;        ///< > 0
    int64_t topK = 0;                ///< 0 = off
    double topP = 1.0;               ///< (0, 1]; 1 = off
    double repetitionPenalty = 1.0;  ///< >= 1 discourages tokens already in the sequence; applies to greedy too
    uint64_t seed = 0;               ///< same seed, prompts and options => same samples, whatever the batching
};

struct GenerationOptions
{
    int64_t maxNewTokens = 32;
    SamplingOptions sampling;
    std::vector<int64_t> eosTokenIds;               ///< generation of a row stops after one of these
    std::vector<std::vector<int64_t>> stopSequences; ///< ...or after one of these token sequences
    bool useCache = true;                            ///< false recomputes the whole prefix each step (for checks and benchmarks)
    /**
     * The seed of each prompt's draws, one per prompt; empty: deriveSeed(sampling.seed, row
     * index in the call). A row's draws depend only on its seed, so outputs do not change with
     * the batch size, the bucketing or the other rows of the batch.
     */
    std::vector<uint64_t> rowSeeds;
    bool logprobs = false;        ///< also return each new token's log-probability under the model (before penalty, temperature, top-k/p)
    int64_t topLogprobs = 0;      ///< with logprobs: also the this many most likely tokens of each step, under the raw model
    /**
     * Called on the calling thread after each new token of a row (prompt index, token, the row so
     * far with its log-probs; the EOS that ends a row included). Returning false ends that row there (FinishReason::StopSequence):
     * how a caller stops on a stop string or a closed connection.
     */
    std::function<bool(size_t prompt, int64_t token, const struct GenerationResult &row)> onToken;
    int64_t batchSize = 0;        ///< rows run together, prompts bucketed by length (longest first); 0 = all in one batch
    bool dropFinishedRows = true; ///< finished rows leave the batch (changes only the speed, not the outputs)
    /**
     * Waiting prompts take the slots finished rows leave, so decode steps run on a full batch
     * (changes only the speed). false: the next prompts wait until the whole batch is done.
     * Needs the KV cache and dropFinishedRows.
     */
    bool continuousBatching = true;
    /**
     * Prompt tokens per prefill block: a batch's prompts go through the model in blocks of rows
     * of about this many tokens, each padded only to its own longest prompt, so activations
     * stay in cache (changes only the speed). 0: the whole batch at once.
     */
    int64_t prefillTokens = 1024;
};

/**
 * Where generation spent its time. Stages are wall-clock seconds on the calling thread; token
 * counts say how much work was real and how much was padding.
 */
struct GenerationProfile
{
    double prefillSeconds = 0;    ///< model forward over the prompts
    double decodeSeconds = 0;     ///< model forward over one new token per row
    double samplingSeconds = 0;   ///< logits processing, choosing tokens, log-probs, stop checks
    double compactSeconds = 0;    ///< moving the KV cache's columns to the front once old rows no longer need them
    int64_t batches = 0;          ///< groups of prompts started together (prefill calls of one or more blocks)
    int64_t rows = 0;
    int64_t cacheMoves = 0;       ///< times the KV cache moved its columns
    int64_t cacheColumns = 0;     ///< the most columns (token positions per row) the KV cache held
    int64_t promptTokens = 0;       ///< real prompt tokens run through the model
    int64_t paddedPromptTokens = 0; ///< prompt positions computed, padding included
    int64_t decodeSteps = 0;        ///< decode calls (one new token for every running row)
    int64_t decodeRowSteps = 0;     ///< rows run in decode steps, finished-but-not-yet-dropped rows included
    int64_t newTokens = 0;          ///< tokens generated (kept in the outputs)

    double seconds() const { return prefillSeconds + decodeSeconds + samplingSeconds + compactSeconds; }
    GenerationProfile &operator+=(const GenerationProfile &o)
    {
        prefillSeconds += o.prefillSeconds;
        decodeSeconds += o.decodeSeconds;
        samplingSeconds += o.samplingSeconds;
        compactSeconds += o.compactSeconds;
        batches += o.batches;
        rows += o.rows;
        cacheMoves += o.cacheMoves;
        cacheColumns = std::max(cacheColumns, o.cacheColumns);
        promptTokens += o.promptTokens;
        paddedPromptTokens += o.paddedPromptTokens;
        decodeSteps += o.decodeSteps;
        decodeRowSteps += o.decodeRowSteps;
        newTokens += o.newTokens;
        return *this;
    }
};

/** Why a row stopped. */
enum class FinishReason { Eos, StopSequence, Length, Cancelled };
std::string toString(FinishReason reason);

struct GenerationResult
{
    std::vector<int64_t> ids;  ///< new tokens only, including the EOS or stop sequence that ended the row
    FinishReason finishReason = FinishReason::Length;
    std::vector<float> logprobs; ///< with GenerationOptions::logprobs: log p(token | prefix) of each id, under the raw model
    /** With GenerationOptions::topLogprobs: per id, the most likely tokens of that step and their log-probs, best first. */
    std::vector<std::vector<std::pair<int64_t, float>>> topLogprobs;
};

/** Throws ConfigError naming the option when sampling options are out of range. */
void validate(const SamplingOptions &options);

} // namespace plad
