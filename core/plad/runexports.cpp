#include "plad/runexports.h"

#include "common/error.h"
#include "plad/distillrun.h"
#include "tokenizer/tokenizer.h"

#include <map>

#include <nlohmann/json.hpp>

namespace plad {
namespace fs = std::filesystem;

PromptTemplate runPromptTemplate(const nlohmann::json &config)
{
    if (config["student"].contains("template"))
        return PromptTemplate::fromJson(config["student"]["template"], "student.template");
    if (config["data"].contains("template"))
        return PromptTemplate::fromJson(config["data"]["template"], "data.template");
    return PromptTemplate::resolve(std::nullopt, config["student"]["model"].get<std::string>());
}

std::string trlPairsJsonl(Workspace &store, const std::string &runId, int64_t *written)
{
    const auto run = store.runs().requireRun(runId);
    const PromptTemplate promptTemplate = runPromptTemplate(nlohmann::json::parse(run.configJson));
    const auto prompts = store.pairs().promptsById(run.id);
    const auto outputs = store.pairs().outputsById(run.id);
    int64_t round = 0;
    const auto all = store.pairs().list(run.id);
    for (const auto &p : all)
        round = std::max(round, p.round);
    // Held-out (validation) pairs are for evaluation; the export holds the training pairs.
    std::string text;
    int64_t count = 0;
    for (const auto &p : all) {
        if (p.round != round || (p.annotation && p.annotation->action == AnnotationAction::Discard) || prompts.at(p.promptId).split != "train")
            continue;
        std::string chosen = outputs.at(p.chosenOutput).text, rejected = outputs.at(p.rejectedOutput).text;
        if (p.annotation && p.annotation->action == AnnotationAction::Flip)
            std::swap(chosen, rejected);
        const auto &prompt = prompts.at(p.promptId);
        if (promptTemplate.isChat()) {
            // TRL's conversational preference format: the conversation, and each answer as an assistant turn.
            auto turn = [](const std::string &content) { return nlohmann::ordered_json::array({{{"role", "assistant"}, {"content", content}}}); };
            nlohmann::ordered_json row;
            row["prompt"] = nlohmann::ordered_json::parse(promptTemplate.conversationJson(prompt.input()));
            row["chosen"] = turn(chosen);
            row["rejected"] = turn(rejected);
            text += row.dump() + "\n";
        } else {
            text += nlohmann::json{{"prompt", promptTemplate.render(prompt.input())}, {"chosen", chosen}, {"rejected", rejected}}.dump() + "\n";
        }
        ++count;
    }
    if (written)
        *written = count;
    return text;
}

ExportedStudent exportStudent(Workspace &store, const fs::path &workspace, const std::string &runId, const fs::path &target)
{
    const auto run = store.runs().requireRun(runId);
    const fs::path runDir = runDirectory(workspace, run.id);
    ExportedStudent out;
    fs::path source = runDir / "model";
    if (!fs::exists(source / "config.json")) {
        source = runDir / "checkpoint";
        out.fromCheckpoint = true;
        if (!fs::exists(source / "config.json"))
            throw Error("run " + run.id + " has no trained student yet (no model or checkpoint in " + runDir.string() + ")");
    }
    const auto config = nlohmann::json::parse(run.configJson);
    fs::create_directories(target);
    for (const char *file : {"config.json", "model.safetensors", "generation_config.json"})
        if (fs::exists(source / file))
            fs::copy_file(source / file, target / file, fs::copy_options::overwrite_existing);
    runPromptTemplate(config).exportTo(config["student"]["model"].get<std::string>(), target);
    out.directory = target;
    return out;
}

} // namespace plad
