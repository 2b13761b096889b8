#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/promptinput.h"

namespace plad {

class ChatTemplate;
class Tokenizer;


/**
 * How a task prompt becomes model input, stored with a run's config.
 *
 * `format` holds `{prompt}` exactly once and optionally `{system}`; `{{` and `}}` are literal
 * braces. Special tokens written in the format (e.g. `<|im_start|>`) are matched as tokens.
 * The BOS token is prepended when `addBos` is set; responses end with EOS when `eosAfterResponse`
 * is set (what SFT and the preference losses train the student to emit).
 *
 * Chat mode (`chatTemplate` set): prompts are conversations rendered by a Jinja chat template
 * with add_generation_prompt, exactly as transformers' apply_chat_template renders them; a
 * plain-text prompt becomes one user message, and `system` (when set) a system message in front
 * of a conversation that has none. A response is encoded as the text the template writes after
 * the generation prompt for an assistant turn (its end-of-turn marker included), so the model
 * learns to end its turn; when the template does not render prompt + turn as a prefix
 * extension, the response is followed by EOS instead. `chatTemplate` is "model" (the
 * tokenizer's own, see Tokenizer::chatTemplate()), "chatml" (built in) or a .jinja file.
 */
struct PromptTemplate
{
    std::string format = "{prompt}";
    std::string system;
    bool addBos = false;
    bool eosAfterResponse = true;
    std::string chatTemplate;     ///< empty: text mode with `format`
    std::string chatVariables = "{}"; ///< chat mode: further template variables, a JSON object (e.g. {"enable_thinking": false})
    /** Chat mode with a file or "chatml": the compiled template (set by fromJson()). */
    std::shared_ptr<const ChatTemplate> compiledChat;

    bool isChat() const { return !chatTemplate.empty(); }
    /** Chat mode with the model's own template. */
    static PromptTemplate modelChat();

    /**
     * Built-in formats: "plain", "tldr", "chatml", "llama2", "alpaca" (text mode), and "chat"
     * (chat mode with the model's own template). Throws ConfigError otherwise.
     */
    static PromptTemplate preset(const std::string &name);
    static std::vector<std::string> presetNames();

    /** Throws ConfigError naming the problem (missing or repeated {prompt}, unknown placeholder). */
    void validate() const;
    /**
     * The prompt's text as the model sees it. Chat mode needs the tokenizer when the template is
     * the model's own. A conversation in text mode is a ConfigError (a text format has one
     * {prompt}; conversations need a chat template).
     */
    std::string render(const PromptInput &prompt, const Tokenizer *tokenizer = nullptr) const;

    std::vector<int64_t> encodePrompt(const Tokenizer &tokenizer, const PromptInput &prompt) const;
    /** The response's ids: text mode with EOS appended when configured; chat mode as the class comment says. */
    std::vector<int64_t> encodeResponse(const Tokenizer &tokenizer, const std::string &response) const;

    /** Chat mode: the conversation a prompt stands for (system message added as configured). */
    std::string conversationJson(const PromptInput &prompt) const;
    /** Chat mode: the template used with `tokenizer`. Throws ConfigError when there is none. */
    std::shared_ptr<const ChatTemplate> chatFor(const Tokenizer &tokenizer) const;
    /** Chat mode: renders `messagesJson` (a JSON list) with the template, as transformers would. */
    std::string renderConversation(const Tokenizer &tokenizer, const std::string &messagesJson, bool addGenerationPrompt) const;

    nlohmann::json toJson() const;
    /** Renders with `chat`; `tokenizer` (may be null) supplies special tokens to a template from a file. */
    std::string renderChat(const ChatTemplate &chat, const Tokenizer *tokenizer, const std::string &messagesJson, bool addGenerationPrompt) const;
    /**
     * Reads {"format", "system", "add_bos", "eos_after_response"}, {"chat_template": "model" |
     * "chatml" | FILE.jinja, "system", "variables": {...}} or {"preset": name, ...overrides}.
     * A relative template file is taken from `baseDirectory` (the config's directory).
     */
    static PromptTemplate fromJson(const nlohmann::json &doc, const std::string &source,
                                   const std::filesystem::path &baseDirectory = {});
    /**
     * A template as a command line or a form names it (`source`, e.g. "--template", names it
     * in errors): a preset name (or "chat": the model's chat template), a format string holding
     * {prompt}, a .jinja chat template file, or a JSON object (relative files against the
     * working directory); empty: resolve() for `modelDirectory`.
     */
    static PromptTemplate fromOption(const std::string &option, const std::filesystem::path &modelDirectory, const std::string &source);


    /**
     * A model directory's own prompt format: its prompt_template.json (what it was trained
     * with here), else its chat template (chat mode, "model"), else nothing.
     */
    static std::optional<PromptTemplate> ownOf(const std::filesystem::path &modelDirectory);
    /**
     * The rule every command follows (docs/chat-templates.md): the configured template, else
     * the model's own (ownOf), else `fallback`, else plain text.
     */
    static PromptTemplate resolve(const std::optional<PromptTemplate> &configured, const std::filesystem::path &modelDirectory,
                                  const std::optional<PromptTemplate> &fallback = std::nullopt);

    /**
     * Writes the prompt format beside an exported or trained model in `directory`: the
     * tokenizer files of `tokenizerSource`, prompt_template.json, and the chat template as
     * `chat_template` in tokenizer_config.json, so that transformers, vLLM and llama.cpp load
     * the model with the prompt format it was trained with. Chat mode writes its template; a
     * text format writes an equivalent template (the last user message inside the format, the
     * system text from the conversation or the configured one) unless the tokenizer already
     * has one. Chat template files (chat_template.jinja/.json) are not copied: the one written
     * is the one that counts.
     */
    void exportTo(const std::filesystem::path &tokenizerSource, const std::filesystem::path &directory) const;
    /** Text mode: the Jinja chat template exportTo() writes for this format. */
    std::string textFormatAsChatTemplate() const;
    /** What renders conversations for this format: itself in chat mode, else chat mode with textFormatAsChatTemplate(). */
    PromptTemplate forConversations() const;

    /** The file beside a trained model that records the template it was trained with. */
    static constexpr const char *fileName = "prompt_template.json";
    /** Writes directory/prompt_template.json atomically. */
    void saveTo(const std::filesystem::path &directory) const;
    /** Reads directory/prompt_template.json; nothing when the directory has none. */
    static std::optional<PromptTemplate> loadFrom(const std::filesystem::path &directory);
};

} // namespace plad
