// Supervised fine-tuning on the synthetic reversal task: learning, exact resume, NaN handling.
#include "common/error.h"
#include "eval/generationeval.h"
#include "model/generator.h"
#include "model/languagemodel.h"
#include "model/modelloader.h"
#include "tokenizer/bpetrainer.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"
#include "train/sftdata.h"
#include "train/sftjob.h"
#include "train/sfttrainer.h"
#include "train/synthetictask.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <nlohmann/json.hpp>
#include <stop_token>

#include <torch/torch.h>

using namespace plad;

class TestSft : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    std::optional<Tokenizer> mTokenizer;
    EncodedExamples mTrain, mValidation;

    std::filesystem::path tmp(const std::string &name) const { return std::filesystem::path(mTmp.path().toStdString()) / name; }

    CausalLM freshModel(uint64_t seed)
    {
        ScratchModelSpec spec;
        spec.vocabSize = mTokenizer->vocabSize();
        spec.hiddenSize = 64;
        spec.layers = 2;
        spec.heads = 4;
        spec.contextLength = 64;
        spec.eosTokenId = *mTokenizer->specialTokens().eos;
        auto model = createModel(scratchModelConfig(spec), seed);
        model->train();
        return model;
    }

    TrainingOptions options(int64_t steps)
    {
        TrainingOptions o;
        o.learningRate = 3e-3;
        o.warmupSteps = 10;
        o.maxSteps = steps;
        o.batchSize = 16;
        o.evalEvery = 0;
        o.weightDecay = 0.01;
        o.seed = 5;
        return o;
    }

private Q_SLOTS:
    void initTestCase()
    {
        // A byte-level BPE trained on the task's own text, as a user would for a new task.
        const auto records = makeReversalTask(1200, 1);
        std::string corpus;
        for (const auto &r : records)
            corpus += r.prompt + r.reference + "\n";
        test::writeBytes(tmp("corpus.txt"), corpus);
        BpeTrainerOptions bpe;
        bpe.vocabSize = 320;
        trainByteLevelBpe(tmp("corpus.txt"), tmp("tokenizer"), bpe);
        mTokenizer = Tokenizer::load(tmp("tokenizer"));

        const auto splits = splitDataset(records, {3, 0.1, 0.0});
        const auto t = PromptTemplate::preset("plain");
        EncodingLimits limits;
        limits.contextLength = 64;
        mTrain = encodeExamples(splits.train, *mTokenizer, t, limits);
        mValidation = encodeExamples(splits.validation, *mTokenizer, t, limits);
        QVERIFY(mValidation.examples.size() > 60);
        QCOMPARE(mTrain.truncatedPrompts, int64_t(0));
    }

    void learnsTheTask()
    {
        SftTrainer trainer(freshModel(1), mTrain.examples, mValidation.examples, options(250), tmp("learn"));
        const double before = trainer.evaluate();
        std::vector<double> losses;
        const auto result = trainer.run(nullptr, [&](const TrainingPoint &p) { losses.push_back(p.loss); });
        QVERIFY(result.stop == TrainStop::Completed);
        QCOMPARE(result.steps, int64_t(250));
        QVERIFY(result.validationLoss.has_value());
        qInfo("validation loss per response token: %.3f before, %.3f after 250 steps", before, *result.validationLoss);
        // The response is four word tokens and EOS. A model that ignores the prompt cannot beat
        // ln 20 = 3.0 nats on each word, so even with a free EOS its mean stays above
        // 4 x 3.0 / 5 = 2.4 nats per token. Below 0.7 the model must be copying from its prompt.
        QVERIFY(before > 3.0);
        QVERIFY2(*result.validationLoss < 0.7, qPrintable(QString::number(*result.validationLoss)));
        QVERIFY(losses.back() < losses.front() / 4);

        // Greedy decoding of a validation prompt gives the reversed words.
        GenerationOptions gen;
        gen.maxNewTokens = 12;
        gen.eosTokenIds = {*mTokenizer->specialTokens().eos};
        auto model = trainer.model();
        model->eval();
        int correct = 0;
        const auto records = makeReversalTask(1200, 1);
        const auto splits = splitDataset(records, {3, 0.1, 0.0});
        for (size_t i = 0; i < 20; ++i) {
            const auto &e = mValidation.examples[i];
            const auto out = plad::generate(*model, {e.prompt}, gen).front();
            std::vector<int64_t> ids = out.ids;
            if (!ids.empty() && ids.back() == gen.eosTokenIds.front())
                ids.pop_back();
            correct += mTokenizer->decode(ids) == splits.validation[i].reference;
        }
        QVERIFY2(correct >= 15, qPrintable(QString("%1 of 20 reversed correctly").arg(correct)));

        // The run directory holds a loadable Hugging Face checkpoint and the metrics.
        auto reloaded = LanguageModel::load(trainer.checkpointDirectory());
        QCOMPARE(reloaded.summary().parameterCount, LanguageModel::create(model->config()).summary().parameterCount);
        std::ifstream metrics(tmp("learn") / "metrics.jsonl");
        int lines = 0;
        for (std::string line; std::getline(metrics, line);)
            ++lines;
        QCOMPARE(lines, 250);
    }

    void generationEvaluationScoresAndCompares()
    {
        // Uses the model learnsTheTask() trained and checkpointed.
        auto trained = LanguageModel::load(tmp("learn") / "checkpoint");
        auto untrained = LanguageModel::create(trained.config(), 9);
        const auto splits = splitDataset(makeReversalTask(1200, 1), {3, 0.1, 0.0});
        const std::vector<DatasetRecord> records(splits.validation.begin(), splits.validation.begin() + 40);
        GenerationEvalOptions options;
        options.promptTemplate = PromptTemplate::preset("plain");
        options.limits.contextLength = 64;
        options.maxNewTokens = 12;
        options.batchSize = 16; // three batches, the last one partial

        const auto good = evaluateGeneration(trained, *mTokenizer, records, options);
        const auto bad = evaluateGeneration(untrained, *mTokenizer, records, options);
        QCOMPARE(good.outputs.size(), records.size());
        for (size_t i = 0; i < records.size(); ++i)
            QCOMPARE(good.outputs[i].id, records[i].id); // outputs come back in record order
        // An exact reversal scores ROUGE-L F1 = 1 (the words are the reference's, in order);
        // learnsTheTask() requires 15 of 20 exact, so the mean is well above 0.75.
        qInfo("ROUGE-L F1: trained %.3f, untrained %.3f", good.mean.rougeL.f1, bad.mean.rougeL.f1);
        QVERIFY(good.mean.rougeL.f1 > 0.75);
        QVERIFY(bad.mean.rougeL.f1 < 0.3);
        const auto &first = good.outputs.front();
        QCOMPARE(first.rouge.rougeL.f1, RougeScorer().score(records.front().reference, first.prediction).rougeL.f1);
        QVERIFY(good.meanTokens > 4 && good.meanTokens <= 12);

        const auto h = compareByRougeL(good, bad);
        QCOMPARE(h.wins + h.losses + h.ties, int64_t(40));
        QVERIFY(h.winRate() > 0.9);
        const auto reverse = compareByRougeL(bad, good);
        QCOMPARE(reverse.wins, h.losses);
        QCOMPARE(reverse.losses, h.wins);
        QCOMPARE(compareByRougeL(good, good).ties, int64_t(40));

        // Comparing evaluations of different prompts is refused.
        auto fewer = good;
        fewer.outputs.pop_back();
        test::expectError([&] { compareByRougeL(good, fewer); }, "40 and 39 prompts");

        // A cancelled evaluation returns at once with what it finished (here: nothing).
        std::stop_source stop;
        stop.request_stop();
        JobContext cancelled(stop.get_token());
        const auto none = evaluateGeneration(trained, *mTokenizer, records, options, &cancelled);
        QVERIFY(none.cancelled);
        QVERIFY(none.outputs.empty());
    }

    void headToHeadCountsTies()
    {
        GenerationEvalResult a, b;
        const double scoresA[] = {0.5, 0.2, 0.3, 0.0};
        const double scoresB[] = {0.4, 0.2, 0.6, 0.0};
        for (int i = 0; i < 4; ++i) {
            EvaluatedOutput x, y;
            x.id = y.id = "p" + std::to_string(i);
            x.rouge.rougeL.f1 = scoresA[i];
            y.rouge.rougeL.f1 = scoresB[i];
            a.outputs.push_back(x);
            b.outputs.insert(b.outputs.begin(), y); // matched by id, not position
        }
        const auto h = compareByRougeL(a, b);
        QCOMPARE(h.wins, int64_t(1));
        QCOMPARE(h.losses, int64_t(1));
        QCOMPARE(h.ties, int64_t(2));
        QCOMPARE(h.winRate(), 0.5);
        QCOMPARE(HeadToHead{}.winRate(), 0.5); // nothing decided: even, as the bootstrap interval says
    }

    void resumeContinuesExactly()
    {
        auto opts = options(12);
        opts.checkpointEvery = 5;
        opts.gradAccumulation = 2;
        opts.batchSize = 8;
        std::vector<double> straight;
        SftTrainer a(freshModel(2), mTrain.examples, mValidation.examples, opts, tmp("straight"));
        a.run(nullptr, [&](const TrainingPoint &p) { straight.push_back(p.loss); });

        // Stop after 7 steps (the checkpoint is at step 5), then resume in a new trainer.
        std::stop_source stop;
        int seen = 0;
        JobContext context(stop.get_token());
        SftTrainer b(freshModel(2), mTrain.examples, mValidation.examples, opts, tmp("interrupted"));
        auto first = b.run(&context, [&](const TrainingPoint &) {
            if (++seen == 7)
                stop.request_stop();
        });
        QVERIFY(first.stop == TrainStop::Cancelled);
        QCOMPARE(first.steps, int64_t(7));

        SftTrainer c(freshModel(99), mTrain.examples, mValidation.examples, opts, tmp("interrupted"));
        std::vector<double> resumed;
        const auto second = c.run(nullptr, [&](const TrainingPoint &p) { resumed.push_back(p.loss); }, /*resume=*/true);
        QVERIFY(second.stop == TrainStop::Completed);
        QCOMPARE(resumed.size(), size_t(5)); // steps 8..12: the cancel saved a checkpoint at step 7
        for (size_t i = 0; i < resumed.size(); ++i)
            QCOMPARE(resumed[i], straight[7 + i]);
        // Final weights agree too.
        auto pa = a.model()->parameters();
        auto pc = c.model()->parameters();
        for (size_t i = 0; i < pa.size(); ++i)
            QVERIFY(torch::equal(pa[i], pc[i]));
    }

    void resumeFromAPeriodicCheckpoint()
    {
        // A killed process resumes from its last periodic checkpoint.
        auto opts = options(10);
        opts.checkpointEvery = 4;
        std::vector<double> straight;
        SftTrainer a(freshModel(4), mTrain.examples, mValidation.examples, opts, tmp("a2"));
        a.run(nullptr, [&](const TrainingPoint &p) { straight.push_back(p.loss); });
        auto shortOpts = opts;
        shortOpts.maxSteps = 8;
        SftTrainer b(freshModel(4), mTrain.examples, mValidation.examples, shortOpts, tmp("b2"));
        b.run();
        SftTrainer c(freshModel(4), mTrain.examples, mValidation.examples, opts, tmp("b2"));
        std::vector<double> resumed;
        c.run(nullptr, [&](const TrainingPoint &p) { resumed.push_back(p.loss); }, true);
        QCOMPARE(resumed.size(), size_t(2));
        QCOMPARE(resumed[0], straight[8]);
        QCOMPARE(resumed[1], straight[9]);
        std::ifstream metrics(tmp("b2") / "metrics.jsonl");
        int lines = 0;
        for (std::string line; std::getline(metrics, line);)
            ++lines;
        QCOMPARE(lines, 10);
    }

    void stopAfterContinuesTheSameSchedule()
    {
        // train.stop_after: a stretch of a longer schedule; resuming continues it as if it had never stopped.
        const auto opts = options(12);
        std::vector<double> straight, straightLr;
        SftTrainer a(freshModel(6), mTrain.examples, mValidation.examples, opts, tmp("stretch-a"));
        a.run(nullptr, [&](const TrainingPoint &p) {
            straight.push_back(p.loss);
            straightLr.push_back(p.learningRate);
        });
        SftTrainer b(freshModel(6), mTrain.examples, mValidation.examples, opts, tmp("stretch-b"));
        const auto first = b.run(nullptr, {}, false, 7);
        QVERIFY(first.stop == TrainStop::Completed);
        QCOMPARE(first.steps, int64_t(7));
        QVERIFY2(first.message.find("stopped at step 7 of 12") != std::string::npos, first.message.c_str());
        SftTrainer c(freshModel(77), mTrain.examples, mValidation.examples, opts, tmp("stretch-b"));
        std::vector<double> resumed, resumedLr;
        const auto second = c.run(nullptr, [&](const TrainingPoint &p) {
            resumed.push_back(p.loss);
            resumedLr.push_back(p.learningRate);
        }, true);
        QCOMPARE(second.steps, int64_t(12));
        QCOMPARE(resumed.size(), size_t(5));
        for (size_t i = 0; i < resumed.size(); ++i) {
            QCOMPARE(resumed[i], straight[7 + i]);
            QCOMPARE(resumedLr[i], straightLr[7 + i]); // the schedule of max_steps 12, not of 7
        }
    }

    void languageModellingObjective()
    {
        // objective all_tokens: every token after the first is predicted, prompt and template included.
        std::vector<SequencePair> examples = {{{1, 2, 3}, {4, 5}}, {{}, {7, 8}}, {{9}, {}}};
        toLanguageModelling(examples);
        QCOMPARE(examples[0].prompt, (std::vector<int64_t>{1}));
        QCOMPARE(examples[0].response, (std::vector<int64_t>{2, 3, 4, 5}));
        QCOMPARE(examples[1].prompt, (std::vector<int64_t>{7}));
        QCOMPARE(examples[1].response, (std::vector<int64_t>{8}));
        QCOMPARE(examples[2].prompt, (std::vector<int64_t>{9}));
        QVERIFY(examples[2].response.empty());

        nlohmann::json doc = {{"output", "out"}, {"tokenizer", "tok"}, {"model", {{"scratch", nlohmann::json::object()}}},
                              {"data", {{"file", "data.jsonl"}}}, {"objective", "all_tokens"}, {"train", {{"max_steps", 30}, {"stop_after", 10}}}};
        const auto config = SftJobConfig::fromJson(doc, "/base");
        QCOMPARE(config.objective, std::string("all_tokens"));
        QCOMPARE(config.stopAfter, int64_t(10));
        QCOMPARE(config.train.maxSteps, int64_t(30));
        QCOMPARE(SftJobConfig::fromJson({{"output", "o"}, {"tokenizer", "t"}, {"model", {{"scratch", nlohmann::json::object()}}},
                                         {"data", {{"file", "d.jsonl"}}}},
                                        "/base")
                     .objective,
                 std::string("response"));
        doc["objective"] = "prompts";
        test::expectError([&] { SftJobConfig::fromJson(doc, "/base"); }, "objective: must be \"response\" or \"all_tokens\", not \"prompts\"");
        doc["objective"] = "all_tokens";
        doc["train"]["stop_after"] = -2;
        test::expectError([&] { SftJobConfig::fromJson(doc, "/base"); }, "train.stop_after: must be a non-negative integer");
    }

    void nonFiniteLossStopsAndKeepsTheCheckpoint()
    {
        auto opts = options(6);
        opts.checkpointEvery = 2;
        auto model = freshModel(3);
        SftTrainer trainer(model, mTrain.examples, mValidation.examples, opts, tmp("nan"));
        int steps = 0;
        const auto result = trainer.run(nullptr, [&](const TrainingPoint &) {
            if (++steps == 3) { // poison a weight after step 3; step 4's loss is NaN
                torch::NoGradGuard noGrad;
                model->parameters().front().fill_(std::nan(""));
            }
        });
        QVERIFY(result.stop == TrainStop::NonFinite);
        QCOMPARE(result.steps, int64_t(3));
        QVERIFY(result.message.find("stopped at step 4: the loss is NaN") != std::string::npos);
        const auto state = nlohmann::json::parse(std::ifstream(trainer.checkpointDirectory() / "trainer_state.json"));
        QCOMPARE(state["step"].get<int64_t>(), int64_t(2));
        auto saved = LanguageModel::load(trainer.checkpointDirectory());
        for (const auto &p : saved.module()->parameters())
            QVERIFY(torch::isfinite(p).all().item<bool>());
    }

    void badOptionsAndData()
    {
        test::expectError([&] { TrainingOptions::fromJson({{"learning_rate", -1}}, "train"); }, "train.learning_rate: must be in (0, 1)");
        test::expectError([&] { TrainingOptions::fromJson({{"schedule", "step"}}, "train"); }, "train.schedule: must be");
        test::expectError([&] { TrainingOptions::fromJson({{"batch_size", "8"}}, "train"); }, "train.batch_size: expected an integer");
        test::expectError([&] { TrainingOptions::fromJson({{"lr", 0.1}}, "train"); }, "train.lr: unknown field");
        test::expectError([&] { TrainingOptions::fromJson({{"max_steps", 1.5}}, "train"); }, "train.max_steps: expected an integer, found 1.5");
        test::expectError([&] { TrainingOptions::fromJson({{"seed", -1}}, "train"); }, "train.seed: expected a non-negative integer");
        test::expectError([&] { TrainingOptions::fromJson({{"group_by_length", 1}}, "train"); }, "train.group_by_length: expected true or false");
        test::expectError([&] { TrainingOptions::fromJson(nlohmann::json::array(), "train"); }, "train: expected an object");
        QCOMPARE(TrainingOptions::fromJson({{"seed", 7}, {"eval_every", nullptr}}, "train").seed, uint64_t(7)); // null keeps the default
        test::expectError([&] { SftTrainer(freshModel(1), {}, {}, options(1), tmp("empty")); }, "the training split is empty");
        // Learning-rate schedule: warm-up, then cosine to the floor.
        auto o = options(110);
        QVERIFY(std::abs(learningRateAt(o, 0) - o.learningRate / 11) < 1e-12);
        QVERIFY(std::abs(learningRateAt(o, 10) - o.learningRate) < 1e-12);
        QVERIFY(std::abs(learningRateAt(o, 110) - o.learningRate * o.minLrRatio) < 1e-12);
        o.schedule = LrSchedule::Linear;
        QVERIFY(std::abs(learningRateAt(o, 60) - o.learningRate * 0.5) < 1e-12);
    }

    void conversationsAreCutInTheirLastMessage()
    {
        // A long last user turn is cut to fit; the template's turn markers and the earlier turns survive.
        const auto qwen = Tokenizer::load(test::dataDir() / "tokenizers" / "qwen3");
        const auto chat = PromptTemplate::preset("chat");
        std::string longText;
        for (int i = 0; i < 200; ++i)
            longText += "word" + std::to_string(i) + " ";
        nlohmann::ordered_json messages = nlohmann::ordered_json::array(
            {nlohmann::ordered_json::object({{"role", "system"}, {"content", "Be brief."}}),
             nlohmann::ordered_json::object({{"role", "user"}, {"content", "first question"}}),
             nlohmann::ordered_json::object({{"role", "assistant"}, {"content", "first answer"}}),
             nlohmann::ordered_json::object({{"role", "user"}, {"content", longText + "THE END"}})});
        DatasetRecord record;
        record.id = "c1";
        record.prompt = "transcript";
        record.messages = messages.dump();
        record.reference = "Short.";
        EncodingLimits limits;
        limits.contextLength = 512;
        limits.maxPromptTokens = 80;
        limits.maxResponseTokens = 32;
        for (const PromptKeep keep : {PromptKeep::Start, PromptKeep::End}) {
            limits.promptKeep = keep;
            const auto encoded = encodeExamples({record}, qwen, chat, limits);
            QCOMPARE(encoded.truncatedPrompts, int64_t(1));
            const auto &e = encoded.examples.front();
            QVERIFY2(e.prompt.size() <= 80 && e.prompt.size() >= 70, std::to_string(e.prompt.size()).c_str());
            const std::string text = qwen.decode(e.prompt);
            QVERIFY(text.starts_with("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nfirst question<|im_end|>\n"));
            QVERIFY(text.ends_with("<|im_end|>\n<|im_start|>assistant\n"));
            QCOMPARE(text.find("THE END") != std::string::npos, keep == PromptKeep::End);
            QCOMPARE(text.find("word0 ") != std::string::npos, keep == PromptKeep::Start);
            QCOMPARE(e.response, chat.encodeResponse(qwen, "Short."));
        }
        // Uncut, the prompt is exactly the template's rendering.
        limits.maxPromptTokens = 1500;
        limits.contextLength = 2048;
        const auto whole = encodeExamples({record}, qwen, chat, limits);
        QCOMPARE(whole.truncatedPrompts, int64_t(0));
        QCOMPARE(whole.examples.front().prompt, chat.encodePrompt(qwen, PromptInput(record.prompt, record.messages)));
        // A text template refuses the conversation instead of training on its transcript.
        test::expectError([&] { encodeExamples({record}, qwen, PromptTemplate::preset("plain"), limits); },
                          "a conversational prompt needs a chat template");
    }

    void truncationPolicy()
    {
        std::vector<DatasetRecord> records = {{"1", std::string(400, 'x') + " end", "short answer", "", "1", ""}};
        PromptTemplate t = PromptTemplate::preset("tldr");
        EncodingLimits limits;
        limits.contextLength = 40;
        limits.maxResponseTokens = 3;
        const auto encoded = encodeExamples(records, *mTokenizer, t, limits);
        const auto &e = encoded.examples.front();
        QCOMPARE(encoded.truncatedPrompts, int64_t(1));
        QCOMPARE(encoded.truncatedResponses, int64_t(1));
        QCOMPARE(e.response.size(), size_t(3));
        QCOMPARE(static_cast<int64_t>(e.prompt.size() + e.response.size()), int64_t(40));
        // The template's suffix survives the cut.
        const std::string text = mTokenizer->decode(e.prompt);
        QVERIFY(text.size() > 6 && text.substr(text.size() - 6) == "TL;DR:");
        limits.promptKeep = PromptKeep::End;
        const auto tail = encodeExamples(records, *mTokenizer, t, limits).examples.front();
        QVERIFY(mTokenizer->decode(tail.prompt).find("end\nTL;DR:") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestSft)
#include "tst_sft.moc"
