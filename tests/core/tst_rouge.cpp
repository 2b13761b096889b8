// ROUGE against reference scores computed with rouge_score's semantics (with and without
// NLTK's Porter stemmer).
#include "eval/rouge.h"
#include "testsupport.h"

#include <QtTest>

#include <fstream>

using namespace plad;

class TestRouge : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void matchesReference_data()
    {
        QTest::addColumn<QString>("line");
        QTest::addColumn<bool>("stem");
        std::ifstream in(test::dataDir() / "rouge" / "cases.jsonl");
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            QTest::newRow(qPrintable(QString("case %1").arg(n))) << test::q(line) << false;
            QTest::newRow(qPrintable(QString("case %1 stemmed").arg(n++))) << test::q(line) << true;
        }
        QVERIFY(n == 40);
    }
    void matchesReference()
    {
        QFETCH(QString, line);
        QFETCH(bool, stem);
        const auto c = nlohmann::json::parse(line.toStdString());
        const auto &want = c[stem ? "porter_stemming" : "no_stemming"];
        const auto got = RougeScorer(stem).score(c["target"].get<std::string>(), c["prediction"].get<std::string>());
        const std::pair<const char *, const RougeScore *> variants[] = {{"rouge1", &got.rouge1}, {"rouge2", &got.rouge2}, {"rougeL", &got.rougeL}};
        for (const auto &[name, score] : variants) {
            QVERIFY(std::abs(score->precision - want[name]["p"].get<double>()) < 1e-12);
            QVERIFY(std::abs(score->recall - want[name]["r"].get<double>()) < 1e-12);
            QVERIFY(std::abs(score->f1 - want[name]["f"].get<double>()) < 1e-12);
        }
    }

    void tokenizesLikeRougeScore()
    {
        const RougeScorer plain(false);
        QCOMPARE(plain.tokenize("Hello, World! It's 2024-11-28."),
                 (std::vector<std::string>{"hello", "world", "it", "s", "2024", "11", "28"}));
        QCOMPARE(plain.tokenize("café naïve"), (std::vector<std::string>{"caf", "na", "ve"}));
        QVERIFY(plain.tokenize("  ...  ").empty());
        // Words of three letters or fewer are not stemmed.
        const RougeScorer stemmed(true);
        QCOMPARE(stemmed.tokenize("running runs ran cats"), (std::vector<std::string>{"run", "run", "ran", "cat"}));
    }

    void porterStemmerFollowsNltk_data()
    {
        QTest::addColumn<QString>("word");
        QTest::addColumn<QString>("stem");
        // Porter's own examples, and the words where NLTK's extensions differ from the original.
        const char *pairs[][2] = {
            {"caresses", "caress"}, {"ponies", "poni"},       {"ties", "tie"},         {"cats", "cat"},
            {"feed", "feed"},       {"agreed", "agre"},       {"plastered", "plaster"}, {"motoring", "motor"},
            {"sing", "sing"},       {"conflated", "conflat"}, {"troubled", "troubl"},   {"sized", "size"},
            {"hopping", "hop"},     {"falling", "fall"},      {"filing", "file"},       {"happy", "happi"},
            {"relational", "relat"}, {"conditional", "condit"}, {"valenci", "valenc"},  {"digitizer", "digit"},
            {"generalization", "gener"}, {"triplicate", "triplic"}, {"formative", "form"}, {"electrical", "electr"},
            {"adjustment", "adjust"}, {"adoption", "adopt"},  {"controlling", "control"}, {"rolling", "roll"},
            {"skies", "sky"},       {"dying", "die"},         {"died", "die"},           {"cried", "cri"},
            {"analogi", "analog"},  {"hopefulli", "hope"},    {"innings", "inning"},     {"news", "news"},
        };
        for (const auto &p : pairs)
            QTest::newRow(p[0]) << p[0] << p[1];
    }
    void porterStemmerFollowsNltk()
    {
        QFETCH(QString, word);
        QFETCH(QString, stem);
        QCOMPARE(test::q(porterStem(word.toStdString())), stem);
    }

    void edgeCases()
    {
        const RougeScorer scorer(false);
        const auto empty = scorer.score("", "something");
        QCOMPARE(empty.rouge1.f1, 0.0);
        QCOMPARE(empty.rougeL.precision, 0.0);
        const auto same = scorer.score("a b c d", "a b c d");
        QCOMPARE(same.rouge2.f1, 1.0);
        QCOMPARE(same.rougeL.f1, 1.0);
        // ROUGE-L is order-sensitive where ROUGE-1 is not.
        const auto reversed = scorer.score("a b c d", "d c b a");
        QCOMPARE(reversed.rouge1.f1, 1.0);
        QCOMPARE(reversed.rougeL.f1, 0.25);
    }
};

QTEST_GUILESS_MAIN(TestRouge)
#include "tst_rouge.moc"
