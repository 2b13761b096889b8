#pragma once

// An LLM as a judge: a local checkpoint or an OpenAI-compatible endpoint asked which of two
// responses is better, twice with the order swapped.

#include "common/configreader.h"
#include "common/enumnames.h"
#include "eval/judge.h"
#include "openai/openaiclient.h"

#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace plad {

enum class JudgeBackend { Local, Http };
inline constexpr EnumName<JudgeBackend> judgeBackendNames[] = {{JudgeBackend::Local, "local"}, {JudgeBackend::Http, "http"}};

/** An LLM asked which of two outputs is better (twice, with the order swapped). */
struct LlmJudgeConfig
{
    JudgeBackend type = JudgeBackend::Local;
    std::filesystem::path model;         ///< local
    OpenAiEndpoint endpoint;             ///< http
    std::string instructions = "Which response answers the task better?\n\nTask:\n{prompt}\n\nResponse A:\n{a}\n\nResponse B:\n{b}\n\nThe better response is";

    /**
     * Reads {"type": "local", "model": DIR} or an HTTP endpoint object (and "instructions");
     * errors name fields under the reader's location, relative paths resolve against its base.
     */
    static LlmJudgeConfig fromConfig(const ConfigReader &reader);
    static LlmJudgeConfig fromJson(const nlohmann::json &doc, const std::string &location, const std::filesystem::path &baseDirectory);
    /** Every field with its effective value (the model path absolute, never an API key). */
    nlohmann::json toJson() const;
};

/**
 * An LLM asked with `instructions` which response is better, twice with the order swapped; a
 * pair is labelled only when both orders agree (position bias cancels), otherwise it is a tie.
 * A local judge compares the likelihoods of " A" and " B" after the question; an HTTP judge
 * answers greedily and the first A or B in its answer counts.
 */
std::unique_ptr<Judge> makeLlmJudge(const LlmJudgeConfig &config, const std::string &device);

} // namespace plad
