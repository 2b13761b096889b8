#include "plad/democonfig.h"

#include <algorithm>

namespace plad {

nlohmann::json demoRunConfig(const std::filesystem::path &demo, const std::string &method, const nlohmann::json &teacher, const DemoBudget &budget)
{
    // Chosen on the validation split: low-temperature teacher outputs, the student's greedy
    // output as the other side, and each pair ordered by ROUGE-L against the training reference
    // (a third of the student's outputs beat the teacher's at this scale); a small margin on the
    // length-normalised score with the cross-entropy of the preferred output beside it.
    return {
        {"version", 1},
        {"name", "demo " + method},
        {"method", method},
        {"seed", 1},
        {"student", {{"model", (demo / "student").string()}}},
        {"teacher", teacher},
        {"data",
         {{"file", (demo / "data" / "train.jsonl.lz4").string()},
          {"fields", {{"prompt", "prompt"}, {"response", "reference"}, {"id", "id"}, {"group", "group"}}},
          // The split the demo models were trained with: validation prompts were never trained on.
          {"split", {{"seed", 7}, {"validation", 0.02}, {"test", 0.0}}},
          {"limits", {{"max_prompt_tokens", 224}, {"max_response_tokens", 32}}}}},
        {"pairs",
         {{"prompts", budget.prompts}, {"per_prompt", 1}, {"batch_size", 64}, {"teacher", {{"temperature", 0.4}}}, {"student", {{"greedy", true}}}}},
        {"labeling", {{"policy", "judge"}, {"judge", "rouge-l"}}},
        {"loss", {{"score", "mean"}, {"beta", 0.2}, {"lambda", 1.0}, {"dpo_beta", 0.1}}},
        {"eval", {{"prompts", budget.evalPrompts}, {"samples", 4}, {"every", std::max<int64_t>(1, budget.steps / 4)}}},
        {"train",
         {{"learning_rate", 0.0001}, {"warmup_steps", 20}, {"max_steps", budget.steps}, {"batch_size", 16}, {"eval_every", 0}, {"eval_batches", 10},
          {"checkpoint_every", std::max<int64_t>(1, budget.steps / 4)}}}};
}

} // namespace plad
