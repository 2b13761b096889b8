// Dataset import in every supported format, deterministic leakage-free splits, bad input.
#include "common/error.h"
#include "common/compression.h"
#include "data/dataset.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

using namespace plad;

class TestDataset : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    int mCounter = 0;
    std::filesystem::path write(const std::string &content)
    {
        const auto path = std::filesystem::path(mTmp.path().toStdString()) / ("d" + std::to_string(mCounter++) + ".jsonl");
        test::writeBytes(path, content);
        return path;
    }

private Q_SLOTS:
    void importsJsonlWithAFieldMapping()
    {
        const auto path = write(R"({"doc": "Long text one.", "sum": "One.", "key": "k1", "src": "pkg"})"
                                "\n\n"
                                R"({"doc": "Long text two.", "sum": "Two.", "key": "k2", "src": "pkg"})"
                                "\r\n");
        ImportOptions options;
        options.fields = {"doc", "sum", "key", "src"};
        const auto data = importDataset(path, options);
        QCOMPARE(data.records.size(), size_t(2));
        QCOMPARE(data.records[1].prompt, std::string("Long text two."));
        QCOMPARE(data.records[1].reference, std::string("Two."));
        QCOMPARE(data.records[1].id, std::string("k2"));
        QCOMPARE(data.records[1].group, std::string("pkg"));
        QCOMPARE(data.report.lines, int64_t(2)); // the blank line is not a record
    }

    void importsAnthropicHh()
    {
        const nlohmann::json line = {
            {"chosen", "\n\nHuman: What is 2+2?\n\nAssistant: 4.\n\nHuman: And 3+3?\n\nAssistant: 6."},
            {"rejected", "\n\nHuman: What is 2+2?\n\nAssistant: 4.\n\nHuman: And 3+3?\n\nAssistant: I don't know."}};
        ImportOptions options;
        options.format = DatasetFormat::AnthropicHH;
        const auto data = importDataset(write(line.dump() + "\n"), options);
        const auto &r = data.records.front();
        QCOMPARE(r.prompt, std::string("\n\nHuman: What is 2+2?\n\nAssistant: 4.\n\nHuman: And 3+3?\n\nAssistant:"));
        QCOMPARE(r.reference, std::string("6."));
        QCOMPARE(r.rejected, std::string("I don't know."));

        const nlohmann::json mismatched = {{"chosen", "\n\nHuman: a\n\nAssistant: b"}, {"rejected", "\n\nHuman: c\n\nAssistant: d"}};
        test::expectError([&] { importDataset(write(mismatched.dump() + "\n"), options); }, "differ before their last assistant turn");
        test::expectError([&] { importDataset(write(R"({"chosen": "no turns", "rejected": "x"})" "\n"), options); },
                          ":1: transcript has no");
    }

    void importsTldrAndTrl()
    {
        ImportOptions tldr;
        tldr.format = DatasetFormat::TlDr;
        const auto t = importDataset(write(R"({"subreddit": "cooking", "title": "Salt?", "post": "How much salt?", "summary": "A pinch."})" "\n"), tldr);
        QCOMPARE(t.records[0].prompt, std::string("SUBREDDIT: r/cooking\nTITLE: Salt?\nPOST: How much salt?"));
        QCOMPARE(t.records[0].reference, std::string("A pinch."));

        ImportOptions trl;
        trl.format = DatasetFormat::TrlPreference;
        const auto p = importDataset(write(R"({"prompt": "Q", "chosen": "good", "rejected": "bad"})" "\n"), trl);
        QCOMPARE(p.records[0].reference, std::string("good"));
        QCOMPARE(p.records[0].rejected, std::string("bad"));
    }

    // Each conversational format, read from tests/data/datasets: the prompt is every turn before
    // the final assistant turn, the reference that turn's text.
    void importsMessagesAndCompressedCopies()
    {
        ImportOptions options;
        options.format = DatasetFormat::Messages;
        const auto plain = importDataset(test::dataDir() / "datasets/messages.jsonl", options);
        QCOMPARE(plain.records.size(), size_t(3));
        QCOMPARE(plain.report.conversational, int64_t(3));
        const auto &first = plain.records[0];
        QCOMPARE(first.id, std::string("m1"));
        QCOMPARE(first.reference, std::string("Fast LZ4 compression tool"));
        QVERIFY(first.isConversational());
        const auto turns = nlohmann::json::parse(first.messages);
        QCOMPARE(turns.size(), size_t(2));
        QCOMPARE(turns[0]["role"].get<std::string>(), std::string("system"));
        QCOMPARE(turns[1]["content"].get<std::string>(), std::string("Describe: a tool that compresses files with the LZ4 algorithm."));
        QCOMPARE(first.prompt, std::string("System: You write one-line package synopses.\n\nUser: Describe: a tool that compresses files with the LZ4 algorithm."));
        // Multi-turn: the earlier assistant turn stays in the prompt.
        QCOMPARE(nlohmann::json::parse(plain.records[1].messages).size(), size_t(3));
        QCOMPARE(plain.records[1].reference, std::string("8."));
        // Content given as a list of text parts.
        QCOMPARE(plain.records[2].reference, std::string("11"));
        QVERIFY(plain.records[2].prompt.find("Name a prime above 10.") != std::string::npos);
        // The same file compressed by the gzip, zstd and lz4 command-line tools.
        for (const char *name : {"messages.jsonl.gz", "messages.jsonl.zst", "messages.jsonl.lz4"}) {
            const auto packed = importDataset(test::dataDir() / "datasets" / name, options);
            QCOMPARE(packed.records.size(), plain.records.size());
            for (size_t i = 0; i < packed.records.size(); ++i) {
                QCOMPARE(packed.records[i].messages, plain.records[i].messages);
                QCOMPARE(packed.records[i].reference, plain.records[i].reference);
            }
        }
    }

    void importsShareGptAlpacaTrlAndUltraFeedback()
    {
        ImportOptions options;
        options.format = DatasetFormat::ShareGpt;
        const auto share = importDataset(test::dataDir() / "datasets/sharegpt.json", options);
        QCOMPARE(share.records.size(), size_t(2));
        QCOMPARE(share.records[0].messages,
                 std::string(R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Translate 'Katze' to English."}])"));
        QCOMPARE(share.records[0].reference, std::string("Cat."));
        QCOMPARE(nlohmann::json::parse(share.records[1].messages)[0]["content"].get<std::string>(), std::string("Hi, \"friend\" [sic] {ok}"));

        options.format = DatasetFormat::Alpaca;
        const auto alpaca = importDataset(test::dataDir() / "datasets/alpaca.json", options);
        QCOMPARE(alpaca.records.size(), size_t(3));
        QCOMPARE(alpaca.records[0].messages,
                 std::string(R"([{"role":"user","content":"Summarise the text.\nThe quick brown fox jumps over the lazy dog."}])"));
        QCOMPARE(alpaca.records[1].messages, std::string(R"([{"role":"user","content":"Give a synonym of 'big'."}])"));
        QCOMPARE(alpaca.records[2].messages,
                 std::string(R"([{"role":"system","content":"Answer with one word."},{"role":"user","content":"Give a synonym of 'fast'."},)"
                             R"({"role":"assistant","content":"Quick."},{"role":"user","content":"And of 'small'?"}])"));
        QCOMPARE(alpaca.records[2].reference, std::string("Little."));
        QCOMPARE(alpaca.records[0].id, std::string("line-2")); // the line the record starts on

        options.format = DatasetFormat::TrlPreference;
        const auto trl = importDataset(test::dataDir() / "datasets/trl_conversational.jsonl", options);
        QCOMPARE(trl.records[0].messages, std::string(R"([{"role":"user","content":"What color is the sky?"}])"));
        QCOMPARE(trl.records[0].reference, std::string("It is blue."));
        QCOMPARE(trl.records[0].rejected, std::string("It is green."));
        QCOMPARE(trl.records[1].messages, std::string(R"([{"role":"user","content":"Is water wet?"}])")); // implicit prompt
        QCOMPARE(trl.records[1].rejected, std::string("Cheese."));

        options.format = DatasetFormat::UltraFeedback;
        const auto uf = importDataset(test::dataDir() / "datasets/ultrafeedback.jsonl", options);
        QCOMPARE(uf.records[0].id, std::string("u1"));
        QCOMPARE(uf.records[0].messages, std::string(R"([{"role":"user","content":"Write a haiku about rain."}])"));
        QCOMPARE(uf.records[0].reference, std::string("Soft rain on the roof"));
        QCOMPARE(uf.records[1].reference, std::string("Mars."));     // best overall_score
        QCOMPARE(uf.records[1].rejected, std::string("The Moon.")); // worst
    }

    void autoDetectsEachRecordsShape()
    {
        const auto path = write(std::string(R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})") + "\n"
                                + R"({"conversations": [{"from": "human", "value": "c"}, {"from": "gpt", "value": "d"}]})" + "\n"
                                + R"({"instruction": "e", "output": "f"})" + "\n"
                                + R"({"prompt": "g", "chosen": "h", "rejected": "i"})" + "\n"
                                + R"({"prompt": "j", "response": "k"})" + "\n");
        ImportOptions options;
        options.format = DatasetFormat::Auto;
        const auto data = importDataset(path, options);
        QCOMPARE(data.records.size(), size_t(5));
        QCOMPARE(data.report.conversational, int64_t(3));
        QCOMPARE(data.report.formats.at("messages"), int64_t(1));
        QCOMPARE(data.report.formats.at("sharegpt"), int64_t(1));
        QCOMPARE(data.report.formats.at("alpaca"), int64_t(1));
        QCOMPARE(data.report.formats.at("trl"), int64_t(1));
        QCOMPARE(data.report.formats.at("jsonl"), int64_t(1));
        QVERIFY(!data.records[3].isConversational());
        QCOMPARE(data.records[3].rejected, std::string("i"));
        QVERIFY(parseDatasetFormat("sharegpt") == DatasetFormat::ShareGpt);
        test::expectError([] { parseDatasetFormat("csv"); }, "messages, sharegpt, alpaca");
    }

    void malformedConversationsNameFileLineAndField()
    {
        ImportOptions options;
        options.format = DatasetFormat::Messages;
        auto path = write(std::string(R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})") + "\n"
                          + R"({"messages": [{"role": "user", "content": "a"}]})" + "\n");
        test::expectError([&] { importDataset(path, options); }, path.string() + ":2: the last message of \"messages\" must be the assistant's");
        test::expectError([&] { importDataset(write(R"({"messages": [{"content": "a"}]})" "\n"), options); }, "messages[0] has no \"role\"");
        test::expectError([&] { importDataset(write(R"({"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "b"}]})" "\n"), options); },
                          "messages[0] \"content\" must be a string or a list of parts, found number");
        test::expectError([&] { importDataset(write(R"({"messages": [{"role": "assistant", "content": "b"}]})" "\n"), options); },
                          "no turn before the assistant's response");
        options.format = DatasetFormat::ShareGpt;
        test::expectError([&] { importDataset(write(R"({"conversations": [{"from": "alien", "value": "x"}]})" "\n"), options); },
                          "conversations[0] has an unknown \"from\": \"alien\"");
        options.format = DatasetFormat::TrlPreference;
        test::expectError([&] { importDataset(write(std::string(R"({"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],)")
                                                    + R"( "rejected": [{"role": "user", "content": "other"}, {"role": "assistant", "content": "b"}]})" "\n"), options); },
                          "differ before their last assistant turn");
        options.format = DatasetFormat::UltraFeedback;
        test::expectError([&] { importDataset(write(R"({"instruction": "q", "completions": [{"response": "a", "overall_score": 1}, {"response": "b", "overall_score": 1}]})" "\n"), options); },
                          "same overall_score");

        // JSON arrays: the error names the line where the bad record starts.
        options.format = DatasetFormat::Alpaca;
        const auto arrayPath = std::filesystem::path(mTmp.path().toStdString()) / "bad.json";
        test::writeBytes(arrayPath, "[\n  {\"instruction\": \"a\", \"output\": \"b\"},\n  {\"instruction\": \"c\",\n   \"output\": [7]}\n]\n");
        test::expectError([&] { importDataset(arrayPath, options); }, "bad.json:3: field \"output\" must be a string");
        ImportOptions skip = options;
        skip.skipBadLines = true;
        QCOMPARE(importDataset(arrayPath, skip).records.size(), size_t(1));
        test::writeBytes(arrayPath, "[\n  {\"instruction\": \"a\", \"output\": \"b\"},\n  {\"instruction\": \"c\"\n");
        test::expectError([&] { importDataset(arrayPath, options); }, "the JSON array is not closed (a record starting on line 3");
        test::writeBytes(arrayPath, "[{\"instruction\": \"a\", \"output\": \"b\"}] trailing");
        test::expectError([&] { importDataset(arrayPath, options); }, "bad.json:1: text after the end of the JSON array");
    }

    void corruptCompressedFilesAreNamed()
    {
        const auto dir = std::filesystem::path(mTmp.path().toStdString());
        for (const char *name : {"messages.jsonl.gz", "messages.jsonl.zst", "messages.jsonl.lz4"}) {
            std::ifstream in(test::dataDir() / "datasets" / name, std::ios::binary);
            std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            test::writeBytes(dir / (std::string("cut-") + name), bytes.substr(0, bytes.size() - 9));
            test::expectError([&] { importDataset(dir / (std::string("cut-") + name), {}); }, std::string("cut-") + name);
            std::string flipped = bytes;
            flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x5a);
            test::writeBytes(dir / (std::string("flip-") + name), flipped);
            test::expectError([&] { importDataset(dir / (std::string("flip-") + name), {}); }, std::string("flip-") + name);
        }
        test::writeBytes(dir / "plain.gz", "not gzip at all");
        test::expectError([&] { importDataset(dir / "plain.gz", {}); }, "plain.gz: not gzip data");
        // Round trip through the writers, and the decompression bound.
        const std::string text(200000, 'a');
        for (const char *name : {"w.gz", "w.zst", "w.lz4", "w.txt"}) {
            writeMaybeCompressed(dir / name, text);
            QCOMPARE(readMaybeCompressed(dir / name), text);
        }
        test::expectError([&] { readMaybeCompressed(dir / "w.zst", 1000); }, "decompressed data exceeds");
        test::expectError([&] { readMaybeCompressed(dir / "w.gz", 1000); }, "decompressed data exceeds");
    }

    void badLinesNameFileAndLine()
    {
        const auto path = write(R"({"prompt": "a", "response": "b"})" "\n"
                                "{broken\n"
                                R"({"prompt": "c"})" "\n"
                                R"({"prompt": "d", "response": 5.5})" "\n"
                                R"({"prompt": "e", "response": ""})" "\n");
        test::expectError([&] { importDataset(path, {}); }, ":2: invalid JSON", path.string());
        ImportOptions skip;
        skip.skipBadLines = true;
        const auto data = importDataset(path, skip);
        QCOMPARE(data.records.size(), size_t(1));
        QCOMPARE(data.report.skippedBadLines, int64_t(4));
        QVERIFY(data.report.problems[1].find(":3: missing field \"response\"") != std::string::npos);
        QVERIFY(data.report.problems[2].find(":4: field \"response\" must be a string") != std::string::npos);
        QVERIFY(data.report.problems[3].find(":5: empty reference") != std::string::npos);
    }

    void emptyAndMissingFiles()
    {
        test::expectError([&] { importDataset(write("\n\n"), {}); }, "the dataset is empty");
        ImportOptions skip;
        skip.skipBadLines = true;
        test::expectError([&] { importDataset(write("nope\n"), skip); }, "the dataset is empty (1 records read, 1 skipped");
        test::expectError([&] { importDataset("/nonexistent.jsonl", {}); }, "cannot open dataset file");
    }

    void duplicatesAreRemovedAndIdsMustBeUnique()
    {
        const auto path = write(R"({"prompt": "a", "response": "b", "id": "1"})" "\n" R"({"prompt": "a", "response": "b", "id": "2"})" "\n");
        ImportOptions options;
        options.fields.id = "id";
        const auto data = importDataset(path, options);
        QCOMPARE(data.records.size(), size_t(1));
        QCOMPARE(data.report.duplicatesRemoved, int64_t(1));
        const auto dup = write(R"({"prompt": "a", "response": "b", "id": "1"})" "\n" R"({"prompt": "c", "response": "d", "id": "1"})" "\n");
        test::expectError([&] { importDataset(dup, options); }, ":2: duplicate id \"1\"");
    }

    void splitsAreDeterministicAndGrouped()
    {
        std::vector<DatasetRecord> records;
        for (int i = 0; i < 3000; ++i) {
            DatasetRecord r;
            r.id = QString("r%1").arg(i).toStdString(); // (plain std::string assignment here trips a GCC 12 -O3 false -Wstringop-overflow)
            r.prompt = QString("p%1").arg(i).toStdString();
            r.reference.assign(1, 'x');
            r.group = QString("group%1").arg(i / 3).toStdString();
            records.push_back(std::move(r));
        }
        SplitOptions options;
        options.seed = 7;
        options.validationFraction = 0.1;
        options.testFraction = 0.2;
        const auto a = splitDataset(records, options);
        const auto b = splitDataset(records, options);
        QCOMPARE(a.train.size(), b.train.size());
        for (size_t i = 0; i < a.test.size(); ++i)
            QCOMPARE(a.test[i].id, b.test[i].id);
        QCOMPARE(a.train.size() + a.validation.size() + a.test.size(), records.size());
        // Fractions are close to the request (1000 groups).
        QVERIFY(std::abs(static_cast<double>(a.test.size()) / 3000.0 - 0.2) < 0.05);
        QVERIFY(std::abs(static_cast<double>(a.validation.size()) / 3000.0 - 0.1) < 0.04);
        // No group straddles splits.
        std::map<std::string, int> where;
        auto mark = [&](const std::vector<DatasetRecord> &split, int which) {
            for (const auto &r : split) {
                const auto [it, inserted] = where.emplace(r.group, which);
                QVERIFY(inserted || it->second == which);
            }
        };
        mark(a.train, 0);
        mark(a.validation, 1);
        mark(a.test, 2);
        // Another seed gives another split; adding records never moves existing ones.
        options.seed = 8;
        QVERIFY(splitDataset(records, options).test.front().id != a.test.front().id);
        options.seed = 7;
        auto more = records;
        more.push_back({"new", "p", "x", "", "new-group", ""});
        const auto c = splitDataset(more, options);
        std::set<std::string> testIds;
        for (const auto &r : c.test)
            testIds.insert(r.id);
        for (const auto &r : a.test)
            QVERIFY(testIds.count(r.id));
        test::expectError([&] { splitDataset(records, {1, 0.6, 0.5}); }, "sum to less than 1");
    }

    void summaryCountsAndHistogram()
    {
        std::vector<DatasetRecord> records = {{"1", "one two three", "a", "", "1", ""}, {"2", "one two three four five", "a b", "x", "2", ""}};
        const auto s = summarize(records);
        QCOMPARE(s.records, int64_t(2));
        QCOMPARE(s.withRejected, int64_t(1));
        QCOMPARE(s.promptLengthMin, int64_t(3));
        QCOMPARE(s.promptLengthMax, int64_t(5));
        QCOMPARE(s.promptLengthMean, 4.0);
        QCOMPARE(s.promptHistogram.at(4), int64_t(1)); // 3 words -> bucket up to 4
        QCOMPARE(s.promptHistogram.at(8), int64_t(1)); // 5 words -> bucket up to 8
    }
};

QTEST_GUILESS_MAIN(TestDataset)
#include "tst_dataset.moc"
