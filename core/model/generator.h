#pragma once

#include "common/jobcontext.h"
#include "model/causallm.h"
#include "model/modeltypes.h"

#include <cstdint>
#include <string>
#include <vector>

namespace plad {

/**
 * Generates continuations of `prompts` (results in prompt order). Prompts run in left-padded
 * batches of `options.batchSize` (all at once when 0), bucketed longest first, with a KV cache
 * allocated once per batch, so each step runs the model on one new token per row. Rows finish
 * independently and finished rows leave the batch. Sampled rows draw from their own seed
 * (`options.rowSeeds`), so the outputs do not depend on the batching. Cancellation is polled
 * once per step; a cancelled call returns what was generated so far with
 * FinishReason::Cancelled. Progress (unit "tokens" of the budget, maxNewTokens per prompt; a
 * row that stops early uses up its rest) is reported through `context` on the calling thread; `profile`, when given, accumulates where the time went.
 */
std::vector<GenerationResult> generate(CausalLMImpl &model, const std::vector<std::vector<int64_t>> &prompts,
                                       const GenerationOptions &options, JobContext *context = nullptr,
                                       GenerationProfile *profile = nullptr);

} // namespace plad
