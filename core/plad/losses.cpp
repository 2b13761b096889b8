#include "plad/losses.h"

#include "common/error.h"

#include <torch/torch.h>

namespace plad {
namespace {

void checkPairShapes(const torch::Tensor &a, const torch::Tensor &b, const char *what)
{
    if (!a.defined() || !b.defined() || a.dim() != 1 || a.sizes() != b.sizes())
        throw Error(std::string(what) + ": expects two score vectors [B] of the same length");
}

} // namespace

PairBatchStats pairBatchStats(const torch::Tensor &positiveScores, const torch::Tensor &negativeScores)
{
    checkPairShapes(positiveScores, negativeScores, "pair statistics");
    torch::NoGradGuard noGrad;
    const auto margin = (positiveScores - negativeScores).to(torch::kFloat64);
    return {(margin > 0).to(torch::kFloat64).mean().item<double>(), margin.mean().item<double>()};
}

torch::Tensor LossRatio::value() const
{
    return over(denominator);
}

torch::Tensor LossRatio::over(const torch::Tensor &d) const
{
    return numerator / d.clamp_min(1e-12);
}

LossRatio weightedMeanRatio(const torch::Tensor &losses, const torch::Tensor &weights)
{
    if (!weights.defined())
        return {losses.sum(), torch::full({}, static_cast<double>(losses.numel()), losses.options().requires_grad(false))};
    if (weights.sizes() != losses.sizes())
        throw Error("pair weights: expected one weight per pair");
    // All weights zero (every pair discarded): no signal, and no division by zero.
    return {(losses * weights).sum(), weights.sum()};
}

torch::Tensor weightedMean(const torch::Tensor &losses, const torch::Tensor &weights)
{
    if (!weights.defined())
        return losses.mean();
    return weightedMeanRatio(losses, weights).value();
}

LossRatio tokenCrossEntropyRatio(const torch::Tensor &tokenLogprobs, const torch::Tensor &mask, const torch::Tensor &weights)
{
    if (!tokenLogprobs.defined() || tokenLogprobs.dim() != 2 || !mask.defined() || mask.sizes() != tokenLogprobs.sizes())
        throw Error("token cross-entropy: expects log-probs and a mask of the same shape [B, L]");
    const auto w = weights.defined() ? weights : torch::ones({tokenLogprobs.size(0)}, tokenLogprobs.options());
    if (w.dim() != 1 || w.size(0) != tokenLogprobs.size(0))
        throw Error("token cross-entropy: expected one weight per sequence");
    const auto perSequence = -tokenLogprobs.sum(1); // [B]
    const auto lengths = mask.sum(1);               // [B]
    return {(perSequence * w).sum(), (lengths * w).sum().detach()};
}

torch::Tensor tokenCrossEntropy(const torch::Tensor &tokenLogprobs, const torch::Tensor &mask, const torch::Tensor &weights)
{
    return tokenCrossEntropyRatio(tokenLogprobs, mask, weights).value();
}

torch::Tensor rankingHingeLoss(const torch::Tensor &positiveScores, const torch::Tensor &negativeScores, double beta)
{
    checkPairShapes(positiveScores, negativeScores, "ranking hinge loss");
    return torch::clamp_min(beta - positiveScores + negativeScores, 0.0); // [B]
}

torch::Tensor rankingLogisticLoss(const torch::Tensor &positiveScores, const torch::Tensor &negativeScores, double gamma, double beta)
{
    checkPairShapes(positiveScores, negativeScores, "ranking logistic loss");
    return -torch::nn::functional::logsigmoid(gamma * (positiveScores - negativeScores) - beta); // [B]
}

torch::Tensor dpoLoss(const torch::Tensor &policyPositive, const torch::Tensor &policyNegative, const torch::Tensor &referencePositive,
                      const torch::Tensor &referenceNegative, double beta)
{
    checkPairShapes(policyPositive, policyNegative, "DPO loss");
    checkPairShapes(referencePositive, referenceNegative, "DPO loss (reference)");
    checkPairShapes(policyPositive, referencePositive, "DPO loss (policy vs reference)");
    const auto logits = (policyPositive - referencePositive) - (policyNegative - referenceNegative); // [B]
    return -torch::nn::functional::logsigmoid(beta * logits);
}

torch::Tensor tokenKlLoss(const torch::Tensor &studentLogits, const torch::Tensor &teacherLogits, const torch::Tensor &mask,
                          double temperature, bool reverse)
{
    if (studentLogits.dim() != 3 || studentLogits.sizes() != teacherLogits.sizes())
        throw Error("word-level KD: student and teacher logits must both be [B, L, V] with one shared vocabulary (got "
                    + std::to_string(studentLogits.size(-1)) + " and " + std::to_string(teacherLogits.size(-1)) + " entries)");
    if (temperature <= 0)
        throw ConfigError("kd.temperature: must be positive");
    const auto student = torch::log_softmax(studentLogits.to(torch::kFloat32) / temperature, -1); // [B, L, V]
    const auto teacher = torch::log_softmax(teacherLogits.to(torch::kFloat32) / temperature, -1); // [B, L, V]
    const auto &p = reverse ? student : teacher;
    const auto &q = reverse ? teacher : student;
    const auto perToken = (p.exp() * (p - q)).sum(-1) * (temperature * temperature); // [B, L]
    const auto m = mask.to(torch::kFloat32);
    return (perToken * m).sum(1) / m.sum(1).clamp_min(1.0); // [B]
}

} // namespace plad
