#include "plad/democonfig.h"

#include <algorithm>

namespace plad {

nlohmann::json demoRunConfig(const std::filesystem::path &demo, const std::string &method, const nlohmann::json &teacher, const DemoBudget &budget,
                             const std::string &policy)
{
    // Chosen on the validation split (docs/demo-study.md, tools/demo-selection.sh): k = 4
    // teacher samples at T = 0.7, so that consensus can find their medoid, against k = 4
    // student samples at T = 0.8, with consensus also ranking the student's own samples by their
    // agreement with the teacher's (with the shipped teacher this beat the student's greedy
    // output and sampled students without those pairs); a small margin on the length-normalised
    // score with the cross-entropy of the preferred output beside it.
    nlohmann::json labeling = {{"policy", policy}};
    if (policy == "consensus")
        labeling["student_pairs"] = true;
    if (policy == "judge")
        labeling["judge"] = "rouge-l";
    return {
        {"version", 1},
        {"name", "demo " + method + (method == "seqkd" ? std::string() : " " + policy)},
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
         {{"prompts", budget.prompts},
          {"per_prompt", budget.perPrompt},
          {"batch_size", 0},
          {"teacher", {{"temperature", 0.7}}},
          {"student", {{"greedy", false}, {"temperature", 0.8}}}}},
        {"labeling", labeling},
        {"loss", {{"score", "mean"}, {"beta", 0.2}, {"lambda", 1.0}, {"dpo_beta", 0.1}}},
        {"eval", {{"prompts", budget.evalPrompts}, {"samples", 4}, {"every", std::max<int64_t>(1, budget.steps / 4)}}},
        {"train",
         {{"learning_rate", 0.0001}, {"warmup_steps", 20}, {"max_steps", budget.steps}, {"batch_size", 16}, {"eval_every", 0}, {"eval_batches", 10},
          {"checkpoint_every", std::max<int64_t>(1, budget.steps / 4)}}}};
}

} // namespace plad
