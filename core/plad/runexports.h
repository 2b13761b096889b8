#pragma once

// What a run hands on: its pairs in TRL's preference format and its student in Hugging Face
// layout. Shared by `plad pairs export`, `plad export-model` and the workbench's Report screen.

#include "store/workspace.h"
#include "tokenizer/prompttemplate.h"

#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** The prompt template a run's student uses: the config's student.template, data.template, or the model's own. */
PromptTemplate runPromptTemplate(const nlohmann::json &runConfig);

/**
 * The run's training pairs of its latest round, annotations applied (discarded pairs left out,
 * flipped ones swapped), as JSONL lines {"prompt" (templated), "chosen", "rejected"}; with a chat template, in TRL's
 * conversational form (the prompt a list of messages, each answer one assistant turn). Held-out
 * pairs are not exported. `written` receives the number of lines.
 */
std::string trlPairsJsonl(Workspace &store, const std::string &runId, int64_t *written = nullptr);

struct ExportedStudent
{
    std::filesystem::path directory;
    bool fromCheckpoint = false; ///< the run had not finished: the last checkpoint was exported
};

/** Copies the run's student (weights, config, tokenizer files, prompt template) into `target`. */
ExportedStudent exportStudent(Workspace &store, const std::filesystem::path &workspace, const std::string &runId,
                              const std::filesystem::path &target);

} // namespace plad
