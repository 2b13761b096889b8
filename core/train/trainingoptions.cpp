#include "train/trainingoptions.h"

#include "common/error.h"

#include <cmath>
#include <numbers>
#include <set>

#include <nlohmann/json.hpp>

namespace plad {

namespace {

template<typename T>
void read(const nlohmann::json &doc, const char *name, T &target, const std::string &where)
{
    if (!doc.contains(name) || doc[name].is_null())
        return;
    const auto &v = doc[name];
    bool ok = false;
    if constexpr (std::is_same_v<T, std::string>)
        ok = v.is_string();
    else if constexpr (std::is_same_v<T, double>)
        ok = v.is_number();
    else if constexpr (std::is_same_v<T, uint64_t>)
        ok = v.is_number_integer() && v.get<int64_t>() >= 0;
    else
        ok = v.is_number_integer();
    if (!ok)
        throw ConfigError(where + "." + name + ": expected " + (std::is_same_v<T, std::string> ? "a string" : "a number") + ", found "
                          + v.dump());
    target = v.get<T>();
}

} // namespace

TrainingOptions TrainingOptions::fromJson(const nlohmann::json &doc, const std::string &where)
{
    TrainingOptions o;
    if (doc.is_null())
        return o;
    if (!doc.is_object())
        throw ConfigError(where + ": expected an object");
    static const std::set<std::string> known = {"learning_rate", "weight_decay", "beta1", "beta2", "epsilon", "warmup_steps",
                                                "schedule", "min_lr_ratio", "max_steps", "batch_size", "grad_accumulation", "group_by_length",
                                                "max_grad_norm", "eval_every", "eval_batches", "checkpoint_every", "seed", "threads"};
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (!known.count(it.key()))
            throw ConfigError(where + "." + it.key() + ": unknown field");
    read(doc, "learning_rate", o.learningRate, where);
    read(doc, "weight_decay", o.weightDecay, where);
    read(doc, "beta1", o.beta1, where);
    read(doc, "beta2", o.beta2, where);
    read(doc, "epsilon", o.epsilon, where);
    read(doc, "warmup_steps", o.warmupSteps, where);
    read(doc, "schedule", o.schedule, where);
    read(doc, "min_lr_ratio", o.minLrRatio, where);
    read(doc, "max_steps", o.maxSteps, where);
    read(doc, "batch_size", o.batchSize, where);
    read(doc, "grad_accumulation", o.gradAccumulation, where);
    if (doc.contains("group_by_length")) {
        if (!doc["group_by_length"].is_boolean())
            throw ConfigError(where + ".group_by_length: expected true or false, found " + doc["group_by_length"].dump());
        o.groupByLength = doc["group_by_length"].get<bool>();
    }
    read(doc, "max_grad_norm", o.maxGradNorm, where);
    read(doc, "eval_every", o.evalEvery, where);
    read(doc, "eval_batches", o.evalBatches, where);
    read(doc, "checkpoint_every", o.checkpointEvery, where);
    read(doc, "seed", o.seed, where);
    read(doc, "threads", o.threads, where);
    o.validate(where);
    return o;
}

nlohmann::json TrainingOptions::toJson() const
{
    return {{"learning_rate", learningRate}, {"weight_decay", weightDecay}, {"beta1", beta1}, {"beta2", beta2},
            {"epsilon", epsilon}, {"warmup_steps", warmupSteps}, {"schedule", schedule}, {"min_lr_ratio", minLrRatio},
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
    if (schedule != "cosine" && schedule != "linear" && schedule != "constant")
        fail("schedule", "must be \"cosine\", \"linear\" or \"constant\", found \"" + schedule + "\"");
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
    if (o.schedule == "constant")
        return o.learningRate;
    const double span = static_cast<double>(std::max<int64_t>(1, o.maxSteps - o.warmupSteps));
    const double progress = std::min(1.0, static_cast<double>(step - o.warmupSteps) / span);
    if (o.schedule == "linear")
        return o.learningRate * (1.0 - progress);
    const double floor = o.learningRate * o.minLrRatio;
    return floor + (o.learningRate - floor) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

} // namespace plad
