#include "train/trainingoptions.h"

#include "common/configreader.h"
#include "common/error.h"

#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

namespace plad {


TrainingOptions TrainingOptions::fromJson(const nlohmann::json &doc, const std::string &where)
{
    TrainingOptions o;
    const ConfigReader r(doc, where);
    r.allowOnly({"learning_rate", "weight_decay", "beta1", "beta2", "epsilon", "warmup_steps", "schedule", "min_lr_ratio", "max_steps",
                 "batch_size", "grad_accumulation", "group_by_length", "max_grad_norm", "eval_every", "eval_batches",
                 "checkpoint_every", "seed", "threads"});
    r.read("learning_rate", o.learningRate);
    r.read("weight_decay", o.weightDecay);
    r.read("beta1", o.beta1);
    r.read("beta2", o.beta2);
    r.read("epsilon", o.epsilon);
    r.read("warmup_steps", o.warmupSteps);
    o.schedule = parseEnum<LrSchedule>(lrScheduleNames, r.get<std::string>("schedule", "cosine"), r.where("schedule"));
    r.read("min_lr_ratio", o.minLrRatio);
    r.read("max_steps", o.maxSteps);
    r.read("batch_size", o.batchSize);
    r.read("grad_accumulation", o.gradAccumulation);
    r.read("group_by_length", o.groupByLength);
    r.read("max_grad_norm", o.maxGradNorm);
    r.read("eval_every", o.evalEvery);
    r.read("eval_batches", o.evalBatches);
    r.read("checkpoint_every", o.checkpointEvery);
    r.read("seed", o.seed);
    r.read("threads", o.threads);
    o.validate(where);
    return o;
}

nlohmann::json TrainingOptions::toJson() const
{
    return {{"learning_rate", learningRate}, {"weight_decay", weightDecay}, {"beta1", beta1}, {"beta2", beta2},
            {"epsilon", epsilon}, {"warmup_steps", warmupSteps}, {"schedule", enumName<LrSchedule>(lrScheduleNames, schedule)}, {"min_lr_ratio", minLrRatio},
            {"max_steps", maxSteps}, {"batch_size", batchSize}, {"grad_accumulation", gradAccumulation}, {"group_by_length", groupByLength},
            {"max_grad_norm", maxGradNorm}, {"eval_every", evalEvery}, {"eval_batches", evalBatches},
            {"checkpoint_every", checkpointEvery}, {"seed", seed}, {"threads", threads}};
}

void TrainingOptions::validate(const std::string &where) const
{
    auto fail = [&](const char *field, const std::string &problem) { throw ConfigError(where + "." + field + ": " + problem); };
    if (!(learningRate > 0 && learningRate < 1))
        fail("learning_rate", "must be in (0, 1)");
    if (weightDecay < 0)
        fail("weight_decay", "must not be negative");
    if (!(beta1 >= 0 && beta1 < 1))
        fail("beta1", "must be in [0, 1)");
    if (!(beta2 >= 0 && beta2 < 1))
        fail("beta2", "must be in [0, 1)");
    if (!(epsilon > 0))
        fail("epsilon", "must be positive");
    if (warmupSteps < 0)
        fail("warmup_steps", "must not be negative");
    if (!(minLrRatio >= 0 && minLrRatio <= 1))
        fail("min_lr_ratio", "must be in [0, 1]");
    if (maxSteps <= 0)
        fail("max_steps", "must be positive");
    if (batchSize <= 0)
        fail("batch_size", "must be positive");
    if (gradAccumulation <= 0)
        fail("grad_accumulation", "must be positive");
    if (maxGradNorm < 0)
        fail("max_grad_norm", "must not be negative (0 turns clipping off)");
    if (evalEvery < 0)
        fail("eval_every", "must not be negative");
    if (evalBatches < 0)
        fail("eval_batches", "must not be negative");
    if (checkpointEvery < 0)
        fail("checkpoint_every", "must not be negative");
    if (threads < 0)
        fail("threads", "must not be negative");
}

double learningRateAt(const TrainingOptions &o, int64_t step)
{
    if (step < o.warmupSteps)
        return o.learningRate * static_cast<double>(step + 1) / static_cast<double>(o.warmupSteps + 1);
    if (o.schedule == LrSchedule::Constant)
        return o.learningRate;
    const double span = static_cast<double>(std::max<int64_t>(1, o.maxSteps - o.warmupSteps));
    const double progress = std::min(1.0, static_cast<double>(step - o.warmupSteps) / span);
    if (o.schedule == LrSchedule::Linear)
        return o.learningRate * (1.0 - progress);
    const double floor = o.learningRate * o.minLrRatio;
    return floor + (o.learningRate - floor) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

} // namespace plad
