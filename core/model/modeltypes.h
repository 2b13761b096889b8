#pragma once

// Plain value types of the model runtime, free of Torch so the CLI and the GUI can use them.

#include "common/enumnames.h"

#include <cstdint>
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
    uint64_t seed = 0;               ///< same seed, prompts and options => same samples
};

struct GenerationOptions
{
    int64_t maxNewTokens = 32;
    SamplingOptions sampling;
    std::vector<int64_t> eosTokenIds;               ///< generation of a row stops after one of these
    std::vector<std::vector<int64_t>> stopSequences; ///< ...or after one of these token sequences
    bool useCache = true;                            ///< false recomputes the whole prefix each step (for checks and benchmarks)
};

/** Why a row stopped. */
enum class FinishReason { Eos, StopSequence, Length, Cancelled };
std::string toString(FinishReason reason);

struct GenerationResult
{
    std::vector<int64_t> ids;  ///< new tokens only, including the EOS or stop sequence that ended the row
    FinishReason finishReason = FinishReason::Length;
};

/** Throws ConfigError naming the option when sampling options are out of range. */
void validate(const SamplingOptions &options);

} // namespace plad
