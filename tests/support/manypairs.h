#pragma once
// A run with many pseudo-preference pairs, written straight to the store: what the pair
// inspector's paging test and benchmark open. Pair i (1-based prompt "p<i>"): every tenth
// prompt is held out, every seventh pair prefers the student's output, the initial margin is
// negative for every third pair, and the training pairs carry a loss of (i % 1000) / 100.

#include "store/workspace.h"

#include <filesystem>
#include <string>
#include <vector>

namespace plad::test {

inline std::string fillManyPairs(const std::filesystem::path &ws, int64_t count)
{
    Workspace store = Workspace::open(ws);
    const std::string run = store.runs().createRun("plad", "{}").id;
    std::vector<PromptRecord> prompts;
    std::vector<GeneratedPrompt> generated;
    for (int64_t i = 1; i <= count; ++i) {
        const std::string id = "p" + std::to_string(i);
        prompts.push_back({id, i - 1, i % 10 == 0 ? "validation" : "train", "summarise item " + std::to_string(i) + " of the list",
                           "reference " + std::to_string(i), ""});
        GeneratedPrompt g;
        g.promptId = id;
        for (const auto source : {OutputSource::Teacher, OutputSource::Student}) {
            StoredOutput o;
            o.promptId = id;
            o.source = source;
            o.text = std::string(source == OutputSource::Teacher ? "teacher" : "student") + " says " + std::to_string(i);
            o.tokenIds = {1, 2, 3};
            o.studentLogprobs = {-0.5f, -1.0f, -2.0f};
            o.finishReason = "stop";
            g.outputs.push_back(o);
        }
        GeneratedPrompt::Pair pair;
        pair.chosen = i % 7 == 0 ? 1 : 0;
        pair.rejected = 1 - pair.chosen;
        pair.labeller = "teacher-preferred";
        pair.initialMargin = i % 3 == 0 ? -0.25 : 0.5;
        g.pairs.push_back(pair);
        generated.push_back(std::move(g));
    }
    store.pairs().addPrompts(run, prompts);
    store.pairs().saveGenerated(run, 0, generated);
    std::vector<PairProgress> progress;
    for (const auto &p : store.pairs().list(run)) {
        const int64_t i = std::stoll(p.promptId.substr(1));
        if (i % 10 != 0)
            progress.push_back({p.id, p.initialMargin, static_cast<double>(i % 1000) / 100.0});
    }
    store.pairs().recordStep(run, 1, {{1, "loss", 1.0}}, progress);
    return run;
}

} // namespace plad::test
