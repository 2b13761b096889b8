// plad template render: chat templates rendered as transformers renders them.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "chat/chattemplate.h"
#include "common/error.h"
#include "common/fileio.h"

#include <iostream>
#include <memory>

namespace plad::cli {

namespace {

nlohmann::ordered_json readOrderedJson(const std::string &path)
{
    const std::string text = readTextFile(path);
    try {
        return nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::parse_error &e) {
        throw FormatError(path + ": not valid JSON (" + e.what() + ")");
    }
}

/** One case of --cases: {"conversation", "add_generation_prompt", "tools"?, "documents"?, "variables"?}. */
ChatTemplate::Input caseInput(const nlohmann::ordered_json &c, const std::string &where)
{
    if (!c.is_object())
        throw FormatError(where + ": a case must be an object");
    ChatTemplate::Input input;
    const auto conversation = c.find("conversation") != c.end() ? c.find("conversation") : c.find("messages");
    if (conversation == c.end() || !conversation->is_array())
        throw FormatError(where + ": \"conversation\" must be a list of messages");
    input.messages = *conversation;
    if (c.contains("add_generation_prompt")) {
        if (!c["add_generation_prompt"].is_boolean())
            throw FormatError(where + ": \"add_generation_prompt\" must be true or false");
        input.addGenerationPrompt = c["add_generation_prompt"].get<bool>();
    }
    if (c.contains("tools"))
        input.tools = c["tools"];
    if (c.contains("documents"))
        input.documents = c["documents"];
    if (c.contains("variables")) {
        if (!c["variables"].is_object())
            throw FormatError(where + ": \"variables\" must be an object");
        input.extra = c["variables"];
    }
    return input;
}

} // namespace

void addTemplateCommands(CLI::App &app)
{
    auto *group = app.add_subcommand("template", "Chat templates (Jinja, as transformers renders them)");
    group->require_subcommand(1);
    struct RenderArgs
    {
        std::string model, config, templateFile, cases, messages, tools, name, date;
        std::vector<std::string> variables;
        bool addGenerationPrompt = false;
    };
    auto a = std::make_shared<RenderArgs>();
    auto *render = group->add_subcommand("render", "Render conversations with a model's chat template");
    auto *model = render->add_option("model", a->model, "model directory (chat_template.jinja or tokenizer_config.json)");
    auto *config = render->add_option("--config", a->config, "a tokenizer_config.json with a chat_template (with --template: "
                                                             "only its special tokens are used)");
    auto *file = render->add_option("--template", a->templateFile, "a .jinja template file");
    model->excludes(config)->excludes(file);
    auto *cases = render->add_option("--cases", a->cases,
                                     "JSON array of {\"conversation\": [...], \"add_generation_prompt\": bool}; prints a JSON "
                                     "array of rendered strings ({\"error\": ...} for a case that fails)");
    auto *messages = render->add_option("--messages", a->messages, "JSON list of messages; prints the rendered text");
    cases->excludes(messages);
    render->add_flag("--add-generation-prompt", a->addGenerationPrompt, "with --messages: end with the assistant's header");
    render->add_option("--tools", a->tools, "with --messages: a JSON list of tool definitions");
    render->add_option("--var", a->variables, "KEY=JSON: a further template variable (e.g. enable_thinking=false)");
    render->add_option("--name", a->name, "which template of a named list (default: transformers' choice)");
    render->add_option("--date", a->date, "the date strftime_now sees, YYYY-MM-DD (default: today)");
    render->callback([a, model, config, file, cases, messages] {
        if (!model->count() && !config->count() && !file->count())
            throw UsageError("template render needs a MODEL_DIR, --config or --template");
        if (!cases->count() && !messages->count())
            throw UsageError("template render needs --cases or --messages");
        std::optional<ChatTemplate> chat;
        if (file->count()) {
            chat = ChatTemplate::fromFile(a->templateFile, config->count() ? std::optional<std::filesystem::path>(a->config) : std::nullopt);
        } else if (config->count()) {
            chat = ChatTemplate::fromTokenizerConfig(a->config);
        } else {
            chat = ChatTemplate::fromModelDirectory(a->model);
            if (!chat)
                throw Error(a->model + ": no chat template (looked for chat_template.jinja, chat_template.json and "
                                       "\"chat_template\" in tokenizer_config.json)");
        }
        jinja::RenderOptions options;
        if (!a->date.empty()) {
            std::tm tm{};
            if (std::sscanf(a->date.c_str(), "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
                throw UsageError("--date: expected YYYY-MM-DD, got \"" + a->date + "\"");
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            std::mktime(&tm); // fills in the weekday and day of the year
            options.now = tm;
        }
        nlohmann::ordered_json extra = nlohmann::ordered_json::object();
        for (const auto &v : a->variables) {
            const auto eq = v.find('=');
            if (eq == std::string::npos || eq == 0)
                throw UsageError("--var: expected KEY=JSON, got \"" + v + "\"");
            try {
                extra[v.substr(0, eq)] = nlohmann::ordered_json::parse(v.substr(eq + 1));
            } catch (const nlohmann::json::parse_error &) {
                throw Error("--var " + v.substr(0, eq) + ": the value is not JSON (quote strings: name='\"text\"')");
            }
        }
        if (messages->count()) {
            ChatTemplate::Input input;
            input.messages = readOrderedJson(a->messages);
            input.addGenerationPrompt = a->addGenerationPrompt;
            if (!a->tools.empty())
                input.tools = readOrderedJson(a->tools);
            input.extra = extra;
            input.templateName = a->name;
            std::cout << chat->render(input, options).text << std::flush;
            return;
        }
        const auto doc = readOrderedJson(a->cases);
        const auto &list = doc.is_object() && doc.contains("cases") ? doc["cases"] : doc;
        if (!list.is_array())
            throw FormatError(a->cases + ": expected a JSON array of cases");
        nlohmann::json out = nlohmann::json::array();
        for (std::size_t i = 0; i < list.size(); ++i) {
            try {
                ChatTemplate::Input input = caseInput(list[i], a->cases + ": case " + std::to_string(i));
                for (auto it = extra.begin(); it != extra.end(); ++it)
                    if (!input.extra.contains(it.key()))
                        input.extra[it.key()] = it.value();
                input.templateName = a->name;
                out.push_back(chat->render(input, options).text);
            } catch (const Error &e) {
                out.push_back({{"error", e.what()}});
            }
        }
        printJson(out);
    });
}

} // namespace plad::cli
