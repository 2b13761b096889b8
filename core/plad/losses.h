#pragma once

// The training objectives of PLaD and its baselines, over sequence scores and token logits.
// Shapes: B pairs (or sequences), L tokens, V vocabulary.

#include <torch/types.h>

namespace plad {

/** Batch statistics every preference loss reports (plain numbers, for logging). */
struct PairBatchStats
{
    double rankingAccuracy = 0; ///< share of pairs with s(y+) > s(y-)
    double meanMargin = 0;      ///< mean of s(y+) - s(y-)
};

PairBatchStats pairBatchStats(const torch::Tensor &positiveScores, const torch::Tensor &negativeScores);

/**
 * Weighted mean of per-pair losses: sum(w * l) / sum(w). `weights` [B] may be undefined (all
 * ones). Weights are relative importances (a user's per-pair weight); a zero-weight pair does
 * not count.
 */
torch::Tensor weightedMean(const torch::Tensor &losses, const torch::Tensor &weights);

/**
 * A loss as a ratio, numerator / denominator (both scalars): weightedMean() and
 * tokenCrossEntropy() split so that data-parallel ranks, each holding part of a batch, can sum
 * their denominators first and divide their own numerators by the batch's (the sum of their
 * losses is then the batch's loss, and of their gradients its gradient).
 */
struct LossRatio
{
    torch::Tensor numerator;   ///< scalar, with gradients
    torch::Tensor denominator; ///< scalar, without
    torch::Tensor value() const;            ///< numerator / denominator (a zero denominator counts as tiny: no signal, no division by zero)
    torch::Tensor over(const torch::Tensor &denominator) const; ///< numerator / another denominator (the batch's)
};
LossRatio weightedMeanRatio(const torch::Tensor &losses, const torch::Tensor &weights);
LossRatio tokenCrossEntropyRatio(const torch::Tensor &tokenLogprobs, const torch::Tensor &mask, const torch::Tensor &weights);

/**
 * Cross-entropy per token of target sequences, token-weighted, with each sequence's tokens
 * scaled by its weight: sum_b w_b * (-sum_l logp[b, l]) / sum_b w_b * |y_b|. `tokenLogprobs`
 * [B, L] is 0 past each sequence's end, `mask` [B, L] 1 on its tokens, `weights` [B] (undefined:
 * all ones). The SFT and SeqKD objectives, and PLaD's lambda * CE regulariser.
 */
torch::Tensor tokenCrossEntropy(const torch::Tensor &tokenLogprobs, const torch::Tensor &mask, const torch::Tensor &weights);

/**
 * PLaD ranking calibration loss (hinge), per pair [B]:
 * max(0, beta - s(y+|x) + s(y-|x)), where s is the student's sequence score [B].
 */
torch::Tensor rankingHingeLoss(const torch::Tensor &positiveScores, const torch::Tensor &negativeScores, double beta);

/** PLaD logistic variant, per pair [B]: -log sigmoid(gamma * (s(y+|x) - s(y-|x)) - beta). */
torch::Tensor rankingLogisticLoss(const torch::Tensor &positiveScores, const torch::Tensor &negativeScores, double gamma,
                                  double beta);

/**
 * DPO (sigmoid) per pair [B]: -log sigmoid(beta * ((pi(y+) - ref(y+)) - (pi(y-) - ref(y-)))),
 * with summed log-probabilities of the trained policy and of the frozen reference.
 */
torch::Tensor dpoLoss(const torch::Tensor &policyPositive, const torch::Tensor &policyNegative, const torch::Tensor &referencePositive,
                      const torch::Tensor &referenceNegative, double beta);

/**
 * Word-level knowledge distillation per sequence [B]: the mean over masked positions of
 * T^2 * KL(p_teacher || p_student) (forward) or T^2 * KL(p_student || p_teacher) (reverse),
 * both distributions softened by temperature T. Logits [B, L, V] over one shared vocabulary;
 * mask [B, L] is 1 on the positions that count. The T^2 factor keeps gradient sizes comparable
 * across temperatures (Hinton et al.).
 */
torch::Tensor tokenKlLoss(const torch::Tensor &studentLogits, const torch::Tensor &teacherLogits, const torch::Tensor &mask,
                          double temperature, bool reverse = false);

} // namespace plad
