#pragma once

#include "common/configreader.h"
#include "data/dataset.h"
#include "tokenizer/prompttemplate.h"
#include "train/sftdata.h"

#include <filesystem>
#include <optional>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/**
 * The "data" section shared by `plad sft` and `plad run` configs: which file, how to read it,
 * how to split it, the prompt template and the token limits.
 * Fields: file (required), format, fields {prompt, response, id, group}, skip_bad_lines,
 * template, split {seed, validation, test}, limits {context_length, max_prompt_tokens,
 * max_response_tokens, prompt_keep}.
 */
struct DataConfig
{
    std::filesystem::path file;
    ImportOptions import;
    std::optional<PromptTemplate> promptTemplate; ///< absent: the model's own (prompt_template.json) or plain
    SplitOptions split;
    EncodingLimits limits;                        ///< contextLength 0 = the model's context

    static DataConfig fromConfig(const ConfigReader &data);
    /** Every field with its effective value (paths absolute), as stored with a run. */
    nlohmann::json toJson() const;
};

} // namespace plad
