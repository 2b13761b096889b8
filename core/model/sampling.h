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
    std::string text;
    std::string finishReason;
    double seconds = 0;        ///< generation wall time attributed to this output (its batch's time over its rows)
};

/**
 * Samples `k` outputs for each encoded prompt (sample s uses sampling.seed + s), in prompt
 * order, stopping at the model's and the tokenizer's EOS. Cancellation is polled per generated
 * token; a cancelled call returns nothing. The model is put in eval mode for the call and
 * restored after it.
 */
std::vector<std::vector<LocalSample>> sampleLocal(CausalLMImpl &model, const Tokenizer &tokenizer,
                                                  const std::vector<std::vector<int64_t>> &prompts, const SamplingOptions &sampling,
                                                  int64_t maxNewTokens, int64_t k, JobContext *context);

} // namespace plad
