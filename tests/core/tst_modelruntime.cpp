// Model runtime behaviour: KV cache, padding, sampling, saving and loading.
#include "model/generator.h"
#include "model/languagemodel.h"
#include "model/modelloader.h"
#include "model/safetensors.h"
#include "model/sequencescorer.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <fstream>
#include <QtTest>

#include <torch/torch.h>

using namespace plad;

namespace {

const std::vector<int64_t> kPromptA = {3, 17, 42, 5, 99, 250, 7, 7, 7, 120, 64, 1};
const std::vector<int64_t> kPromptB = {11, 200, 5};
const std::vector<int64_t> kPromptC = {9, 8, 7, 6, 5, 4, 3};

torch::Tensor fullLogits(CausalLMImpl &model, const std::vector<int64_t> &ids)
{
    torch::NoGradGuard noGrad;
    const int64_t T = static_cast<int64_t>(ids.size());
    auto input = torch::tensor(ids, torch::kInt64).view({1, T});
    return model.forward(input, torch::arange(T).view({1, T}), torch::Tensor(), nullptr)[0]; // [T, V]
}

void addModelRows()
{
    QTest::addColumn<QString>("model");
    for (const char *m : {"gpt2", "llama", "qwen2", "qwen3", "mistral"})
        QTest::newRow(m) << m;
}

} // namespace

class TestModelRuntime : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    std::filesystem::path tmp(const std::string &name) const { return std::filesystem::path(mTmp.path().toStdString()) / name; }

private Q_SLOTS:
    void kvCacheMatchesRecomputation_data() { addModelRows(); }
    void kvCacheMatchesRecomputation()
    {
        QFETCH(QString, model);
        auto lm = LanguageModel::load(test::modelDir(model.toStdString()));
        for (const bool greedy : {true, false}) {
            GenerationOptions options;
            options.maxNewTokens = 20;
            options.sampling.greedy = greedy;
            options.sampling.temperature = 1.3;
            options.sampling.seed = 42;
            options.useCache = true;
            const auto cached = lm.generate({kPromptA, kPromptB}, options);
            options.useCache = false;
            const auto recomputed = lm.generate({kPromptA, kPromptB}, options);
            QCOMPARE(cached.size(), size_t(2));
            for (size_t i = 0; i < cached.size(); ++i) {
                QCOMPARE(cached[i].ids.size(), size_t(20));
                QCOMPARE(cached[i].ids, recomputed[i].ids);
            }
        }
    }

    void cachedStepLogitsMatchFullForward()
    {
        // Feeding a sequence token by token through the cache reproduces the full forward.
        auto lm = LanguageModel::load(test::modelDir("llama"));
        auto &model = *lm.module();
        torch::NoGradGuard noGrad;
        const auto full = fullLogits(model, kPromptA);
        KVCache cache = model.newCache();
        for (size_t t = 0; t < kPromptA.size(); ++t) {
            auto id = torch::tensor({kPromptA[t]}, torch::kInt64).view({1, 1});
            auto pos = torch::tensor({static_cast<int64_t>(t)}, torch::kInt64).view({1, 1});
            auto step = model.forward(id, pos, torch::Tensor(), &cache)[0][0];
            QVERIFY2(torch::allclose(step, full[static_cast<int64_t>(t)], 1e-5, 1e-5), qPrintable(QString("position %1").arg(t)));
        }
        QCOMPARE(cache.length(), int64_t(kPromptA.size()));
    }

    void leftPaddedBatchMatchesSingleRows_data() { addModelRows(); }
    void leftPaddedBatchMatchesSingleRows()
    {
        QFETCH(QString, model);
        auto lm = LanguageModel::load(test::modelDir(model.toStdString()));
        GenerationOptions options;
        options.maxNewTokens = 12;
        const auto batch = lm.generate({kPromptA, kPromptB, kPromptC}, options);
        for (size_t i = 0; i < 3; ++i) {
            const auto &prompt = i == 0 ? kPromptA : (i == 1 ? kPromptB : kPromptC);
            QCOMPARE(batch[i].ids, lm.generate({prompt}, options).front().ids);
        }

        // The raw forward with left padding: each row's real positions equal the row alone.
        auto &m = *lm.module();
        torch::NoGradGuard noGrad;
        const int64_t P = static_cast<int64_t>(kPromptA.size());
        const int64_t pad = P - static_cast<int64_t>(kPromptB.size());
        auto ids = torch::zeros({2, P}, torch::kInt64);
        auto mask = torch::zeros({2, P}, torch::kInt64);
        ids[0] = torch::tensor(kPromptA);
        mask[0].fill_(1);
        ids[1].narrow(0, pad, P - pad).copy_(torch::tensor(kPromptB));
        mask[1].narrow(0, pad, P - pad).fill_(1);
        auto positions = (mask.cumsum(1) - 1).clamp_min(0);
        auto logits = m.forward(ids, positions, mask, nullptr);
        // Different batch shapes take different BLAS kernels, so sums round differently: the
        // rows agree to float32 accumulation error, not bit for bit (1e-4 on these logits).
        const auto alone = fullLogits(m, kPromptB);
        const double diffA = (logits[0] - fullLogits(m, kPromptA)).abs().max().item<double>();
        const double diffB = (logits[1].narrow(0, pad, P - pad) - alone).abs().max().item<double>();
        QVERIFY2(diffA <= 1e-4, qPrintable(QStringLiteral("unpadded row differs by %1").arg(diffA)));
        QVERIFY2(diffB <= 1e-4 * std::max(1.0, alone.abs().max().item<double>()),
                 qPrintable(QStringLiteral("left-padded row differs by %1").arg(diffB)));
    }

    void batchedScoresMatchSingleScores_data() { addModelRows(); }
    void batchedScoresMatchSingleScores()
    {
        QFETCH(QString, model);
        auto lm = LanguageModel::load(test::modelDir(model.toStdString()));
        const std::vector<ScoreRequest> requests = {
            {kPromptB, {4, 5, 6, 7, 8}}, {kPromptA, {1}}, {kPromptC, {100, 101}}, {{2}, kPromptA}};
        const auto batched = lm.score(requests, 4);
        for (size_t i = 0; i < requests.size(); ++i) {
            const auto single = lm.score({requests[i]}, 1).front();
            QCOMPARE(batched[i].tokenLogprobs.size(), requests[i].completionIds.size());
            for (size_t j = 0; j < single.tokenLogprobs.size(); ++j) {
                const double diff = std::abs(batched[i].tokenLogprobs[j] - single.tokenLogprobs[j]);
                QVERIFY2(diff < 1e-4 * std::max(1.0, std::abs(single.tokenLogprobs[j])), qPrintable(QString("request %1 token %2: %3 vs %4").arg(i).arg(j).arg(batched[i].tokenLogprobs[j]).arg(single.tokenLogprobs[j])));
            }
            QVERIFY(std::abs(batched[i].meanLogprob - batched[i].sumLogprob / requests[i].completionIds.size()) < 1e-9);
        }
        // The scores are the full forward's log-softmax at the predicting positions.
        auto &m = *lm.module();
        std::vector<int64_t> seq = kPromptB;
        seq.insert(seq.end(), {4, 5, 6, 7, 8});
        auto lsm = torch::log_softmax(fullLogits(m, seq), -1);
        for (size_t j = 0; j < 5; ++j) {
            const double want = lsm[static_cast<int64_t>(kPromptB.size() + j - 1)][static_cast<int64_t>(4 + j)].item<double>();
            QVERIFY2(std::abs(batched[0].tokenLogprobs[j] - want) < 1e-4 * std::max(1.0, std::abs(want)),
                     qPrintable(QString("token %1: %2 vs %3").arg(j).arg(batched[0].tokenLogprobs[j]).arg(want)));
        }
    }

    void scoringCarriesGradients()
    {
        auto lm = LanguageModel::load(test::modelDir("qwen2"));
        auto &m = *lm.module();
        m.zero_grad();
        const auto scored = scoreBatch(m, {{kPromptB, {4, 5, 6}}, {kPromptC, {9}}});
        QVERIFY(scored.sum.requires_grad());
        scored.sum.sum().backward();
        double norm = 0;
        for (const auto &p : m.parameters())
            if (p.grad().defined())
                norm += p.grad().norm().item<double>();
        QVERIFY(norm > 0);
        torch::NoGradGuard noGrad;
        QVERIFY(!scoreBatch(m, {{kPromptB, {4}}}).sum.requires_grad());
    }

    void samplingIsReproducibleFromTheSeed()
    {
        auto lm = LanguageModel::load(test::modelDir("llama"));
        GenerationOptions options;
        options.maxNewTokens = 24;
        options.sampling.greedy = false;
        options.sampling.temperature = 1.5;
        options.sampling.topK = 50;
        options.sampling.topP = 0.95;
        options.sampling.seed = 7;
        const auto a = lm.generate({kPromptA, kPromptB}, options);
        const auto b = lm.generate({kPromptA, kPromptB}, options);
        QCOMPARE(a[0].ids, b[0].ids);
        QCOMPARE(a[1].ids, b[1].ids);
        int differing = 0;
        for (uint64_t seed = 8; seed < 12; ++seed) {
            options.sampling.seed = seed;
            differing += lm.generate({kPromptA}, options).front().ids != a[0].ids;
        }
        QVERIFY(differing >= 3);
    }

    void topKOneAndTinyTopPAreGreedy()
    {
        auto lm = LanguageModel::load(test::modelDir("qwen2"));
        GenerationOptions greedy;
        greedy.maxNewTokens = 10;
        const auto want = lm.generate({kPromptC}, greedy).front().ids;
        GenerationOptions k1 = greedy;
        k1.sampling.greedy = false;
        k1.sampling.topK = 1;
        k1.sampling.seed = 99;
        QCOMPARE(lm.generate({kPromptC}, k1).front().ids, want);
        GenerationOptions p = greedy;
        p.sampling.greedy = false;
        p.sampling.topP = 1e-6;
        p.sampling.seed = 5;
        QCOMPARE(lm.generate({kPromptC}, p).front().ids, want);
    }

    void samplingFollowsTheDistribution()
    {
        // Temperature 1 with no truncation samples the model's own distribution: over many
        // seeds, the empirical frequency of the first token approaches its softmax probability.
        auto lm = LanguageModel::load(test::modelDir("gpt2"));
        auto probs = torch::softmax(fullLogits(*lm.module(), kPromptB)[-1], -1);
        const int64_t top = probs.argmax().item<int64_t>();
        const double p = probs[top].item<double>();
        GenerationOptions options;
        options.maxNewTokens = 1;
        options.sampling.greedy = false;
        std::vector<std::vector<int64_t>> prompts(400, kPromptB);
        options.sampling.seed = 123;
        const auto results = lm.generate(prompts, options);
        int hits = 0;
        for (const auto &r : results)
            hits += r.ids.front() == top;
        const double freq = hits / 400.0;
        const double sigma = std::sqrt(p * (1 - p) / 400.0);
        QVERIFY2(std::abs(freq - p) < 5 * sigma + 1e-3, qPrintable(QString("freq %1 vs p %2").arg(freq).arg(p)));
    }

    void repetitionPenaltyFollowsHuggingFace()
    {
        // One greedy step with the penalty equals argmax over logits where every token already
        // in the prompt had a positive logit divided and a negative one multiplied by it.
        auto lm = LanguageModel::load(test::modelDir("gpt2"));
        auto logits = fullLogits(*lm.module(), kPromptA)[-1].clone();
        const double penalty = 50.0;
        for (int64_t id : kPromptA) {
            const double v = logits[id].item<double>();
            logits[id] = v < 0 ? v * penalty : v / penalty;
        }
        const int64_t want = logits.argmax().item<int64_t>();
        GenerationOptions options;
        options.maxNewTokens = 1;
        options.sampling.repetitionPenalty = penalty;
        QCOMPARE(lm.generate({kPromptA}, options).front().ids.front(), want);
        // The fixture's greedy continuation repeats token 1 forever; a penalty breaks that.
        options.maxNewTokens = 6;
        const auto ids = lm.generate({kPromptA}, options).front().ids;
        QVERIFY(std::count(ids.begin(), ids.end(), int64_t(1)) < 6);
    }

    void stopsAtEosAndStopSequences()
    {
        auto lm = LanguageModel::load(test::modelDir("llama"));
        GenerationOptions options;
        options.maxNewTokens = 16;
        const auto free = lm.generate({kPromptA}, options).front().ids; // 332, 178, 102, 96, ...
        options.eosTokenIds = {free[3]};
        auto r = lm.generate({kPromptA, kPromptB}, options);
        QCOMPARE(r[0].ids, std::vector<int64_t>(free.begin(), free.begin() + 4));
        QVERIFY(r[0].finishReason == FinishReason::Eos);
        options.eosTokenIds.clear();
        options.stopSequences = {{free[1], free[2]}};
        r = lm.generate({kPromptA}, options);
        QCOMPARE(r[0].ids, std::vector<int64_t>(free.begin(), free.begin() + 3));
        QVERIFY(r[0].finishReason == FinishReason::StopSequence);
        options.stopSequences.clear();
        options.maxNewTokens = 5;
        QVERIFY(lm.generate({kPromptA}, options).front().finishReason == FinishReason::Length);
    }

    void cancellationReturnsPartialResults()
    {
        auto lm = LanguageModel::load(test::modelDir("gpt2"));
        std::stop_source stop;
        int reports = 0;
        JobContext context(stop.get_token(), [&](const JobProgress &p) {
            ++reports;
            if (p.done >= 3)
                stop.request_stop();
        });
        GenerationOptions options;
        options.maxNewTokens = 40;
        // Throttling may drop reports, so request the stop directly after the first one too.
        JobContext direct(stop.get_token(), [&](const JobProgress &) { stop.request_stop(); });
        const auto r = lm.generate({kPromptA}, options, &direct);
        QVERIFY(r.front().finishReason == FinishReason::Cancelled);
        QVERIFY(r.front().ids.size() >= 1 && r.front().ids.size() < 40);
        Q_UNUSED(reports);
    }

    void saveAndLoadRoundTripIsExact_data() { addModelRows(); }
    void saveAndLoadRoundTripIsExact()
    {
        QFETCH(QString, model);
        auto lm = LanguageModel::load(test::modelDir(model.toStdString()));
        const auto dir = tmp("roundtrip-" + model.toStdString());
        lm.save(dir);
        auto again = LanguageModel::load(dir);
        QVERIFY(torch::equal(fullLogits(*lm.module(), kPromptA), fullLogits(*again.module(), kPromptA)));

        // The saved file uses transformers' names and layouts.
        SafetensorsFile file(dir / "model.safetensors");
        if (model == "gpt2") {
            QCOMPARE(file.entry("transformer.h.0.attn.c_attn.weight").shape, (std::vector<int64_t>{48, 144}));
            QVERIFY(!file.contains("lm_head.weight")); // tied
        } else {
            QVERIFY(file.contains("model.layers.1.self_attn.o_proj.weight"));
            QVERIFY(file.contains("model.norm.weight"));
        }
        const auto config = nlohmann::json::parse(std::ifstream(dir / "config.json"));
        QCOMPARE(config["model_type"].get<std::string>(), model.toStdString());
    }

    void halfPrecisionCheckpointsLoad_data()
    {
        QTest::addColumn<QString>("dtype");
        QTest::newRow("F16") << "float16";
        QTest::newRow("BF16") << "bfloat16";
    }
    void halfPrecisionCheckpointsLoad()
    {
        QFETCH(QString, dtype);
        auto lm = LanguageModel::load(test::modelDir("llama"));
        const auto dir = tmp("half-" + dtype.toStdString());
        lm.save(dir, dtype.toStdString());
        SafetensorsFile file(dir / "model.safetensors");
        QCOMPARE(toString(file.entry("lm_head.weight").dtype), std::string(dtype == "float16" ? "F16" : "BF16"));

        // Loading converts to float32 exactly: same as rounding the float32 weights to the
        // half type and back.
        auto half = LanguageModel::load(dir);
        QCOMPARE(half.summary().storedDtypes, std::vector<std::string>{dtype == "float16" ? "F16" : "BF16"});
        auto rounded = LanguageModel::load(test::modelDir("llama"));
        {
            torch::NoGradGuard noGrad;
            for (auto &p : rounded.module()->parameters())
                p.copy_(p.to(parseDtype(dtype.toStdString())).to(torch::kFloat32));
        }
        QVERIFY(torch::equal(fullLogits(*half.module(), kPromptA), fullLogits(*rounded.module(), kPromptA)));

        // bfloat16 can also run as the compute dtype; float16 compute has no CPU kernels in
        // this Torch build and is refused with a clear message instead of failing mid-forward.
        if (dtype == "float16") {
            test::expectError([&] { LanguageModel::load(dir, "cpu", "float16"); }, "float16 compute is not available on the CPU");
            return;
        }
        auto compute = LanguageModel::load(dir, "cpu", dtype.toStdString());
        QCOMPARE(compute.summary().computeDtype, dtype.toStdString());
        const auto logits = compute.logits(kPromptA);
        double maxDiff = 0;
        const auto reference = fullLogits(*half.module(), kPromptA);
        for (size_t t = 0; t < logits.size(); ++t)
            for (size_t v = 0; v < logits[t].size(); ++v)
                maxDiff = std::max(maxDiff, std::abs(logits[t][v] - reference[static_cast<int64_t>(t)][static_cast<int64_t>(v)].item<double>()));
        QVERIFY2(maxDiff < 1.0, qPrintable(QString("half compute drifted by %1").arg(maxDiff)));
    }

    void shardedCheckpointLoads()
    {
        auto lm = LanguageModel::load(test::modelDir("qwen2"));
        const auto dir = tmp("sharded-qwen2");
        std::filesystem::create_directories(dir);
        std::filesystem::copy_file(test::modelDir("qwen2") / "config.json", dir / "config.json");
        SafetensorsFile source(test::modelDir("qwen2") / "model.safetensors");
        std::vector<std::pair<std::string, torch::Tensor>> first, second;
        nlohmann::json map;
        for (const auto &e : source.entries()) {
            const bool inFirst = e.name.find("layers.1.") == std::string::npos;
            (inFirst ? first : second).emplace_back(e.name, source.read(e.name));
            map[e.name] = inFirst ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
        }
        writeSafetensors(dir / "model-00001-of-00002.safetensors", first);
        writeSafetensors(dir / "model-00002-of-00002.safetensors", second);
        test::writeBytes(dir / "model.safetensors.index.json", nlohmann::json{{"metadata", {}}, {"weight_map", map}}.dump());
        auto sharded = LanguageModel::load(dir);
        QVERIFY(torch::equal(fullLogits(*lm.module(), kPromptA), fullLogits(*sharded.module(), kPromptA)));
    }

    void summaryDescribesTheModel()
    {
        auto lm = LanguageModel::load(test::modelDir("llama"));
        const auto s = lm.summary();
        QCOMPARE(s.modelType, std::string("llama"));
        QCOMPARE(s.vocabSize, int64_t(384));
        QCOMPARE(s.contextLength, int64_t(128));
        QCOMPARE(s.keyValueHeads, int64_t(2));
        QCOMPARE(s.parameterCount, lm.config().parameterCount());
        // 2 layers x (q 64x64 + k,v 2x 32x64 + o 64x64 + 3 x 64x96 MLP + 2 norms) + embed + head + norm
        QCOMPARE(s.parameterCount, int64_t(2 * (4096 + 2 * 2048 + 4096 + 3 * 6144 + 128) + 2 * 384 * 64 + 64));
    }

    void randomModelsOfEveryArchitectureRun()
    {
        for (const auto &name : {"gpt2", "llama", "mistral", "qwen2", "qwen3"}) {
            auto lm = LanguageModel::load(test::modelDir(name));
            auto fresh = LanguageModel::create(lm.config(), 3);
            QCOMPARE(fresh.summary().parameterCount, lm.summary().parameterCount);
            const auto logits = fresh.logits({1, 2, 3});
            QCOMPARE(logits.size(), size_t(3));
            for (float v : logits[2])
                QVERIFY(std::isfinite(v));
        }
    }
};

QTEST_GUILESS_MAIN(TestModelRuntime)
#include "tst_modelruntime.moc"
