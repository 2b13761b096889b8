// Training a byte-level BPE and writing a tokenizer.json that loads back; prompt templates.
#include "common/compression.h"
#include "common/error.h"
#include "common/fileio.h"
#include "chat/chattemplate.h"
#include "tokenizer/bpetrainer.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

#include <nlohmann/json.hpp>

using namespace plad;

namespace {

const char *kCorpus[] = {
    "The quick brown fox jumps over the lazy dog.",
    "The dog sleeps in the sun while the fox watches the dog.",
    "Packages provide the tools the system needs; the tools build the packages.",
    "A library for reading and writing the files of the system, with the usual tools.",
    "This package contains the documentation for the library and the tools.",
};

std::string corpusText(int repeats)
{
    std::string text;
    for (int r = 0; r < repeats; ++r)
        for (const char *line : kCorpus)
            text += std::string(line) + "\n";
    return text;
}

std::string readFile(const std::filesystem::path &p)
{
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace

class TestBpeTrainer : public QObject
{
    Q_OBJECT

private:
    void resolvesAndExports()
    {
        namespace fs = std::filesystem;
        const fs::path qwenDir = test::dataDir() / "tokenizers" / "qwen3";
        const fs::path gpt2Dir = test::dataDir() / "tokenizers" / "gpt2";
        // The rule: configured, else prompt_template.json, else the model's chat template, else plain.
        QVERIFY(PromptTemplate::resolve(std::nullopt, qwenDir).isChat());
        QCOMPARE(PromptTemplate::resolve(std::nullopt, gpt2Dir).format, std::string("{prompt}"));
        QCOMPARE(PromptTemplate::resolve(PromptTemplate::preset("tldr"), qwenDir).format, PromptTemplate::preset("tldr").format);
        QCOMPARE(PromptTemplate::resolve(std::nullopt, gpt2Dir, PromptTemplate::preset("tldr")).format, PromptTemplate::preset("tldr").format);
        fs::create_directories(tmp("own"));
        PromptTemplate::preset("alpaca").saveTo(tmp("own"));
        fs::copy_file(qwenDir / "tokenizer_config.json", tmp("own") / "tokenizer_config.json");
        QCOMPARE(PromptTemplate::resolve(std::nullopt, tmp("own")).format, PromptTemplate::preset("alpaca").format);

        const std::string conversation = R"([{"role": "system", "content": "S."}, {"role": "user", "content": "Q1"}, )"
                                         R"({"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"}])";
        // The model's own template: the exported directory renders exactly as the source.
        const auto qwen = Tokenizer::load(qwenDir);
        const auto chat = PromptTemplate::preset("chat");
        chat.exportTo(qwenDir, tmp("export-chat"));
        const auto exported = Tokenizer::load(tmp("export-chat"));
        const auto back = PromptTemplate::resolve(std::nullopt, tmp("export-chat"));
        QVERIFY(back.isChat());
        QCOMPARE(back.render(PromptInput("", conversation), &exported), chat.render(PromptInput("", conversation), &qwen));
        QCOMPARE(readJsonFile(tmp("export-chat") / "tokenizer_config.json")["chat_template"],
                 readJsonFile(qwenDir / "tokenizer_config.json")["chat_template"]);

        // A template file: written into tokenizer_config.json, and prompt_template.json names the model's own.
        const auto chatml = PromptTemplate::fromJson({{"chat_template", "chatml"}, {"system", "Be kind."}}, "run.json");
        const auto gpt2 = Tokenizer::load(gpt2Dir);
        chatml.exportTo(gpt2Dir, tmp("export-chatml"));
        const auto chatmlBack = PromptTemplate::resolve(std::nullopt, tmp("export-chatml"));
        QCOMPARE(chatmlBack.chatTemplate, std::string("model"));
        QCOMPARE(chatmlBack.system, std::string("Be kind."));
        const auto gpt2Exported = Tokenizer::load(tmp("export-chatml"));
        QVERIFY(gpt2Exported.hasChatTemplate());
        QCOMPARE(chatmlBack.render(PromptInput("", conversation), &gpt2Exported), chatml.render(PromptInput("", conversation), &gpt2));
        QCOMPARE(chatmlBack.render("Hi", &gpt2Exported), chatml.render("Hi", &gpt2));

        // A text format becomes an equivalent chat template, so chat tooling prompts the model as it was trained.
        PromptTemplate text;
        text.format = "{system}\n\n### {{Task}}:\n{prompt}\nSummary:";
        text.system = "It's \"quoted\" \\ here";
        text.exportTo(gpt2Dir, tmp("export-text"));
        const auto generated = ChatTemplate::fromModelDirectory(tmp("export-text"));
        QVERIFY(generated.has_value());
        ChatTemplate::Input input;
        input.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Long text."}])");
        input.addGenerationPrompt = true;
        QCOMPARE(generated->renderText(input), text.render("Long text."));
        input.messages = nlohmann::ordered_json::parse(R"([{"role": "system", "content": "Other."}, {"role": "user", "content": "X"}])");
        QCOMPARE(generated->renderText(input), std::string("Other.\n\n### {Task}:\nX\nSummary:"));
        QCOMPARE(PromptTemplate::resolve(std::nullopt, tmp("export-text")).format, text.format); // prompt_template.json still rules
        // ...but a tokenizer's own template is never replaced by a text format's.
        text.exportTo(qwenDir, tmp("export-text-qwen"));
        QCOMPARE(readJsonFile(tmp("export-text-qwen") / "tokenizer_config.json")["chat_template"],
                 readJsonFile(qwenDir / "tokenizer_config.json")["chat_template"]);
    }

    QTemporaryDir mTmp;
    std::filesystem::path tmp(const std::string &name) const { return std::filesystem::path(mTmp.path().toStdString()) / name; }

private Q_SLOTS:
    void trainsALoadableTokenizer()
    {
        const auto corpus = tmp("corpus.txt");
        test::writeBytes(corpus, corpusText(20));
        BpeTrainerOptions options;
        options.vocabSize = 400;
        const auto summary = trainByteLevelBpe(corpus, tmp("tok"), options);
        QVERIFY(summary.merges > 0);
        QVERIFY(summary.vocabSize <= 400);
        QCOMPARE(summary.vocabSize, 258 + summary.merges);

        const auto t = Tokenizer::load(tmp("tok"));
        QCOMPARE(t.vocabSize(), summary.vocabSize);
        QCOMPARE(t.tokenToId("<|endoftext|>").value_or(-1), int64_t(0));
        QCOMPARE(t.tokenToId("<|pad|>").value_or(-1), int64_t(1));
        QCOMPARE(t.specialTokens().eos.value_or(-1), int64_t(0));
        QCOMPARE(t.specialTokens().pad.value_or(-1), int64_t(1));
        QVERIFY(t.isSpecial(0));
        // The most frequent word with its space becomes one token.
        QVERIFY(t.tokenToId("\xC4\xA0the").has_value());
        QCOMPARE(t.encode(" the").size(), size_t(1));

        // Exact round trips, on the corpus and on text it never saw (bytes always encode).
        for (const std::string &s : {std::string(kCorpus[1]), std::string("Ünïcödé 漢字 🦊 and\ttabs\r\n"), std::string("")}) {
            const auto ids = t.encode(s);
            QCOMPARE(t.decode(ids), s);
        }
        // It compresses what it was trained on.
        const std::string line = kCorpus[2];
        QVERIFY(t.encode(line).size() * 3 < line.size());
        // Special tokens are matched in text.
        QCOMPARE(t.encode("a<|endoftext|>").back(), int64_t(0));
    }

    void writesTheHuggingFaceLayout()
    {
        const auto corpus = tmp("corpus2.txt");
        test::writeBytes(corpus, corpusText(5));
        BpeTrainerOptions options;
        options.vocabSize = 300;
        trainByteLevelBpe(corpus, tmp("layout"), options);
        const auto doc = nlohmann::json::parse(readFile(tmp("layout") / "tokenizer.json"));
        QCOMPARE(doc["model"]["type"].get<std::string>(), std::string("BPE"));
        QCOMPARE(doc["pre_tokenizer"]["type"].get<std::string>(), std::string("ByteLevel"));
        QCOMPARE(doc["decoder"]["type"].get<std::string>(), std::string("ByteLevel"));
        QVERIFY(doc["model"]["merges"][0].is_string()); // "a b", readable by every tokenizers version
        QVERIFY(doc["model"]["vocab"].size() <= 300);
        QCOMPARE(doc["model"]["vocab"].size(), 256 + 2 + doc["model"]["merges"].size());
        QCOMPARE(doc["added_tokens"][0]["special"].get<bool>(), true);
        const auto config = nlohmann::json::parse(readFile(tmp("layout") / "tokenizer_config.json"));
        QCOMPARE(config["eos_token"].get<std::string>(), std::string("<|endoftext|>"));
    }

    void trainingIsDeterministic()
    {
        const auto corpus = tmp("corpus3.txt");
        test::writeBytes(corpus, corpusText(7));
        BpeTrainerOptions options;
        options.vocabSize = 350;
        trainByteLevelBpe(corpus, tmp("a"), options);
        trainByteLevelBpe(corpus, tmp("b"), options);
        QCOMPARE(readFile(tmp("a") / "tokenizer.json"), readFile(tmp("b") / "tokenizer.json"));
    }

    void stopsWhenPairsAreRare()
    {
        const auto corpus = tmp("tiny.txt");
        test::writeBytes(corpus, "abc\n");
        BpeTrainerOptions options;
        options.vocabSize = 1000;
        const auto summary = trainByteLevelBpe(corpus, tmp("tiny"), options);
        QCOMPARE(summary.merges, int64_t(0)); // every pair occurs once, below min frequency 2
        options.minFrequency = 1;
        QVERIFY(trainByteLevelBpe(corpus, tmp("tiny1"), options).merges > 0);
    }

    void trainsOnJsonlFields()
    {
        // The demo tokenizer is learned from the prompt and reference fields of compressed JSONL.
        std::string jsonl;
        for (int r = 0; r < 20; ++r)
            for (const char *line : kCorpus)
                jsonl += nlohmann::json{{"prompt", line}, {"reference", "the tools"}, {"id", "x"}}.dump() + "\n";
        writeLz4File(tmp("data.jsonl.lz4"), jsonl);
        BpeTrainerOptions options;
        options.vocabSize = 300;
        options.jsonFields = {"prompt", "reference"};
        const auto summary = trainByteLevelBpe(tmp("data.jsonl.lz4"), tmp("fromjson"), options);
        QVERIFY(summary.merges > 0);
        const auto t = Tokenizer::load(tmp("fromjson"));
        QVERIFY(t.tokenToId("\xC4\xA0the").has_value());
        QVERIFY(!t.tokenToId("\"prompt\"").has_value()); // field names and JSON syntax are not learned
        options.jsonFields = {"summary"};
        test::expectError([&] { trainByteLevelBpe(tmp("data.jsonl.lz4"), tmp("x"), options); }, "data.jsonl.lz4:1: missing string field \"summary\"");
    }

    void rejectsBadInput()
    {
        const auto corpus = tmp("c.txt");
        test::writeBytes(corpus, corpusText(1));
        BpeTrainerOptions options;
        options.vocabSize = 100;
        test::expectError([&] { trainByteLevelBpe(corpus, tmp("x"), options); }, "vocabulary size 100 is too small");
        options.vocabSize = 500;
        test::expectError([&] { trainByteLevelBpe(tmp("missing.txt"), tmp("x"), options); }, "cannot open corpus");
        test::writeBytes(tmp("empty.txt"), "");
        test::expectError([&] { trainByteLevelBpe(tmp("empty.txt"), tmp("x"), options); }, "the corpus is empty");
    }

    void promptTemplates()
    {
        auto t = PromptTemplate::preset("tldr");
        QCOMPARE(t.render("Long text."), std::string("Long text.\nTL;DR:"));
        PromptTemplate custom;
        custom.format = "{{literal}} {system}: {prompt}";
        custom.system = "S";
        QCOMPARE(custom.render("p"), std::string("{literal} S: p"));
        custom.format = "no placeholder";
        test::expectError([&] { custom.validate(); }, "must contain {prompt} exactly once, found 0");
        custom.format = "{prompt} {prompt}";
        test::expectError([&] { custom.validate(); }, "found 2");
        custom.format = "{user}: {prompt}";
        test::expectError([&] { custom.validate(); }, "unknown placeholder {user}");
        test::expectError([&] { PromptTemplate::preset("vicuna"); }, "unknown prompt template preset \"vicuna\"");

        // JSON round trip, presets with overrides, and field validation.
        const auto back = PromptTemplate::fromJson(PromptTemplate::preset("chatml").toJson(), "run.json");
        QCOMPARE(back.format, PromptTemplate::preset("chatml").format);
        const auto overridden = PromptTemplate::fromJson({{"preset", "chatml"}, {"system", "Be brief."}}, "run.json");
        QVERIFY(overridden.render("x").find("Be brief.") != std::string::npos);
        test::expectError([&] { PromptTemplate::fromJson({{"fromat", "{prompt}"}}, "run.json"); }, "unknown prompt template field \"fromat\"");
        test::expectError([&] { PromptTemplate::fromJson({{"add_bos", "yes"}}, "run.json"); }, "\"add_bos\" has the wrong type");
    }

    // Chat mode renders conversations with the model's own template exactly as jinja2 does
    // (tests/data/chat_templates/cases.json holds jinja2's renderings of Qwen3's template).
    void chatModeMatchesJinja2Renderings()
    {
        const auto qwen = Tokenizer::load(test::dataDir() / "tokenizers" / "qwen3");
        QVERIFY(qwen.hasChatTemplate());
        const auto cases = nlohmann::ordered_json::parse(readFile(test::dataDir() / "chat_templates" / "cases.json"));
        const auto &expected = cases["expected_jinja2"]["qwen3"];
        const auto chat = PromptTemplate::preset("chat");
        int compared = 0;
        for (size_t i = 0; i < cases["cases"].size(); ++i) {
            const auto &c = cases["cases"][i];
            if (!c["add_generation_prompt"].get<bool>() || c.contains("tools") || c.contains("variables") || !expected[i].is_string()
                || c["conversation"].empty() || c["conversation"].back().value("role", "") != "user")
                continue;
            const std::string messages = c["conversation"].dump();
            const std::string want = expected[i].get<std::string>();
            QCOMPARE(chat.render(PromptInput("", messages), &qwen), want);
            QCOMPARE(chat.encodePrompt(qwen, PromptInput("", messages)), qwen.encode(want, false));
            ++compared;
        }
        QVERIFY2(compared >= 4, std::to_string(compared).c_str());

        // A text prompt is one user turn; `system` becomes a system message in front.
        auto withSystem = chat;
        withSystem.system = "Be brief.";
        QCOMPARE(withSystem.render("Name a prime.", &qwen),
                 std::string("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nName a prime.<|im_end|>\n<|im_start|>assistant\n"));
        // ...but not when the conversation has its own.
        const std::string own = R"([{"role": "system", "content": "Own."}, {"role": "user", "content": "Hi"}])";
        QCOMPARE(withSystem.render(PromptInput("", own), &qwen),
                 std::string("<|im_start|>system\nOwn.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));

        // The response is the assistant turn the template writes, its end-of-turn marker included
        // (Qwen3 writes an empty thinking block into the last assistant turn).
        QCOMPARE(chat.encodeResponse(qwen, "Seven."), qwen.encode("<think>\n\n</think>\n\nSeven.<|im_end|>\n", false));
        const auto response = chat.encodeResponse(qwen, "Seven.");
        QCOMPARE(std::count(response.begin(), response.end(), *qwen.tokenToId("<|im_end|>")), 1L);

        // Template variables reach the template (Qwen3's switch for its thinking block).
        auto noThinking = chat;
        noThinking.chatVariables = R"({"enable_thinking": false})";
        const std::string rendered = noThinking.render("Hi", &qwen);
        QVERIFY2(rendered.ends_with("<|im_start|>assistant\n<think>\n\n</think>\n\n"), rendered.c_str());
    }

    void chatModeTemplatesFromPresetsAndFiles()
    {
        const auto gpt2 = Tokenizer::load(test::dataDir() / "tokenizers" / "gpt2");
        QVERIFY(!gpt2.hasChatTemplate());
        test::expectError([&] { PromptTemplate::preset("chat").render("Hi", &gpt2); }, "the model has no chat template");

        const auto chatml = PromptTemplate::fromJson({{"chat_template", "chatml"}}, "run.json");
        QCOMPARE(chatml.render(PromptInput("", R"([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}, {"role": "user", "content": "Go"}])"), &gpt2),
                 std::string("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n<|im_start|>user\nGo<|im_end|>\n<|im_start|>assistant\n"));

        // A .jinja file relative to the config's directory, with the tokenizer's special tokens.
        std::filesystem::create_directories(tmp("cfg"));
        writeFileAtomically(tmp("cfg") / "mine.jinja",
                            "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content | trim }}\n{% endfor %}"
                            "{% if add_generation_prompt %}[assistant] {% endif %}");
        const auto sp = Tokenizer::load(test::dataDir() / "tokenizers" / "sentencepiece");
        const auto file = PromptTemplate::fromJson({{"chat_template", "mine.jinja"}}, "run.json", tmp("cfg"));
        QCOMPARE(file.render(" Hello ", &sp), std::string("<s>[user] Hello\n[assistant] "));
        QCOMPARE(file.encodePrompt(sp, " Hello ").front(), int64_t(1)); // <s> is matched as the BOS token
        // The stored form names the file absolutely and loads back anywhere.
        const auto stored = file.toJson();
        QVERIFY(std::filesystem::path(stored["chat_template"].get<std::string>()).is_absolute());
        QCOMPARE(PromptTemplate::fromJson(stored, "stored.json").render("x", &sp), file.render("x", &sp));
        // This template ends a turn with a plain newline, so EOS follows it (generation must stop).
        auto expected = sp.encode("Hi\n", false);
        expected.push_back(*sp.specialTokens().eos);
        QCOMPARE(file.encodeResponse(sp, "Hi"), expected);

        test::expectError([&] { PromptTemplate::fromJson({{"chat_template", "missing.jinja"}}, "run.json", tmp("cfg")); },
                          "missing.jinja: no such chat template file");
        writeFileAtomically(tmp("cfg") / "broken.jinja", "line one\n{% for m in messages %}{{ m.content | nosuchfilter }}{% endfor %}");
        test::expectError([&] { PromptTemplate::fromJson({{"chat_template", "broken.jinja"}}, "run.json", tmp("cfg")).render("x", &sp); },
                          "2:");
        test::expectError([&] { PromptTemplate::fromJson({{"chat_template", "chatml"}, {"format", "{prompt}"}}, "run.json"); },
                          "either \"format\" (text) or \"chat_template\"");
        test::expectError([&] { PromptTemplate::fromJson({{"chat_template", "chatml"}, {"variables", "x"}}, "run.json"); },
                          "\"variables\" must be an object");

        // A conversation in text mode says what to configure instead of rendering it wrongly.
        test::expectError([&] { PromptTemplate::preset("plain").render(PromptInput("User: Hi", R"([{"role": "user", "content": "Hi"}])")); },
                          "a conversational prompt needs a chat template");
        QCOMPARE(PromptTemplate::fromJson("chat", "run.json").chatTemplate, std::string("model"));
    }

    void resolvesAndExportsThePromptFormat()
    {
        try {
            resolvesAndExports();
        } catch (const std::exception &e) {
            QFAIL(e.what());
        }
    }


    void promptTemplatesEncodeWithSpecialTokens()
    {
        const auto qwen = Tokenizer::load(test::dataDir() / "tokenizers" / "qwen3");
        const auto chat = PromptTemplate::preset("chatml");
        const auto ids = chat.encodePrompt(qwen, "Summarise this.");
        QCOMPARE(ids.front(), *qwen.tokenToId("<|im_start|>"));
        QCOMPARE(std::count(ids.begin(), ids.end(), *qwen.tokenToId("<|im_end|>")), 2L);
        const auto response = chat.encodeResponse(qwen, "Done.");
        QCOMPARE(response.back(), *qwen.tokenToId("<|im_end|>")); // Qwen's EOS
        QCOMPARE(qwen.decode(std::vector<int64_t>(response.begin(), response.end() - 1)), std::string("Done."));

        const auto sp = Tokenizer::load(test::dataDir() / "tokenizers" / "sentencepiece");
        PromptTemplate withBos;
        withBos.addBos = true;
        QCOMPARE(withBos.encodePrompt(sp, "Hi").front(), int64_t(1));
        const auto gpt2 = Tokenizer::load(test::dataDir() / "tokenizers" / "gpt2");
        test::expectError([&] { withBos.encodePrompt(gpt2, "Hi"); }, "defines none");
    }
};

QTEST_GUILESS_MAIN(TestBpeTrainer)
#include "tst_bpetrainer.moc"
