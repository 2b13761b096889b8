#include "tokenizer/prompttemplate.h"

#include "common/error.h"
#include "common/fileio.h"
#include "chat/chattemplate.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace plad {

namespace {

struct Preset
{
    const char *name;
    const char *format;
    const char *system;
};

constexpr Preset kPresets[] = {
    {"plain", "{prompt}", ""},
    {"tldr", "{prompt}\nTL;DR:", ""},
    {"chatml", "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n",
     "You are a helpful assistant."},
    {"llama2", "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{prompt} [/INST]", "You are a helpful assistant."},
    {"alpaca", "{system}\n\n### Instruction:\n{prompt}\n\n### Response:\n",
     "Below is an instruction that describes a task. Write a response that appropriately completes the request."},
};

// Expands placeholders; with `check` set, validates instead of substituting.
std::string expand(const std::string &format, const std::string &system, const std::string &prompt, int *promptCount)
{
    std::string out;
    for (size_t i = 0; i < format.size(); ++i) {
        const char c = format[i];
        if ((c == '{' || c == '}') && i + 1 < format.size() && format[i + 1] == c) {
            out += c;
            ++i;
            continue;
        }
        if (c == '{') {
            const auto close = format.find('}', i);
            if (close == std::string::npos)
                throw ConfigError("prompt template: unclosed '{' at offset " + std::to_string(i) + " (write {{ for a literal brace)");
            const std::string name = format.substr(i + 1, close - i - 1);
            if (name == "prompt") {
                out += prompt;
                ++*promptCount;
            } else if (name == "system") {
                out += system;
            } else {
                throw ConfigError("prompt template: unknown placeholder {" + name + "} (use {prompt} and {system})");
            }
            i = close;
            continue;
        }
        if (c == '}')
            throw ConfigError("prompt template: stray '}' at offset " + std::to_string(i) + " (write }} for a literal brace)");
        out += c;
    }
    return out;
}

// The ChatML chat template as Hugging Face documents it for models without a template of their own.
constexpr const char *kChatMlSource =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

nlohmann::ordered_json parseMessages(std::string_view text)
{
    try {
        auto doc = nlohmann::ordered_json::parse(text);
        if (!doc.is_array())
            throw ConfigError("a conversation must be a JSON list of messages");
        return doc;
    } catch (const nlohmann::json::exception &e) {
        throw ConfigError(std::string("a conversation is not valid JSON: ") + e.what());
    }
}

} // namespace

PromptTemplate PromptTemplate::modelChat()
{
    PromptTemplate t;
    t.chatTemplate = "model";
    return t;
}

PromptTemplate PromptTemplate::preset(const std::string &name)
{
    if (name == "chat")
        return modelChat();
    for (const auto &p : kPresets)
        if (name == p.name) {
            PromptTemplate t;
            t.format = p.format;
            t.system = p.system;
            return t;
        }
    std::string names;
    for (const auto &p : kPresets)
        names += (names.empty() ? "" : ", ") + std::string(p.name);
    throw ConfigError("unknown prompt template preset \"" + name + "\" (available: " + names + ", chat)");
}

std::vector<std::string> PromptTemplate::presetNames()
{
    std::vector<std::string> names;
    for (const auto &p : kPresets)
        names.emplace_back(p.name);
    names.emplace_back("chat");
    return names;
}

void PromptTemplate::validate() const
{
    if (isChat()) {
        try {
            if (!nlohmann::json::parse(chatVariables).is_object())
                throw ConfigError("prompt template: chat variables must be a JSON object");
        } catch (const nlohmann::json::exception &) {
            throw ConfigError("prompt template: chat variables are not valid JSON");
        }
        return;
    }
    int count = 0;
    expand(format, system, "", &count);
    if (count != 1)
        throw ConfigError("prompt template must contain {prompt} exactly once, found " + std::to_string(count) + " in \"" + format
                          + "\"");
}

std::shared_ptr<const ChatTemplate> PromptTemplate::chatFor(const Tokenizer &tokenizer) const
{
    if (!isChat())
        throw ConfigError("prompt template is a text format, not a chat template");
    if (compiledChat)
        return compiledChat;
    if (chatTemplate == "model") {
        if (auto own = tokenizer.chatTemplate())
            return own;
        throw ConfigError("the model has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja); "
                          "name one with \"template\": {\"chat_template\": \"chatml\" or a .jinja file}, or use a text format");
    }
    throw ConfigError("chat template \"" + chatTemplate + "\" was not loaded");
}

std::string PromptTemplate::conversationJson(const PromptInput &prompt) const
{
    nlohmann::ordered_json messages = prompt.isConversational()
                                          ? parseMessages(prompt.messages)
                                          : nlohmann::ordered_json::array({{{"role", "user"}, {"content", prompt.text}}});
    if (!system.empty() && (messages.empty() || !messages[0].is_object() || messages[0].value("role", "") != "system"))
        messages.insert(messages.begin(), nlohmann::ordered_json::object({{"role", "system"}, {"content", system}}));
    return messages.dump();
}

std::string PromptTemplate::renderConversation(const Tokenizer &tokenizer, const std::string &messagesJson, bool addGenerationPrompt) const
{
    return renderChat(*chatFor(tokenizer), &tokenizer, messagesJson, addGenerationPrompt);
}

std::string PromptTemplate::renderChat(const ChatTemplate &chat, const Tokenizer *tokenizer, const std::string &messagesJson,
                                       bool addGenerationPrompt) const
{
    ChatTemplate::Input input;
    input.messages = parseMessages(messagesJson);
    input.addGenerationPrompt = addGenerationPrompt;
    if (compiledChat && tokenizer) {
        // A template from elsewhere gets this tokenizer's special tokens.
        const auto &st = tokenizer->specialTokens();
        if (!st.bosText.empty())
            input.extra["bos_token"] = st.bosText;
        if (!st.eosText.empty())
            input.extra["eos_token"] = st.eosText;
        if (!st.padText.empty())
            input.extra["pad_token"] = st.padText;
        if (!st.unkText.empty())
            input.extra["unk_token"] = st.unkText;
    }
    const auto variables = nlohmann::ordered_json::parse(chatVariables);
    for (const auto &[key, value] : variables.items())
        input.extra[key] = value;
    try {
        return chat.renderText(input);
    } catch (const std::exception &e) {
        throw ConfigError(std::string("chat template: ") + e.what());
    }
}

std::string PromptTemplate::render(const PromptInput &prompt, const Tokenizer *tokenizer) const
{
    if (isChat()) {
        if (!tokenizer && !compiledChat)
            throw ConfigError("rendering the model's chat template needs its tokenizer");
        if (!tokenizer) // a template file or chatml: the special tokens its tokenizer_config.json gave, if any
            return renderChat(*compiledChat, nullptr, conversationJson(prompt), true);
        return renderConversation(*tokenizer, conversationJson(prompt), true);
    }
    if (prompt.isConversational())
        throw ConfigError("a conversational prompt needs a chat template, but the prompt template is the text format \"" + format
                          + "\"; set \"template\": \"chat\" (the model's own) or {\"chat_template\": \"chatml\" or FILE.jinja}");
    int count = 0;
    std::string out = expand(format, system, std::string(prompt.text), &count);
    if (count != 1)
        throw ConfigError("prompt template must contain {prompt} exactly once");
    return out;
}

std::vector<int64_t> PromptTemplate::encodePrompt(const Tokenizer &tokenizer, const PromptInput &prompt) const
{
    std::vector<int64_t> ids = tokenizer.encode(render(prompt, &tokenizer), false);
    if (addBos) {
        const auto bos = tokenizer.specialTokens().bos;
        if (!bos)
            throw ConfigError("prompt template asks for a BOS token but the tokenizer defines none (bos_token in tokenizer_config.json)");
        if (ids.empty() || ids.front() != *bos)
            ids.insert(ids.begin(), *bos);
    }
    return ids;
}

std::vector<int64_t> PromptTemplate::encodeResponse(const Tokenizer &tokenizer, const std::string &response) const
{
    if (isChat()) {
        // What the template writes for an assistant turn after the generation prompt, found by
        // rendering a one-turn conversation with and without the turn.
        static const std::string marker = "\x01PLAD-RESPONSE\x01";
        const std::string user = nlohmann::ordered_json::array({{{"role", "user"}, {"content", "Hello"}}}).dump();
        auto withTurn = nlohmann::ordered_json::parse(user);
        withTurn.push_back({{"role", "assistant"}, {"content", marker}});
        const std::string prompt = renderConversation(tokenizer, user, true);
        const std::string full = renderConversation(tokenizer, withTurn.dump(), false);
        const auto at = full.find(marker);
        if (full.compare(0, prompt.size(), prompt) == 0 && at != std::string::npos && at >= prompt.size()) {
            const std::string text = full.substr(prompt.size(), at - prompt.size()) + response + full.substr(at + marker.size());
            std::vector<int64_t> ids = tokenizer.encode(text, false);
            // A template whose turn ends in plain text (no special token such as <|im_end|>) would
            // never let generation stop: EOS follows, as in text mode.
            const auto suffix = tokenizer.encode(full.substr(at + marker.size()), false);
            const bool endsTurn = std::any_of(suffix.begin(), suffix.end(), [&](int64_t id) { return tokenizer.isSpecial(id); });
            if (!endsTurn && eosAfterResponse) {
                const auto eos = tokenizer.specialTokens().eos;
                if (!eos)
                    throw ConfigError("the chat template ends an assistant turn without a special token and the tokenizer defines no EOS "
                                      "(eos_token in tokenizer_config.json)");
                ids.push_back(*eos);
            }
            return ids;
        }
        // The template does not extend the prompt with the turn: the response and EOS.
    }
    std::vector<int64_t> ids = tokenizer.encode(response, false);
    if (eosAfterResponse || isChat()) {
        const auto eos = tokenizer.specialTokens().eos;
        if (!eos)
            throw ConfigError("prompt template ends responses with EOS but the tokenizer defines none (eos_token in tokenizer_config.json)");
        ids.push_back(*eos);
    }
    return ids;
}

nlohmann::json PromptTemplate::toJson() const
{
    if (isChat())
        return {{"chat_template", chatTemplate}, {"system", system}, {"add_bos", addBos}, {"eos_after_response", eosAfterResponse},
                {"variables", nlohmann::json::parse(chatVariables)}};
    return {{"format", format}, {"system", system}, {"add_bos", addBos}, {"eos_after_response", eosAfterResponse}};
}

PromptTemplate PromptTemplate::fromJson(const nlohmann::json &doc, const std::string &source, const std::filesystem::path &baseDirectory)
{
    if (doc.is_string())
        return preset(doc.get<std::string>());
    if (!doc.is_object())
        throw ConfigError(source + ": prompt template must be a preset name or an object");
    PromptTemplate t;
    auto field = [&](const char *name, auto &target, bool (nlohmann::json::*check)() const noexcept) {
        if (!doc.contains(name))
            return;
        if (!(doc[name].*check)())
            throw ConfigError(source + ": prompt template field \"" + std::string(name) + "\" has the wrong type");
        target = doc[name].get<std::decay_t<decltype(target)>>();
    };
    if (doc.contains("preset")) {
        if (!doc["preset"].is_string())
            throw ConfigError(source + ": prompt template field \"preset\" must be a string");
        t = preset(doc["preset"].get<std::string>());
    }
    field("format", t.format, &nlohmann::json::is_string);
    field("system", t.system, &nlohmann::json::is_string);
    field("add_bos", t.addBos, &nlohmann::json::is_boolean);
    field("eos_after_response", t.eosAfterResponse, &nlohmann::json::is_boolean);
    field("chat_template", t.chatTemplate, &nlohmann::json::is_string);
    if (doc.contains("variables")) {
        if (!doc["variables"].is_object())
            throw ConfigError(source + ": prompt template field \"variables\" must be an object");
        t.chatVariables = doc["variables"].dump();
    }
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (it.key() != "preset" && it.key() != "format" && it.key() != "system" && it.key() != "add_bos"
            && it.key() != "eos_after_response" && it.key() != "chat_template" && it.key() != "variables")
            throw ConfigError(source + ": unknown prompt template field \"" + it.key() + "\"");
    if (doc.contains("format") && t.isChat())
        throw ConfigError(source + ": a prompt template has either \"format\" (text) or \"chat_template\", not both");
    if (t.isChat() && t.chatTemplate != "model") {
        try {
            if (t.chatTemplate == "chatml") {
                t.compiledChat = std::make_shared<const ChatTemplate>(kChatMlSource, "built-in chatml template");
            } else {
                std::filesystem::path file = t.chatTemplate;
                if (file.is_relative() && !baseDirectory.empty())
                    file = baseDirectory / file;
                if (!std::filesystem::exists(file))
                    throw ConfigError(file.string() + ": no such chat template file");
                t.chatTemplate = std::filesystem::absolute(file).lexically_normal().string();
                t.compiledChat = std::make_shared<const ChatTemplate>(ChatTemplate::fromFile(file));
            }
        } catch (const ConfigError &e) {
            throw ConfigError(source + ": " + e.what());
        } catch (const std::exception &e) {
            throw ConfigError(source + ": chat template: " + e.what());
        }
    }
    try {
        t.validate();
    } catch (const ConfigError &e) {
        throw ConfigError(source + ": " + e.what());
    }
    return t;
}

void PromptTemplate::saveTo(const std::filesystem::path &directory) const
{
    writeFileAtomically(directory / fileName, toJson().dump(2) + "\n");
}

std::optional<PromptTemplate> PromptTemplate::ownOf(const std::filesystem::path &modelDirectory)
{
    if (modelDirectory.empty())
        return std::nullopt;
    const auto dir = std::filesystem::is_directory(modelDirectory) ? modelDirectory : modelDirectory.parent_path();
    if (auto own = loadFrom(dir))
        return own;
    if (ChatTemplate::existsIn(dir))
        return modelChat();
    return std::nullopt;
}

PromptTemplate PromptTemplate::fromOption(const std::string &option, const std::filesystem::path &modelDirectory, const std::string &source)
{
    if (option.empty())
        return resolve(std::nullopt, modelDirectory);
    if (option.ends_with(".jinja"))
        return fromJson({{"chat_template", option}}, source, std::filesystem::current_path());
    if (option.front() == '{' && option.find("{prompt}") == std::string::npos)
        return fromJson(nlohmann::json::parse(option), source, std::filesystem::current_path());
    if (option.find("{prompt}") != std::string::npos) {
        PromptTemplate t;
        t.format = option;
        t.validate();
        return t;
    }
    return preset(option);
}

PromptTemplate PromptTemplate::resolve(const std::optional<PromptTemplate> &configured, const std::filesystem::path &modelDirectory,
                                       const std::optional<PromptTemplate> &fallback)
{
    if (configured)
        return *configured;
    if (auto own = ownOf(modelDirectory))
        return *own;
    return fallback.value_or(PromptTemplate{});
}

namespace {

// A Python string literal holding `text`, for generated Jinja source.
std::string jinjaString(const std::string &text)
{
    std::string out = "'";
    for (const char c : text) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\'': out += "\\'"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: out += c;
        }
    }
    return out + "'";
}

} // namespace

std::string PromptTemplate::textFormatAsChatTemplate() const
{
    // The format split at {prompt} and {system}; literal braces are already single in `expand`.
    const std::string promptMark = "\x02PROMPT\x02", systemMark = "\x02SYSTEM\x02";
    int count = 0;
    const std::string expanded = expand(format, systemMark, promptMark, &count);
    std::string source = std::string(addBos ? "{{- bos_token -}}\n" : "") + "{%- set ns = namespace(system=" + jinjaString(system) + ") -%}\n"
                         "{%- for message in messages if message['role'] == 'system' -%}{%- set ns.system = message['content'] -%}{%- endfor -%}\n"
                         "{%- for message in messages -%}\n"
                         "{%- if message['role'] == 'user' -%}\n";
    std::string rest = expanded;
    std::string body;
    while (!rest.empty()) {
        const auto p = rest.find(promptMark), q = rest.find(systemMark);
        const auto next = std::min(p, q);
        if (next == std::string::npos) {
            body += "{{- " + jinjaString(rest) + " -}}";
            break;
        }
        if (next > 0)
            body += "{{- " + jinjaString(rest.substr(0, next)) + " -}}";
        body += next == p ? "{{- message['content'] -}}" : "{{- ns.system -}}";
        rest.erase(0, next + (next == p ? promptMark.size() : systemMark.size()));
    }
    source += body + "\n{%- elif message['role'] == 'assistant' -%}\n"
                     "{{- message['content'] -}}{%- if eos_token is defined and eos_token -%}{{- eos_token -}}{%- endif -%}\n"
                     "{%- endif -%}\n{%- endfor -%}";
    return source;
}

PromptTemplate PromptTemplate::forConversations() const
{
    if (isChat())
        return *this;
    PromptTemplate chat = *this;
    chat.chatTemplate = "prompt_template.json";
    chat.compiledChat = std::make_shared<const ChatTemplate>(textFormatAsChatTemplate(), "the model's prompt format");
    return chat;
}

void PromptTemplate::exportTo(const std::filesystem::path &tokenizerSource, const std::filesystem::path &directory) const
{
    namespace fs = std::filesystem;
    const fs::path from = fs::is_directory(tokenizerSource) ? tokenizerSource : tokenizerSource.parent_path();
    fs::create_directories(directory);
    copyTokenizerFiles(tokenizerSource, directory);
    for (const char *file : {"chat_template.jinja", "chat_template.json"}) {
        std::error_code ec;
        fs::remove(directory / file, ec);
    }
    std::optional<std::string> chatSource;
    nlohmann::ordered_json namedList; // the model's own list of named templates, kept whole
    PromptTemplate stored = *this;
    if (isChat()) {
        if (compiledChat) {
            chatSource = compiledChat->source();
        } else if (const auto own = ChatTemplate::fromModelDirectory(from)) {
            const auto config = from / "tokenizer_config.json";
            if (!fs::exists(from / "chat_template.jinja") && !fs::exists(from / "chat_template.json") && fs::exists(config)) {
                const auto doc = readOrderedJsonFile(config);
                if (doc["chat_template"].is_array())
                    namedList = doc["chat_template"];
            }
            chatSource = own->source();
        } else {
            throw ConfigError(from.string() + ": the prompt template is the model's chat template, but the model has none");
        }
        stored.chatTemplate = "model"; // the exported directory carries the template itself
        stored.compiledChat.reset();
    } else if (!ChatTemplate::existsIn(from)) {
        chatSource = textFormatAsChatTemplate();
    }
    if (chatSource) {
        const auto configFile = directory / "tokenizer_config.json";
        nlohmann::ordered_json config = fs::exists(configFile) ? readOrderedJsonFile(configFile)
                                                               : nlohmann::ordered_json::object();
        if (!config.is_object())
            throw FormatError(configFile.string() + ": expected a JSON object");
        if (!namedList.is_null())
            config["chat_template"] = namedList;
        else
            config["chat_template"] = *chatSource;
        writeFileAtomically(configFile, config.dump(2) + "\n");
    }
    stored.saveTo(directory);
}

std::optional<PromptTemplate> PromptTemplate::loadFrom(const std::filesystem::path &directory)
{
    const auto file = directory / fileName;
    if (!std::filesystem::exists(file))
        return std::nullopt;
    return fromJson(readJsonFile(file), file.string());
}

} // namespace plad
