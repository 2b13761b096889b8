// The plad command line: exact spellings and JSON outputs that scripts rely on.
#include "common/fileio.h"
#include "openai/openaiclient.h"
#include "testsupport.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>

using namespace plad;

namespace {

struct Run
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
    nlohmann::json json() const { return nlohmann::json::parse(out.toStdString()); }
};

Run runPlad(const QStringList &args)
{
    QProcess process;
    process.start(QStringLiteral(PLAD_CLI_PATH), args);
    if (!process.waitForFinished(120000))
        qFatal("plad did not finish");
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1, process.readAllStandardOutput(),
            process.readAllStandardError()};
}

QString model(const char *name)
{
    return test::q(test::modelDir(name).string());
}

QString join(const std::vector<int64_t> &ids)
{
    QStringList parts;
    for (auto id : ids)
        parts << QString::number(id);
    return parts.join(',');
}

} // namespace

class TestCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void modelInfo()
    {
        const Run r = runPlad({"model", "info", model("llama")});
        QCOMPARE(r.exitCode, 0);
        const auto j = r.json();
        QCOMPARE(j["architecture"].get<std::string>(), std::string("llama"));
        QCOMPARE(j["parameters"].get<int64_t>(), int64_t(110912));
        QCOMPARE(j["dtype"].get<std::string>(), std::string("float32"));
        QCOMPARE(j["vocab_size"].get<int64_t>(), int64_t(384));
        QCOMPARE(j["context_length"].get<int64_t>(), int64_t(128));
    }

    void logitsMatchReference()
    {
        const auto expected = test::expectedFor("gpt2");
        const Run r = runPlad({"model", "logits", model("gpt2"), "--ids", join(test::ids(expected["input_ids"]))});
        QCOMPARE(r.exitCode, 0);
        const auto doc = r.json();
        const auto &got = doc["logits"];
        const auto &want = expected["logits"]["logits"];
        QCOMPARE(got.size(), want.size());
        double maxDiff = 0;
        for (size_t t = 0; t < got.size(); ++t) {
            QCOMPARE(got[t].size(), size_t(320));
            for (size_t v = 0; v < got[t].size(); ++v)
                maxDiff = std::max(maxDiff, std::abs(got[t][v].get<double>() - want[t][v].get<double>()));
        }
        QVERIFY(maxDiff < 1e-4);
    }

    void scoreMatchesReference()
    {
        const auto expected = test::expectedFor("qwen2");
        const auto ids = test::ids(expected["input_ids"]);
        const Run r = runPlad({"model", "score", model("qwen2"), "--prompt-ids", QString::number(ids.front()), "--completion-ids",
                            join(std::vector<int64_t>(ids.begin() + 1, ids.end()))});
        QCOMPARE(r.exitCode, 0);
        const auto j = r.json();
        QCOMPARE(j["token_logprobs"].size(), size_t(11));
        for (size_t i = 0; i < 11; ++i)
            QVERIFY(std::abs(j["token_logprobs"][i].get<double>() - expected["logprobs"]["token_logprobs"][i].get<double>()) < 1e-4);
        QVERIFY(std::abs(j["sum_logprob"].get<double>() - expected["logprobs"]["sum_logprob"].get<double>()) < 1e-3);
        QVERIFY(std::abs(j["mean_logprob"].get<double>() - expected["logprobs"]["mean_logprob"].get<double>()) < 1e-4);
    }

    void generateGreedyAndSampled()
    {
        const auto expected = test::expectedFor("llama");
        const QString ids = join(test::ids(expected["input_ids"]));
        Run r = runPlad({"generate", model("llama"), "--ids", ids, "--max-new-tokens", "16", "--greedy"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.json()["ids"].get<std::vector<int64_t>>(), test::ids(expected["greedy_16"]["greedy_ids"]));
        // Without sampling options generation is greedy too.
        r = runPlad({"generate", model("llama"), "--ids", ids, "--max-new-tokens", "16"});
        QCOMPARE(r.json()["ids"].get<std::vector<int64_t>>(), test::ids(expected["greedy_16"]["greedy_ids"]));

        const QStringList sampled = {"generate", model("llama"), "--ids", ids, "--max-new-tokens", "12", "--temperature", "1.2",
                                     "--top-k", "40", "--top-p", "0.9", "--seed", "5", "--repetition-penalty", "1.3"};
        const Run a = runPlad(sampled);
        const Run b = runPlad(sampled);
        QCOMPARE(a.exitCode, 0);
        QCOMPARE(a.json()["ids"], b.json()["ids"]);
        QCOMPARE(a.json()["ids"].size(), size_t(12));
    }

    void errorsGoToStderrWithNonZeroExit_data()
    {
        // Exit status 2 for a command line that cannot be right, 1 for input that is wrong.
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::addColumn<int>("status");
        QTest::newRow("missing model") << QStringList{"model", "info", "/nonexistent/dir"} << "no such model directory" << 1;
        QTest::newRow("bad ids") << QStringList{"model", "logits", model("gpt2"), "--ids", "3,x,5"} << "--ids: \"x\" is not a token id" << 1;
        QTest::newRow("id out of vocab") << QStringList{"model", "logits", model("gpt2"), "--ids", "3,999"} << "outside the model's vocabulary" << 1;
        QTest::newRow("greedy and temperature") << QStringList{"generate", model("gpt2"), "--ids", "1", "--greedy", "--temperature", "2"}
                                                << "excludes" << 2;
        QTest::newRow("bad top-p") << QStringList{"generate", model("gpt2"), "--ids", "1", "--top-p", "0"} << "top_p: must be in (0, 1]" << 1;
        QTest::newRow("unknown command") << QStringList{"frobnicate"} << "frobnicate" << 2;
        QTest::newRow("missing argument") << QStringList{"model", "info"} << "required" << 2;
        QTest::newRow("unknown option") << QStringList{"model", "info", model("gpt2"), "--frobnicate"} << "frobnicate" << 2;
        QTest::newRow("no prompt") << QStringList{"generate", model("gpt2")} << "give the prompt" << 2;
        QTest::newRow("run without config or resume") << QStringList{"run"} << "give either a config file" << 2;
    }
    void errorsGoToStderrWithNonZeroExit()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        QFETCH(int, status);
        const Run r = runPlad(args);
        QCOMPARE(r.exitCode, status);
        QVERIFY(r.out.isEmpty());
        QVERIFY2(r.err.contains(message.toUtf8()), r.err.constData());
    }

    void tokenizeAndDetokenize()
    {
        const QString gpt2 = test::q((test::dataDir() / "tokenizers" / "gpt2" / "tokenizer.json").string());
        Run r = runPlad({"tokenize", "--tokenizer", gpt2, "--text", "Hello world"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.json()["ids"].get<std::vector<int64_t>>(), (std::vector<int64_t>{15496, 995}));

        QTemporaryDir dir;
        const auto cases = std::filesystem::path(dir.path().toStdString()) / "cases.json";
        test::writeBytes(cases, R"(["Hello world", "", "naïve"])");
        r = runPlad({"tokenize", "--tokenizer", gpt2, "--cases", test::q(cases.string())});
        QCOMPARE(r.exitCode, 0);
        const auto all = r.json();
        QCOMPARE(all.size(), size_t(3));
        QCOMPARE(all[0].get<std::vector<int64_t>>(), (std::vector<int64_t>{15496, 995}));
        QVERIFY(all[1].empty());

        const QString sp = test::q((test::dataDir() / "tokenizers" / "sentencepiece").string());
        r = runPlad({"tokenize", "--tokenizer", sp, "--text", "Hello", "--add-special"});
        QCOMPARE(r.json()["ids"][0].get<int64_t>(), int64_t(1));
        const QString ids = join(r.json()["ids"].get<std::vector<int64_t>>());
        r = runPlad({"detokenize", "--tokenizer", sp, "--ids", ids});
        QCOMPARE(r.json()["text"].get<std::string>(), std::string("<s> Hello"));
        r = runPlad({"detokenize", "--tokenizer", sp, "--ids", ids, "--skip-special"});
        QCOMPARE(r.json()["text"].get<std::string>(), std::string("Hello"));

        r = runPlad({"tokenize", "--tokenizer", "/nonexistent/tokenizer.json", "--text", "x"});
        QVERIFY(r.exitCode != 0);
        QVERIFY(r.err.contains("no such tokenizer file"));
    }

    void templateRender()
    {
        // The shared fixtures, as a user passes them: --config with --cases prints one string
        // per case, byte-identical to @huggingface/jinja's rendering.
        const auto shared = test::dataDir() / "chat_templates" / "shared";
        const auto doc = nlohmann::json::parse(readTextFile(shared / "cases.json"));
        for (const char *model : {"qwen3", "llama3"}) {
            const Run r = runPlad({"template", "render", "--config", test::q((shared / (std::string(model) + ".tokenizer_config.json")).string()),
                                   "--cases", test::q((shared / "cases.json").string())});
            QCOMPARE(r.exitCode, 0);
            QCOMPARE(r.json(), doc["expected"][model]);
        }
        // A model directory and one conversation as text, exactly (no newline added).
        QTemporaryDir dir;
        const std::filesystem::path root = dir.path().toStdString();
        std::filesystem::copy_file(shared / "qwen3.tokenizer_config.json", root / "tokenizer_config.json");
        test::writeBytes(root / "messages.json", R"([{"role": "user", "content": "Hi"}])");
        Run r = runPlad({"template", "render", test::q(root.string()), "--messages", test::q((root / "messages.json").string()),
                         "--add-generation-prompt"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.out, QByteArray("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
        r = runPlad({"template", "render", test::q(root.string()), "--messages", test::q((root / "messages.json").string()),
                     "--add-generation-prompt", "--var", "enable_thinking=false"});
        QCOMPARE(r.out, QByteArray("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"));
        // A case the template rejects is {"error"} in its place; the others still render.
        test::writeBytes(root / "t.jinja", "{% if messages|length > 1 %}{{ raise_exception('one message only') }}{% endif %}"
                                           "{{ messages[0].content }}");
        test::writeBytes(root / "cases.json", R"([{"conversation": [{"role": "user", "content": "a"}], "add_generation_prompt": false},
            {"conversation": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "add_generation_prompt": false}])");
        r = runPlad({"template", "render", "--template", test::q((root / "t.jinja").string()), "--cases", test::q((root / "cases.json").string())});
        QCOMPARE(r.exitCode, 0);
        const auto out = r.json();
        QCOMPARE(out[0].get<std::string>(), std::string("a"));
        QVERIFY(out[1]["error"].get<std::string>().find("one message only") != std::string::npos);
        // A broken template names the file, line and column; a directory without one says so.
        test::writeBytes(root / "bad.jinja", "ok\n{{ messages | nosuchfilter }}");
        r = runPlad({"template", "render", "--template", test::q((root / "bad.jinja").string()), "--messages",
                     test::q((root / "messages.json").string())});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("bad.jinja:2:15: unknown filter 'nosuchfilter'"), r.err.constData());
        r = runPlad({"template", "render", test::q((root / "empty").string()), "--messages", test::q((root / "messages.json").string())});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("no chat template"), r.err.constData());
    }

    void trainTokenizer()
    {
        QTemporaryDir dir;
        const auto root = std::filesystem::path(dir.path().toStdString());
        std::string corpus;
        for (int i = 0; i < 50; ++i)
            corpus += "the tool reads the files and the tool writes the files\n";
        test::writeBytes(root / "corpus.txt", corpus);
        Run r = runPlad({"tokenizer", "train", "--corpus", test::q((root / "corpus.txt").string()), "--vocab-size", "300", "--out",
                         test::q((root / "tok").string())});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.json()["merges"].get<int64_t>() > 0);
        r = runPlad({"tokenize", "--tokenizer", test::q((root / "tok").string()), "--text", "the tool"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.json()["ids"].size() <= 2);
    }

    void rougeCommand()
    {
        const QString cases = test::q((test::dataDir() / "rouge" / "cases.jsonl").string());
        for (const bool stem : {false, true}) {
            QStringList args{"rouge", "--pairs", cases};
            if (stem)
                args << "--stem";
            const Run r = runPlad(args);
            QCOMPARE(r.exitCode, 0);
            const auto lines = r.out.trimmed().split('\n');
            QCOMPARE(lines.size(), 40);
            std::ifstream in(test::dataDir() / "rouge" / "cases.jsonl");
            std::string line;
            for (const auto &out : lines) {
                std::getline(in, line);
                const auto want = nlohmann::json::parse(line)[stem ? "porter_stemming" : "no_stemming"];
                const auto got = nlohmann::json::parse(out.toStdString());
                for (const char *m : {"rouge1", "rouge2", "rougeL"})
                    for (const char *f : {"p", "r", "f"})
                        QVERIFY(std::abs(got[m][f].get<double>() - want[m][f].get<double>()) < 1e-12);
            }
        }
        QTemporaryDir dir;
        const auto bad = std::filesystem::path(dir.path().toStdString()) / "bad.jsonl";
        test::writeBytes(bad, "{\"target\": \"a\", \"prediction\": \"a\"}\n{\"target\": \"a\"}\n");
        const Run r = runPlad({"rouge", "--pairs", test::q(bad.string())});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("bad.jsonl:2: missing string field \"prediction\""), r.err.constData());
    }

    void sftEndToEnd()
    {
        QTemporaryDir dir;
        const auto root = std::filesystem::path(dir.path().toStdString());
        const QString data = test::q((root / "rev.jsonl").string());
        QCOMPARE(runPlad({"data", "synthetic", "--out", data, "--count", "600"}).exitCode, 0);
        std::string corpus;
        for (const auto &line : QString::fromStdString([&] {
                                    std::ifstream in(root / "rev.jsonl");
                                    return std::string(std::istreambuf_iterator<char>(in), {});
                                }())
                                    .split('\n', Qt::SkipEmptyParts)) {
            const auto doc = nlohmann::json::parse(line.toStdString());
            corpus += doc["prompt"].get<std::string>() + doc["reference"].get<std::string>() + "\n";
        }
        test::writeBytes(root / "corpus.txt", corpus);
        QCOMPARE(runPlad({"tokenizer", "train", "--corpus", test::q((root / "corpus.txt").string()), "--vocab-size", "300", "--out",
                          test::q((root / "tok").string())})
                     .exitCode,
                 0);
        const nlohmann::json config = {
            {"output", "run"},
            {"tokenizer", "tok"},
            {"model", {{"scratch", {{"hidden_size", 32}, {"layers", 1}, {"heads", 2}, {"context_length", 48}}}}},
            {"data", {{"file", "rev.jsonl"}, {"fields", {{"response", "reference"}, {"id", "id"}}}}},
            {"train", {{"max_steps", 6}, {"batch_size", 4}, {"warmup_steps", 1}, {"checkpoint_every", 3}}}};
        test::writeBytes(root / "sft.json", config.dump());
        Run r = runPlad({"sft", "--config", test::q((root / "sft.json").string()), "--quiet"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(r.json()["steps"].get<int64_t>(), int64_t(6));
        QVERIFY(std::filesystem::exists(root / "run" / "model" / "tokenizer.json"));
        r = runPlad({"model", "info", test::q((root / "run" / "model").string())});
        QCOMPARE(r.json()["architecture"].get<std::string>(), std::string("llama"));

        // plad eval: the model's own prompt template is used, outputs and the summary are written,
        // and a comparison with itself is all ties.
        QVERIFY(std::filesystem::exists(root / "run" / "model" / "prompt_template.json"));
        const QString modelDir = test::q((root / "run" / "model").string());
        r = runPlad({"eval", modelDir, "--data", data, "--response-field", "reference", "--id-field", "id", "--limit", "10",
                     "--max-new-tokens", "6", "--against", modelDir, "--outputs", test::q((root / "outputs.jsonl").string()), "--out",
                     test::q((root / "eval.json").string()), "--quiet"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto summary = r.json();
        QCOMPARE(summary["prompts"].get<int64_t>(), int64_t(10));
        QCOMPARE(summary["models"].size(), size_t(2));
        QCOMPARE(summary["models"][0]["template"]["format"].get<std::string>(), std::string("{prompt}"));
        const double f = summary["models"][0]["rouge"]["rougeL"]["f"].get<double>();
        QVERIFY(f >= 0 && f <= 1);
        QCOMPARE(summary["head_to_head"][0]["ties"].get<int64_t>(), int64_t(10));
        QCOMPARE(nlohmann::json::parse(std::ifstream(root / "eval.json")), summary);
        int lines = 0;
        std::ifstream outputs(root / "outputs.jsonl");
        for (std::string line; std::getline(outputs, line); ++lines)
            QCOMPARE(nlohmann::json::parse(line)["outputs"].size(), size_t(2));
        QCOMPARE(lines, 10);
        r = runPlad({"eval", modelDir, "--data", data, "--response-field", "nope"});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("nope"), r.err.constData());

        // plad serve answers the HTTP teacher client with the same greedy text plad eval wrote.
        QProcess server;
        server.start(QStringLiteral(PLAD_CLI_PATH), {"serve", modelDir, "--port", "0", "--model-name", "student"});
        QVERIFY(server.waitForReadyRead(60000));
        const auto listening = nlohmann::json::parse(server.readLine().toStdString());
        OpenAiEndpoint endpoint;
        endpoint.baseUrl = listening["listening"].get<std::string>();
        endpoint.model = "student";
        CompletionSettings greedy;
        greedy.temperature = 0;
        greedy.maxTokens = 6;
        std::vector<std::string> prompts, expected;
        std::ifstream firstOutputs(root / "outputs.jsonl");
        std::ifstream records(root / "rev.jsonl");
        for (std::string line, record; prompts.size() < 3 && std::getline(firstOutputs, line) && std::getline(records, record);) {
            prompts.push_back(nlohmann::json::parse(record)["prompt"].get<std::string>());
            expected.push_back(nlohmann::json::parse(line)["outputs"][0]["prediction"].get<std::string>());
        }
        std::vector<std::string> served(prompts.size());
        requestCompletions(endpoint, greedy, prompts, [&](const CompletionResult &c) {
            QVERIFY2(c.error.empty(), c.error.c_str());
            served[c.index] = c.text;
        });
        for (size_t i = 0; i < prompts.size(); ++i) {
            std::string text = served[i];
            text.erase(0, text.find_first_not_of(" \t\r\n"));
            text.erase(text.find_last_not_of(" \t\r\n") + 1);
            QVERIFY2(text == expected[i], ("served \"" + served[i] + "\", plad eval wrote \"" + expected[i] + "\"").c_str());
        }
        endpoint.chat = true;
        int chatAnswers = 0;
        requestCompletions(endpoint, greedy, {prompts[0]}, [&](const CompletionResult &c) { chatAnswers += c.error.empty(); });
        QCOMPARE(chatAnswers, 1);
        endpoint.model = "someone-else";
        test::expectError([&] { requestCompletions(endpoint, greedy, {"x"}, [](const CompletionResult &) {}); },
                          "the model \"someone-else\" does not exist");
        server.terminate(); // SIGTERM: the server stops cleanly
        QVERIFY(server.waitForFinished(10000));
        QCOMPARE(server.exitCode(), 0);

        // Config errors name the field.
        auto bad = config;
        bad["train"]["batch_size"] = 0;
        test::writeBytes(root / "bad.json", bad.dump());
        r = runPlad({"sft", "--config", test::q((root / "bad.json").string())});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("train.batch_size: must be positive"), r.err.constData());
        bad = config;
        bad["data"]["split"] = {{"validation", 0.7}, {"test", 0.5}};
        test::writeBytes(root / "bad.json", bad.dump());
        r = runPlad({"sft", "--config", test::q((root / "bad.json").string())});
        QVERIFY2(r.err.contains("data.split"), r.err.constData());
        bad = config;
        bad["model"] = {{"from", "nowhere"}, {"scratch", nlohmann::json::object()}};
        test::writeBytes(root / "bad.json", bad.dump());
        r = runPlad({"sft", "--config", test::q((root / "bad.json").string())});
        QVERIFY2(r.err.contains("model: give exactly one of"), r.err.constData());
    }

    void threadsOption()
    {
        // Before the command, and after it.
        for (const QStringList &args : {QStringList{"--threads", "1", "model", "info", model("gpt2")}, QStringList{"model", "info", model("gpt2"), "--threads", "1"}}) {
            const Run r = runPlad(args);
            QVERIFY2(r.exitCode == 0, r.err.constData());
            QCOMPARE(r.json()["architecture"].get<std::string>(), std::string("gpt2"));
        }
        const Run bad = runPlad({"model", "info", model("gpt2"), "--threads", "many"});
        QCOMPARE(bad.exitCode, 2);
        QVERIFY2(bad.err.contains("--threads"), bad.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
