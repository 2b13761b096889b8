#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

class ChatTemplate;
class Tokenizer;

/**
 * A prompt as the data gives it: plain text, or (conversational records) a JSON list of
 * messages with `text` a readable transcript. Converts implicitly from text.
 */
struct PromptInput
{
    PromptInput(const std::string &text) : text(text) {}
    PromptInput(const char *text) : text(text) {}
    PromptInput(std::string_view text, std::string_view messages) : text(text), messages(messages) {}
    std::string_view text;
    std::string_view messages; ///< empty: not a conversation
    bool isConversational() const { return !messages.empty(); }
};

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
    /**
     * Reads {"format", "system", "add_bos", "eos_after_response"}, {"chat_template": "model" |
     * "chatml" | FILE.jinja, "system", "variables": {...}} or {"preset": name, ...overrides}.
     * A relative template file is taken from `baseDirectory` (the config's directory).
     */
    static PromptTemplate fromJson(const nlohmann::json &doc, const std::string &source,
                                   const std::filesystem::path &baseDirectory = {});


    /** The file beside a trained model that records the template it was trained with. */
    static constexpr const char *fileName = "prompt_template.json";
    /** Writes directory/prompt_template.json atomically. */
    void saveTo(const std::filesystem::path &directory) const;
    /** Reads directory/prompt_template.json; nothing when the directory has none. */
    static std::optional<PromptTemplate> loadFrom(const std::filesystem::path &directory);
};

} // namespace plad
