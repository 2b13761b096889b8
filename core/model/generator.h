#pragma once

#include "common/jobcontext.h"
#include "model/causallm.h"
#include "model/modeltypes.h"

#include <cstdint>
#include <string>
#include <vector>

namespace plad {

/**
 * Generates continuations of `prompts` as one left-padded batch with a KV cache, so each step
 * runs the model on one new token per row. Rows finish independently; the batch ends when all
 * are done or `maxNewTokens` is reached. Cancellation is polled once per step; a cancelled call
 * returns what was generated so far with FinishReason::Cancelled. Progress (unit "tokens") is
 * reported through `context` on the calling thread.
 */
std::vector<GenerationResult> generate(CausalLMImpl &model, const std::vector<std::vector<int64_t>> &prompts,
                                       const GenerationOptions &options, JobContext *context = nullptr);

} // namespace plad
