#include "tokenizer/prompttemplate.h"

#include "common/error.h"
#include "common/fileio.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

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

} // namespace

PromptTemplate PromptTemplate::preset(const std::string &name)
{
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
    throw ConfigError("unknown prompt template preset \"" + name + "\" (available: " + names + ")");
}

std::vector<std::string> PromptTemplate::presetNames()
{
    std::vector<std::string> names;
    for (const auto &p : kPresets)
        names.emplace_back(p.name);
    return names;
}

void PromptTemplate::validate() const
{
    int count = 0;
    expand(format, system, "", &count);
    if (count != 1)
        throw ConfigError("prompt template must contain {prompt} exactly once, found " + std::to_string(count) + " in \"" + format
                          + "\"");
}

std::string PromptTemplate::render(const std::string &prompt) const
{
    int count = 0;
    std::string out = expand(format, system, prompt, &count);
    if (count != 1)
        throw ConfigError("prompt template must contain {prompt} exactly once");
    return out;
}

std::vector<int64_t> PromptTemplate::encodePrompt(const Tokenizer &tokenizer, const std::string &prompt) const
{
    std::vector<int64_t> ids = tokenizer.encode(render(prompt), false);
    if (addBos) {
        const auto bos = tokenizer.specialTokens().bos;
        if (!bos)
            throw ConfigError("prompt template asks for a BOS token but the tokenizer defines none (bos_token in tokenizer_config.json)");
        ids.insert(ids.begin(), *bos);
    }
    return ids;
}

std::vector<int64_t> PromptTemplate::encodeResponse(const Tokenizer &tokenizer, const std::string &response) const
{
    std::vector<int64_t> ids = tokenizer.encode(response, false);
    if (eosAfterResponse) {
        const auto eos = tokenizer.specialTokens().eos;
        if (!eos)
            throw ConfigError("prompt template ends responses with EOS but the tokenizer defines none (eos_token in tokenizer_config.json)");
        ids.push_back(*eos);
    }
    return ids;
}

nlohmann::json PromptTemplate::toJson() const
{
    return {{"format", format}, {"system", system}, {"add_bos", addBos}, {"eos_after_response", eosAfterResponse}};
}

PromptTemplate PromptTemplate::fromJson(const nlohmann::json &doc, const std::string &source)
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
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (it.key() != "preset" && it.key() != "format" && it.key() != "system" && it.key() != "add_bos"
            && it.key() != "eos_after_response")
            throw ConfigError(source + ": unknown prompt template field \"" + it.key() + "\"");
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

std::optional<PromptTemplate> PromptTemplate::loadFrom(const std::filesystem::path &directory)
{
    const auto file = directory / fileName;
    if (!std::filesystem::exists(file))
        return std::nullopt;
    return fromJson(readJsonFile(file), file.string());
}

} // namespace plad
