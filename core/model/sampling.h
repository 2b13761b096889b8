#pragma once

// Sampling k outputs per prompt from a local model, as text: what pair generation, the
// calibration diagnostics and local teachers draw from a model.

#include "common/jobcontext.h"
#include "model/causallm.h"
#include "model/modeltypes.h"

#include <cstdint>
#include <string>
#include <vector>

namespace plad {

class Tokenizer;

/** One output of a local model: token ids (with the EOS that ended it) and the text without it. */
struct LocalSample
{
    std::vector<int64_t> ids;
    std::vector<float> logprobs; ///< the model's own log-prob of each id, with LocalSampling::logprobs
    std::string text;
    std::string finishReason;
    double seconds = 0;        ///< generation wall time attributed to this output (the call's time over its outputs)
};

/** What to draw: k outputs per prompt, each from its own seed. */
struct LocalSampling
{
    SamplingOptions sampling;
    int64_t maxNewTokens = 32;
    int64_t samples = 1;        ///< k outputs per prompt
    int64_t batchSize = 0;      ///< rows generated together (0: all at once)
    bool logprobs = false;      ///< record the model's log-prob of every token it chose
    /** One per prompt; sample s of prompt i uses deriveSeed(promptSeeds[i], s). Empty: deriveSeed(sampling.seed, i). */
    std::vector<uint64_t> promptSeeds;
};

/**
 * Samples `options.samples` outputs for each encoded prompt, in prompt order, stopping at the
 * model's and the tokenizer's EOS. Greedy decoding generates each prompt once and repeats it.
 * Outputs depend only on each prompt, its seed and the settings, never on the batching.
 * Cancellation is polled per generated token; a cancelled call returns nothing. The model is
 * put in eval mode for the call and restored after it.
 */
std::vector<std::vector<LocalSample>> sampleLocal(CausalLMImpl &model, const Tokenizer &tokenizer,
                                                  const std::vector<std::vector<int64_t>> &prompts, const LocalSampling &options,
                                                  JobContext *context, GenerationProfile *profile = nullptr);

} // namespace plad
