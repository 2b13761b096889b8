#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

class Tokenizer;

/**
 * How a task prompt becomes model input, stored with a run's config.
 *
 * `format` holds `{prompt}` exactly once and optionally `{system}`; `{{` and `}}` are literal
 * braces. Special tokens written in the format (e.g. `<|im_start|>`) are matched as tokens.
 * The BOS token is prepended when `addBos` is set; responses end with EOS when `eosAfterResponse`
 * is set (what SFT and the preference losses train the student to emit).
 */
struct PromptTemplate
{
    std::string format = "{prompt}";
    std::string system;
    bool addBos = false;
    bool eosAfterResponse = true;

    /** Built-in formats: "plain", "tldr", "chatml", "llama2", "alpaca". Throws ConfigError otherwise. */
    static PromptTemplate preset(const std::string &name);
    static std::vector<std::string> presetNames();

    /** Throws ConfigError naming the problem (missing or repeated {prompt}, unknown placeholder). */
    void validate() const;
    std::string render(const std::string &prompt) const;

    std::vector<int64_t> encodePrompt(const Tokenizer &tokenizer, const std::string &prompt) const;
    /** The response's ids, with EOS appended when configured (and the tokenizer has one). */
    std::vector<int64_t> encodeResponse(const Tokenizer &tokenizer, const std::string &response) const;

    nlohmann::json toJson() const;
    /** Reads {"format", "system", "add_bos", "eos_after_response"} or {"preset": name, ...overrides}. */
    static PromptTemplate fromJson(const nlohmann::json &doc, const std::string &source);

    /** The file beside a trained model that records the template it was trained with. */
    static constexpr const char *fileName = "prompt_template.json";
    /** Writes directory/prompt_template.json atomically. */
    void saveTo(const std::filesystem::path &directory) const;
    /** Reads directory/prompt_template.json; nothing when the directory has none. */
    static std::optional<PromptTemplate> loadFrom(const std::filesystem::path &directory);
};

} // namespace plad
