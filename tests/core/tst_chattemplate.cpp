// The Jinja engine and chat templates against independent renderings: jinja2 configured as
// transformers configures it (tools/chat-templates/jinja2_oracle.py) for every construct and
// for eight real chat templates, and @huggingface/jinja for the shared fixtures.
#include "chat/chattemplate.h"
#include "chat/jinjatemplate.h"
#include "common/error.h"
#include "common/fileio.h"
#include "testsupport.h"

#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace plad;
using plad::jinja::JinjaTemplate;
using plad::jinja::Object;
using plad::jinja::RenderOptions;
using plad::jinja::TemplateError;
using plad::jinja::Value;

namespace {

const std::filesystem::path dataDir = std::filesystem::path(PLAD_TEST_DATA);

nlohmann::ordered_json readOrdered(const std::filesystem::path &path)
{
    return nlohmann::ordered_json::parse(readTextFile(path));
}

// The date the oracles' strftime_now sees: 2026-12-02 12:00.
RenderOptions fixedDate()
{
    RenderOptions options;
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 11;
    tm.tm_mday = 2;
    tm.tm_hour = 12;
    std::mktime(&tm);
    options.now = tm;
    return options;
}

Object contextOf(const nlohmann::ordered_json &json)
{
    Object context;
    for (auto it = json.begin(); it != json.end(); ++it)
        context.set(it.key(), Value::fromJson(it.value()));
    return context;
}

std::string render(const std::string &source, const nlohmann::ordered_json &context = nlohmann::ordered_json::object())
{
    return JinjaTemplate(source, "t").render(contextOf(context), fixedDate()).text;
}

TemplateError renderError(const std::string &source, const nlohmann::ordered_json &context = nlohmann::ordered_json::object())
{
    try {
        render(source, context);
    } catch (const TemplateError &e) {
        return e;
    }
    throw std::runtime_error("expected a TemplateError from: " + source);
}

ChatTemplate::Input inputOf(const nlohmann::ordered_json &c)
{
    ChatTemplate::Input input;
    input.messages = c["conversation"];
    input.addGenerationPrompt = c["add_generation_prompt"].get<bool>();
    if (c.contains("tools"))
        input.tools = c["tools"];
    if (c.contains("variables"))
        input.extra = c["variables"];
    return input;
}

} // namespace

class TestChatTemplate : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void constructs_data();
    void constructs();
    void realTemplates_data();
    void realTemplates();
    void sharedFixtures_data();
    void sharedFixtures();
    void errorsNameLineAndColumn_data();
    void errorsNameLineAndColumn();
    void unclosedTagPointsAtItsOpening();
    void raiseExceptionCarriesTheMessage();
    void runawayTemplatesStop();
    void generationBlocksAreMarked();
    void namespacesThatHoldThemselvesAreReleased();
    void templatesComeFromWhereTransformersLooks();
    void namedTemplateListPicksToolUse();
    void specialTokensFromAddedTokenObjects();
    void valuesPrintAsPython();
};

void TestChatTemplate::constructs_data()
{
    QTest::addColumn<int>("index");
    const auto doc = readOrdered(dataDir / "jinja" / "constructs.json");
    for (std::size_t i = 0; i < doc["cases"].size(); ++i) {
        const std::string t = doc["cases"][i]["template"].get<std::string>();
        QTest::newRow((std::to_string(i) + ": " + t.substr(0, 48)).c_str()) << static_cast<int>(i);
    }
}

void TestChatTemplate::constructs()
{
    QFETCH(int, index);
    static const auto doc = readOrdered(dataDir / "jinja" / "constructs.json");
    const auto &c = doc["cases"][static_cast<std::size_t>(index)];
    const std::string source = c["template"].get<std::string>();
    if (c.contains("error")) {
        // jinja2 refused it: so must we, with a TemplateError (not a crash, not a rendering).
        try {
            const std::string text = render(source, c["context"]);
            QFAIL(("rendered " + nlohmann::json(text).dump() + " where jinja2 failed with " + c["error"].get<std::string>()).c_str());
        } catch (const TemplateError &e) {
            QVERIFY2(std::string(e.what()).rfind("t:", 0) == 0, e.what());
        }
        return;
    }
    std::string text;
    try {
        text = render(source, c["context"]);
    } catch (const TemplateError &e) {
        QFAIL((std::string("failed where jinja2 rendered: ") + e.what()).c_str());
    }
    QCOMPARE(QString::fromStdString(text), QString::fromStdString(c["expected"].get<std::string>()));
}

void TestChatTemplate::realTemplates_data()
{
    QTest::addColumn<QString>("model");
    QTest::addColumn<int>("index");
    const auto doc = readOrdered(dataDir / "chat_templates" / "cases.json");
    for (auto it = doc["expected_jinja2"].begin(); it != doc["expected_jinja2"].end(); ++it)
        for (std::size_t i = 0; i < it.value().size(); ++i)
            QTest::newRow((it.key() + " " + std::to_string(i)).c_str()) << QString::fromStdString(it.key()) << static_cast<int>(i);
}

void TestChatTemplate::realTemplates()
{
    QFETCH(QString, model);
    QFETCH(int, index);
    static const auto doc = readOrdered(dataDir / "chat_templates" / "cases.json");
    const ChatTemplate chat = ChatTemplate::fromTokenizerConfig(dataDir / "chat_templates" / model.toStdString() / "tokenizer_config.json");
    const auto &c = doc["cases"][static_cast<std::size_t>(index)];
    const auto &expected = doc["expected_jinja2"][model.toStdString()][static_cast<std::size_t>(index)];
    if (expected.is_object()) {
        QVERIFY_THROWS_EXCEPTION(TemplateError, chat.render(inputOf(c), fixedDate()));
        return;
    }
    const std::string text = chat.render(inputOf(c), fixedDate()).text;
    QCOMPARE(QString::fromStdString(text), QString::fromStdString(expected.get<std::string>()));
}

void TestChatTemplate::sharedFixtures_data()
{
    QTest::addColumn<QString>("model");
    QTest::addColumn<int>("index");
    const auto doc = readOrdered(dataDir / "chat_templates" / "shared" / "cases.json");
    for (auto it = doc["expected"].begin(); it != doc["expected"].end(); ++it)
        for (std::size_t i = 0; i < it.value().size(); ++i)
            QTest::newRow((it.key() + " " + std::to_string(i)).c_str()) << QString::fromStdString(it.key()) << static_cast<int>(i);
}

void TestChatTemplate::sharedFixtures()
{
    QFETCH(QString, model);
    QFETCH(int, index);
    static const auto doc = readOrdered(dataDir / "chat_templates" / "shared" / "cases.json");
    const ChatTemplate chat = ChatTemplate::fromTokenizerConfig(dataDir / "chat_templates" / "shared"
                                                                / (model.toStdString() + ".tokenizer_config.json"));
    const auto &c = doc["cases"][static_cast<std::size_t>(index)];
    const std::string text = chat.render(inputOf(c)).text;
    QCOMPARE(QString::fromStdString(text),
             QString::fromStdString(doc["expected"][model.toStdString()][static_cast<std::size_t>(index)].get<std::string>()));
}

void TestChatTemplate::errorsNameLineAndColumn_data()
{
    QTest::addColumn<QString>("source");
    QTest::addColumn<int>("line");
    QTest::addColumn<int>("column");
    QTest::addColumn<QString>("says");
    QTest::newRow("missing operand") << "line one\n{{ 1 + }}" << 2 << 8 << "'}}'";
    QTest::newRow("unknown filter") << "a\nb {{ x | frobnicate }}" << 2 << 10 << "unknown filter 'frobnicate'";
    QTest::newRow("unknown test") << "{% if x is shiny %}{% endif %}" << 1 << 12 << "unknown test 'shiny'";
    QTest::newRow("unknown tag") << "\n\n  {% frobnicate %}" << 3 << 6 << "unknown tag 'frobnicate'";
    QTest::newRow("stray end tag") << "{% endfor %}" << 1 << 4 << "unexpected 'endfor'";
    QTest::newRow("include") << "{% include 'x' %}" << 1 << 4 << "'include' tag is not supported";
    QTest::newRow("unterminated string") << "{{ 'abc }}" << 1 << 4 << "not closed";
    QTest::newRow("bad character") << "{{ a ! b }}" << 1 << 6 << "unexpected character '!'";
    QTest::newRow("break outside loop") << "x\n{% break %}" << 2 << 4 << "outside of a loop";
    QTest::newRow("undefined attribute") << "{{ missing.x }}" << 1 << 11 << "'missing' is undefined";
    QTest::newRow("type error") << "\n{{ 'a' + 1 }}" << 2 << 8 << "can only concatenate str";
    QTest::newRow("list append") << "{{ [].append(1) }}" << 1 << 13 << "not allowed";
    QTest::newRow("unicode column") << "日本 {{ x | nope }}" << 1 << 11 << "unknown filter 'nope'";
}

void TestChatTemplate::errorsNameLineAndColumn()
{
    QFETCH(QString, source);
    QFETCH(int, line);
    QFETCH(int, column);
    QFETCH(QString, says);
    const TemplateError e = renderError(source.toStdString(), {{"x", 1}});
    QVERIFY2(QString::fromStdString(e.detail()).contains(says), e.what());
    QCOMPARE(e.line(), line);
    QCOMPARE(e.column(), column);
    QVERIFY2(std::string(e.what()).rfind("t:" + std::to_string(line) + ":" + std::to_string(column) + ": ", 0) == 0, e.what());
}

void TestChatTemplate::unclosedTagPointsAtItsOpening()
{
    const TemplateError e = renderError("text\n  {% for m in messages %}\n{{ m }}\n");
    QCOMPARE(e.line(), 2);
    QVERIFY2(e.detail().find("'endfor'") != std::string::npos, e.what());
}

void TestChatTemplate::raiseExceptionCarriesTheMessage()
{
    const TemplateError e = renderError("{% if true %}\n  {{ raise_exception('Conversation roles must alternate') }}\n{% endif %}");
    QCOMPARE(QString::fromStdString(e.detail()), QStringLiteral("Conversation roles must alternate"));
    QCOMPARE(e.line(), 2);
}

void TestChatTemplate::runawayTemplatesStop()
{
    // Unbounded recursion and output end in errors, not in a crash or an endless render.
    const TemplateError deep = renderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
    QVERIFY2(deep.detail().find("recursed deeper") != std::string::npos, deep.what());
    RenderOptions small;
    small.maxOutputBytes = 1000;
    QVERIFY_THROWS_EXCEPTION(TemplateError, JinjaTemplate("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}").render({}, small));
    QVERIFY_THROWS_EXCEPTION(TemplateError, render("{{ 'x' * 100000000 }}"));
    // Loops that write nothing end too (found by fuzzing: 10^10 iterations of nothing).
    const TemplateError busy = renderError("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
    QVERIFY2(busy.detail().find("steps") != std::string::npos, busy.what());
    // Work that a huge count makes long, but whose answer is small, is answered at once.
    QCOMPARE(render("{{ 1 ** 1000000000000000000 }}|{{ (-1) ** 1000000000000000001 }}|{{ 2 ** 62 }}"),
             std::string("1|-1|4611686018427387904"));
    QCOMPARE(render("[{{ '' * 1000000000000000000 }}]{{ ([] * 1000000000000000000) | length }}"), std::string("[]0"));
    // 64-bit integers: an overflow is an error, never a silent wrap.
    for (const char *overflow : {"{{ 9223372036854775807 + 1 }}", "{{ -9223372036854775807 - 2 }}", "{{ 4294967296 * 4294967296 }}",
                                 "{{ 2 ** 63 }}", "{{ -(-9223372036854775807 - 1) }}", "{{ (-9223372036854775807 - 1) // -1 }}"}) {
        const TemplateError e = renderError(overflow);
        QVERIFY2(e.detail().find("overflow") != std::string::npos, e.what());
    }
    QCOMPARE(render("{{ (-9223372036854775807 - 1) % -1 }}"), std::string("0"));
}

void TestChatTemplate::generationBlocksAreMarked()
{
    const auto result = JinjaTemplate("<u>q</u>{% generation %}answer{% endgeneration %}<eot>{% generation %}{% endgeneration %}")
                            .render({});
    QCOMPARE(QString::fromStdString(result.text), QStringLiteral("<u>q</u>answer<eot>"));
    QCOMPARE(result.generationSpans.size(), std::size_t{1});
    QCOMPARE(result.generationSpans[0].first, std::size_t{8});
    QCOMPARE(result.generationSpans[0].second, std::size_t{14});
}

void TestChatTemplate::namespacesThatHoldThemselvesAreReleased()
{
    // A cycle through a namespace must not outlive the render (LeakSanitizer checks this).
    QCOMPARE(QString::fromStdString(render("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns.me.a }}")), QStringLiteral("1"));
    // Macros live in the frame they close over without keeping it alive.
    QCOMPARE(QString::fromStdString(render("{% macro m() %}x{% endmacro %}{% set ns = namespace(f=m) %}{{ ns.f() }}")), QStringLiteral("x"));
}

void TestChatTemplate::templatesComeFromWhereTransformersLooks()
{
    QTemporaryDir dir;
    const std::filesystem::path root = dir.path().toStdString();
    // Nothing: no template.
    QVERIFY(!ChatTemplate::fromModelDirectory(root));
    plad::test::writeBytes(root / "tokenizer_config.json", R"({"chat_template": "cfg {{ bos_token }}", "bos_token": "<s>"})");
    QCOMPARE(QString::fromStdString(ChatTemplate::fromModelDirectory(root)->renderText({})), QStringLiteral("cfg <s>"));
    plad::test::writeBytes(root / "chat_template.json", R"({"chat_template": "json {{ bos_token }}"})");
    QCOMPARE(QString::fromStdString(ChatTemplate::fromModelDirectory(root)->renderText({})), QStringLiteral("json <s>"));
    plad::test::writeBytes(root / "chat_template.jinja", "jinja {{ bos_token }}\n");
    const auto chat = ChatTemplate::fromModelDirectory(root);
    QCOMPARE(QString::fromStdString(chat->renderText({})), QStringLiteral("jinja <s>"));
    QCOMPARE(QString::fromStdString(chat->origin()), QString::fromStdString((root / "chat_template.jinja").string()));
    // A broken template is an error naming the file and the place.
    plad::test::writeBytes(root / "chat_template.jinja", "ok\n{% if %}");
    try {
        ChatTemplate::fromModelDirectory(root);
        QFAIL("a broken template loaded");
    } catch (const TemplateError &e) {
        QVERIFY2(std::string(e.what()).find("chat_template.jinja:2:") != std::string::npos, e.what());
    }
    plad::test::writeBytes(root / "tokenizer_config.json", R"({"chat_template": 5})");
    QVERIFY_THROWS_EXCEPTION(FormatError, ChatTemplate::fromTokenizerConfig(root / "tokenizer_config.json"));
}

void TestChatTemplate::namedTemplateListPicksToolUse()
{
    QTemporaryDir dir;
    const auto path = std::filesystem::path(dir.path().toStdString()) / "tokenizer_config.json";
    plad::test::writeBytes(path, R"({"chat_template": [{"name": "default", "template": "plain"},
                                              {"name": "tool_use", "template": "tools: {{ tools|length }}"}]})");
    const ChatTemplate chat = ChatTemplate::fromTokenizerConfig(path);
    QCOMPARE(chat.templateNames(), (std::vector<std::string>{"default", "tool_use"}));
    ChatTemplate::Input input;
    QCOMPARE(QString::fromStdString(chat.renderText(input)), QStringLiteral("plain"));
    input.tools = nlohmann::ordered_json::array({{{"type", "function"}}});
    QCOMPARE(QString::fromStdString(chat.renderText(input)), QStringLiteral("tools: 1"));
    input.templateName = "default";
    QCOMPARE(QString::fromStdString(chat.renderText(input)), QStringLiteral("plain"));
    input.templateName = "missing";
    QVERIFY_THROWS_EXCEPTION(ConfigError, chat.renderText(input));
    QCOMPARE(QString::fromStdString(chat.source()), QStringLiteral("plain"));
}

void TestChatTemplate::specialTokensFromAddedTokenObjects()
{
    const auto tokens = ChatTemplate::specialTokensOf(nlohmann::json::parse(
        R"({"bos_token": {"__type": "AddedToken", "content": "<|begin|>"}, "eos_token": "</s>", "pad_token": null, "unk_token": 3})"));
    QCOMPARE(tokens.size(), std::size_t{2});
    QCOMPARE(QString::fromStdString(tokens.at("bos_token")), QStringLiteral("<|begin|>"));
    QCOMPARE(QString::fromStdString(tokens.at("eos_token")), QStringLiteral("</s>"));
}

void TestChatTemplate::valuesPrintAsPython()
{
    // Known Python facts, independent of any Jinja engine.
    QCOMPARE(QString::fromStdString(jinja::pythonFloat(0.1 + 0.2)), QStringLiteral("0.30000000000000004"));
    QCOMPARE(QString::fromStdString(jinja::pythonFloat(1e16)), QStringLiteral("1e+16"));
    QCOMPARE(QString::fromStdString(jinja::pythonFloat(123456789012345.0)), QStringLiteral("123456789012345.0"));
    QCOMPARE(QString::fromStdString(jinja::pythonFloat(1e-5)), QStringLiteral("1e-05"));
    QCOMPARE(QString::fromStdString(jinja::pythonFloat(0.0001)), QStringLiteral("0.0001"));
    QCOMPARE(QString::fromStdString(jinja::pythonFloat(-2.5)), QStringLiteral("-2.5"));
    QCOMPARE(QString::fromStdString(Value::fromJson(nlohmann::ordered_json::parse(R"({"b": [1, "x", null, true], "a": 1.0})")).repr()),
             QStringLiteral("{'b': [1, 'x', None, True], 'a': 1.0}"));
}

QTEST_GUILESS_MAIN(TestChatTemplate)
#include "tst_chattemplate.moc"
