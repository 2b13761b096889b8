#include "chattemplate.h"

#include "common/error.h"
#include "common/fileio.h"

namespace plad {

ChatTemplate::ChatTemplate(const std::string &source, std::string origin, std::map<std::string, std::string> specialTokens)
    : mOrigin(std::move(origin)), mSpecialTokens(std::move(specialTokens))
{
    mTemplates.push_back({"default", source, std::make_shared<const jinja::JinjaTemplate>(source, mOrigin)});
}

std::map<std::string, std::string> ChatTemplate::specialTokensOf(const nlohmann::json &config)
{
    std::map<std::string, std::string> tokens;
    if (!config.is_object())
        return tokens;
    for (const char *key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
        const auto it = config.find(key);
        if (it == config.end())
            continue;
        if (it->is_string())
            tokens[key] = it->get<std::string>();
        else if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
            tokens[key] = (*it)["content"].get<std::string>();
    }
    return tokens;
}

ChatTemplate ChatTemplate::fromTokenizerConfig(const std::filesystem::path &path)
{
    const nlohmann::json config = readJsonFile(path);
    const std::string origin = path.string();
    if (!config.is_object())
        throw FormatError(origin + ": expected a JSON object");
    const auto it = config.find("chat_template");
    if (it == config.end() || it->is_null())
        throw FormatError(origin + ": has no \"chat_template\"");
    ChatTemplate t;
    t.mOrigin = origin;
    t.mSpecialTokens = specialTokensOf(config);
    if (it->is_string()) {
        const std::string source = it->get<std::string>();
        t.mTemplates.push_back({"default", source, std::make_shared<const jinja::JinjaTemplate>(source, origin)});
        return t;
    }
    if (!it->is_array())
        throw FormatError(origin + ": \"chat_template\" must be a string or a list of {\"name\", \"template\"}");
    for (std::size_t i = 0; i < it->size(); ++i) {
        const auto &entry = (*it)[i];
        if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() || !entry.contains("template")
            || !entry["template"].is_string())
            throw FormatError(origin + ": chat_template[" + std::to_string(i) + "] must be {\"name\": str, \"template\": str}");
        const std::string name = entry["name"].get<std::string>();
        const std::string source = entry["template"].get<std::string>();
        t.mTemplates.push_back({name, source, std::make_shared<const jinja::JinjaTemplate>(source, origin + " (" + name + ")")});
    }
    if (t.mTemplates.empty())
        throw FormatError(origin + ": \"chat_template\" is an empty list");
    return t;
}

ChatTemplate ChatTemplate::fromFile(const std::filesystem::path &jinjaFile, const std::optional<std::filesystem::path> &tokenizerConfig)
{
    std::map<std::string, std::string> tokens;
    if (tokenizerConfig)
        tokens = specialTokensOf(readJsonFile(*tokenizerConfig));
    return ChatTemplate(readTextFile(jinjaFile), jinjaFile.string(), std::move(tokens));
}

bool ChatTemplate::existsIn(const std::filesystem::path &directory)
{
    if (std::filesystem::exists(directory / "chat_template.jinja") || std::filesystem::exists(directory / "chat_template.json"))
        return true;
    const auto config = directory / "tokenizer_config.json";
    if (!std::filesystem::exists(config))
        return false;
    try {
        const nlohmann::json doc = readJsonFile(config);
        return doc.is_object() && doc.contains("chat_template") && !doc["chat_template"].is_null();
    } catch (const std::exception &) {
        return false; // loading the tokenizer names the broken file
    }
}

std::optional<ChatTemplate> ChatTemplate::fromModelDirectory(const std::filesystem::path &directory)
{
    const auto config = directory / "tokenizer_config.json";
    const bool hasConfig = std::filesystem::exists(config);
    const auto jinjaFile = directory / "chat_template.jinja";
    if (std::filesystem::exists(jinjaFile))
        return fromFile(jinjaFile, hasConfig ? std::optional(config) : std::nullopt);
    const auto jsonFile = directory / "chat_template.json";
    if (std::filesystem::exists(jsonFile)) {
        const nlohmann::json doc = readJsonFile(jsonFile);
        if (!doc.is_object() || !doc.contains("chat_template") || !doc["chat_template"].is_string())
            throw FormatError(jsonFile.string() + ": expected {\"chat_template\": \"...\"}");
        return ChatTemplate(doc["chat_template"].get<std::string>(), jsonFile.string(),
                            hasConfig ? specialTokensOf(readJsonFile(config)) : std::map<std::string, std::string>{});
    }
    if (hasConfig) {
        const nlohmann::json doc = readJsonFile(config);
        if (doc.is_object() && doc.contains("chat_template") && !doc["chat_template"].is_null())
            return fromTokenizerConfig(config);
    }
    return std::nullopt;
}

const std::string &ChatTemplate::source() const
{
    for (const auto &t : mTemplates)
        if (t.name == "default")
            return t.source;
    return mTemplates.front().source;
}

std::vector<std::string> ChatTemplate::templateNames() const
{
    std::vector<std::string> names;
    for (const auto &t : mTemplates)
        names.push_back(t.name);
    return names;
}

const ChatTemplate::Named &ChatTemplate::choose(const Input &input) const
{
    auto find = [&](const std::string &name) -> const Named * {
        for (const auto &t : mTemplates)
            if (t.name == name)
                return &t;
        return nullptr;
    };
    if (!input.templateName.empty()) {
        if (const Named *t = find(input.templateName))
            return *t;
        std::string names;
        for (const auto &t : mTemplates)
            names += (names.empty() ? "" : ", ") + t.name;
        throw ConfigError(mOrigin + ": no chat template named \"" + input.templateName + "\" (has: " + names + ")");
    }
    if (mTemplates.size() == 1)
        return mTemplates.front();
    const bool hasTools = !input.tools.is_null() && !(input.tools.is_array() && input.tools.empty());
    if (hasTools)
        if (const Named *t = find("tool_use"))
            return *t;
    if (const Named *t = find("default"))
        return *t;
    throw ConfigError(mOrigin + ": several chat templates and none named \"default\"; name one");
}

jinja::RenderResult ChatTemplate::render(const Input &input, const jinja::RenderOptions &options) const
{
    if (!input.messages.is_array())
        throw FormatError(mOrigin + ": messages must be a list");
    jinja::Object variables;
    for (const auto &[key, value] : mSpecialTokens)
        variables.set(key, jinja::Value(value));
    variables.set("messages", jinja::Value::fromJson(input.messages));
    variables.set("tools", jinja::Value::fromJson(input.tools));
    variables.set("documents", jinja::Value::fromJson(input.documents));
    variables.set("add_generation_prompt", jinja::Value(input.addGenerationPrompt));
    if (input.extra.is_object())
        for (auto it = input.extra.begin(); it != input.extra.end(); ++it)
            variables.set(it.key(), jinja::Value::fromJson(it.value()));
    return choose(input).compiled->render(variables, options);
}

} // namespace plad
