// Golden tests: logits, log-probs and greedy continuations of tiny Hugging Face checkpoints
// against values computed independently in float64 from the transformers modelling code.
#include "model/languagemodel.h"
#include "testsupport.h"

#include <QtTest>

#include <cmath>

using namespace plad;

class TestModelGolden : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void matchesReference_data()
    {
        QTest::addColumn<QString>("model");
        QTest::newRow("gpt2") << "gpt2";
        QTest::newRow("llama") << "llama";
        QTest::newRow("qwen2") << "qwen2";
        QTest::newRow("qwen3") << "qwen3";
        QTest::newRow("mistral") << "mistral";
        QTest::newRow("llama3-rope") << "llama3rope";
        QTest::newRow("gpt2-untied") << "gpt2untied";
    }

    void matchesReference()
    {
        QFETCH(QString, model);
        const std::string name = model.toStdString();
        const auto expected = test::expectedFor(name);
        auto lm = LanguageModel::load(test::modelDir(name));
        const auto input = test::ids(expected["input_ids"]);

        // Logits at every position.
        const auto logits = lm.logits(input);
        const auto &want = expected["logits"]["logits"];
        QCOMPARE(logits.size(), want.size());
        double maxDiff = 0;
        for (size_t t = 0; t < logits.size(); ++t) {
            QCOMPARE(logits[t].size(), want[t].size());
            for (size_t v = 0; v < logits[t].size(); ++v)
                maxDiff = std::max(maxDiff, std::abs(logits[t][v] - want[t][v].get<double>()));
        }
        qInfo("%s: max |logit - reference| = %.3g", name.c_str(), maxDiff);
        QVERIFY2(maxDiff < 1e-4, qPrintable(QString("max logit difference %1").arg(maxDiff)));

        // Log-probs of ids[t] given ids[:t].
        const auto &lp = expected["logprobs"];
        ScoreRequest request{{input.front()}, std::vector<int64_t>(input.begin() + 1, input.end())};
        const auto score = lm.score({request}).front();
        QCOMPARE(score.tokenLogprobs.size(), lp["token_logprobs"].size());
        double maxLpDiff = 0;
        for (size_t i = 0; i < score.tokenLogprobs.size(); ++i)
            maxLpDiff = std::max(maxLpDiff, std::abs(score.tokenLogprobs[i] - lp["token_logprobs"][i].get<double>()));
        qInfo("%s: max |logprob - reference| = %.3g", name.c_str(), maxLpDiff);
        QVERIFY(maxLpDiff < 1e-4);
        QVERIFY(std::abs(score.sumLogprob - lp["sum_logprob"].get<double>()) < 1e-3);
        QVERIFY(std::abs(score.meanLogprob - lp["mean_logprob"].get<double>()) < 1e-4);

        // Greedy continuation, identical ids.
        GenerationOptions options;
        options.maxNewTokens = 16;
        const auto generated = lm.generate({input}, options).front();
        QCOMPARE(generated.ids, test::ids(expected["greedy_16"]["greedy_ids"]));
    }
};

QTEST_GUILESS_MAIN(TestModelGolden)
#include "tst_modelgolden.moc"
