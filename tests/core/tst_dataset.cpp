// Dataset import in every supported format, deterministic leakage-free splits, bad input.
#include "common/error.h"
#include "data/dataset.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

#include <set>

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
        test::expectError([&] { importDataset(write(R"({"prompt": [{"role": "user", "content": "Q"}], "chosen": "a", "rejected": "b"})" "\n"), trl); },
                          "conversational TRL records");
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
        test::expectError([&] { importDataset(write("nope\n"), skip); }, "the dataset is empty (1 lines read, 1 skipped");
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
        more.push_back({"new", "p", "x", "", "new-group"});
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
        std::vector<DatasetRecord> records = {{"1", "one two three", "a", "", "1"}, {"2", "one two three four five", "a b", "x", "2"}};
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
