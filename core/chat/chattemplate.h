#pragma once

#include "jinjatemplate.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace plad {

/**
 * A model's chat template, rendered as transformers' `apply_chat_template` renders it: the
 * Jinja source with `messages`, `tools`, `documents`, `add_generation_prompt` and the
 * tokenizer's special tokens (`bos_token`, `eos_token`, ...) as variables.
 *
 * Where it comes from, in transformers' order: `chat_template.jinja` beside the model,
 * `chat_template.json` (processors), or `tokenizer_config.json`'s `chat_template` (a string,
 * or a list of named templates: "default", and "tool_use" when tools are given), or a file the
 * user names. Thread-safe to render from several threads.
 */
class ChatTemplate
{
public:
    /** Conversation input as transformers takes it. */
    struct Input
    {
        nlohmann::ordered_json messages = nlohmann::ordered_json::array();
        bool addGenerationPrompt = false;
        nlohmann::ordered_json tools;     // null: `tools` is None in the template
        nlohmann::ordered_json documents; // null: `documents` is None
        /** Further template variables (e.g. `enable_thinking`), overriding the special tokens. */
        nlohmann::ordered_json extra = nlohmann::ordered_json::object();
        /** A named template of a list ("default", "tool_use", ...); empty: transformers' choice. */
        std::string templateName;
    };

    /** From Jinja source; `origin` names it in errors. Throws jinja::TemplateError. */
    ChatTemplate(const std::string &source, std::string origin,
                 std::map<std::string, std::string> specialTokens = {});

    /** The `chat_template` of a tokenizer_config.json (string or named list). Throws FormatError. */
    static ChatTemplate fromTokenizerConfig(const std::filesystem::path &tokenizerConfig);
    /** A .jinja file, with the special tokens of `tokenizerConfig` when given. */
    static ChatTemplate fromFile(const std::filesystem::path &jinjaFile,
                                 const std::optional<std::filesystem::path> &tokenizerConfig = std::nullopt);
    /** Whether the model directory has a template (files only; nothing is compiled). */
    static bool existsIn(const std::filesystem::path &directory);
    /** The model directory's template, if it has one (see the class comment for the order). */
    static std::optional<ChatTemplate> fromModelDirectory(const std::filesystem::path &directory);

    /** Renders a conversation. Throws jinja::TemplateError (template failures, raise_exception). */
    jinja::RenderResult render(const Input &input, const jinja::RenderOptions &options = {}) const;
    std::string renderText(const Input &input) const { return render(input).text; }

    /** Where the template came from ("path/tokenizer_config.json", "x.jinja"). */
    const std::string &origin() const { return mOrigin; }
    /** The source of the default template (what export writes as `chat_template`). */
    const std::string &source() const;
    std::vector<std::string> templateNames() const;
    const std::map<std::string, std::string> &specialTokens() const { return mSpecialTokens; }

    /** The special tokens transformers passes: bos/eos/unk/sep/pad/cls/mask, strings or AddedToken objects. */
    static std::map<std::string, std::string> specialTokensOf(const nlohmann::json &tokenizerConfig);

private:
    struct Named
    {
        std::string name;
        std::string source;
        std::shared_ptr<const jinja::JinjaTemplate> compiled;
    };
    ChatTemplate() = default;
    const Named &choose(const Input &input) const;

    std::vector<Named> mTemplates;
    std::string mOrigin;
    std::map<std::string, std::string> mSpecialTokens;
};

} // namespace plad
