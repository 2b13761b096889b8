#pragma once

// Shape vocabulary: B batch, L longest completion in the batch, C channels, V vocab.

#include "model/causallm.h"
#include "model/modeltypes.h"

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace plad {

/** Tensor form of a batch's scores; carries gradients when computed with grad enabled. */
struct ScoredBatch
{
    torch::Tensor tokenLogprobs; ///< [B, L] float32, 0 past each completion's end
    torch::Tensor mask;          ///< [B, L] float32, 1 on completion tokens
    torch::Tensor sum;           ///< [B] summed log-probs
    torch::Tensor mean;          ///< [B] length-normalised log-probs
    torch::Tensor logits;        ///< [B, L, V] float32 at the completion positions, only with keepLogits
};

/**
 * Scores one padded batch in a single forward pass. The output head runs only on the positions
 * that predict completion tokens, so memory is [B, L, V] rather than [B, T, V]. Gradients flow
 * when the caller has them enabled (training); wrap in torch::NoGradGuard otherwise.
 */
ScoredBatch scoreBatch(CausalLMImpl &model, const std::vector<ScoreRequest> &requests, bool keepLogits = false);

/**
 * Scores any number of requests without gradients, `batchSize` at a time (longest first, to
 * pad little). Results are in request order. Throws Error for an empty prompt or completion
 * or a sequence longer than a position-bounded model's context.
 */
std::vector<SequenceScore> scoreSequences(CausalLMImpl &model, const std::vector<ScoreRequest> &requests,
                                          int64_t batchSize = 8);

/**
 * Mean negative log-likelihood per completion token of `requests`, scored in order `batchSize`
 * at a time without gradients; with `maxBatches` > 0 only the first that many batches count
 * (the validation loss of the trainers). The caller sets the model's train/eval mode.
 */
double meanCompletionNll(CausalLMImpl &model, const std::vector<ScoreRequest> &requests, int64_t batchSize, int64_t maxBatches = 0);

} // namespace plad
