// The PLaD engine's parts: run config validation, judges, the store's pair records, schema
// migration, and the trainer on fixed pairs (each method moves the student the right way).
#include "model/modelloader.h"
#include "model/sequencescorer.h"
#include "plad/distillrun.h"
#include "plad/distilltrainer.h"
#include "plad/runconfig.h"
#include "eval/judge.h"
#include "eval/llmjudge.h"
#include "plad/teachers.h"
#include "store/workspace.h"
#include "testsupport.h"
#include "train/synthetictask.h"

#include <QTemporaryDir>
#include <QtTest>

#include <torch/torch.h>

using namespace plad;
namespace fs = std::filesystem;

namespace {

nlohmann::json minimalConfig()
{
    return {{"student", {{"model", "student"}}},
            {"teacher", {{"type", "local"}, {"model", "teacher"}}},
            {"data", {{"file", "data.jsonl"}}}};
}

/** A tiny from-scratch llama over a 40-token vocabulary. */
CausalLM tinyModel(uint64_t seed)
{
    ScratchModelSpec spec;
    spec.vocabSize = 40;
    spec.hiddenSize = 16;
    spec.layers = 1;
    spec.heads = 2;
    spec.contextLength = 32;
    return createModel(scratchModelConfig(spec), seed);
}

/** Pairs whose y+ and y- differ in their tokens, so a student can learn to rank them. */
std::vector<DistillItem> fixedPairs()
{
    std::vector<DistillItem> items;
    for (int64_t i = 0; i < 8; ++i) {
        DistillItem item;
        item.pairId = i + 1;
        item.prompt = {1, 2 + i % 4};
        item.chosen = {10 + i % 3, 11, 12, 2};
        item.rejected = {20 + i % 5, 21, 22, 2};
        item.reference = item.chosen;
        items.push_back(item);
    }
    return items;
}

double rankingAccuracy(CausalLMImpl &model, const std::vector<DistillItem> &items)
{
    std::vector<ScoreRequest> requests;
    for (const auto &i : items) {
        requests.push_back({i.prompt, i.chosen});
        requests.push_back({i.prompt, i.rejected});
    }
    const auto scores = scoreSequences(model, requests);
    int ranked = 0;
    for (size_t i = 0; i < items.size(); ++i)
        ranked += scores[2 * i].meanLogprob > scores[2 * i + 1].meanLogprob;
    return static_cast<double>(ranked) / static_cast<double>(items.size());
}

} // namespace

DistillTrainerOptions trainerOptions(CausalLM student, CausalLM teacher, DistillMethod method, LossConfig loss, TrainingOptions training,
                                     fs::path directory, std::function<std::vector<DistillItem>()> load)
{
    DistillTrainerOptions o;
    o.student = std::move(student);
    o.teacher = std::move(teacher);
    o.method = method;
    o.loss = std::move(loss);
    o.training = std::move(training);
    o.checkpointDirectory = std::move(directory);
    o.loadItems = std::move(load);
    return o;
}

class TestPlad : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;

private Q_SLOTS:
    void configDefaultsAndRoundTrip()
    {
        auto doc = minimalConfig();
        doc["teacher"] = {{"type", "http"}, {"base_url", "http://127.0.0.1:8000/v1"}, {"model", "big"}, {"api_key_env", "MY_KEY"}};
        qputenv("MY_KEY", "sk-secret-value");
        const auto c = RunConfig::fromJson(doc, "/base");
        QCOMPARE(toString(c.method), std::string("plad"));
        QCOMPARE(c.student, fs::path("/base/student"));
        QCOMPARE(c.loss.score, ScoreKind::Mean);
        QCOMPARE(c.loss.beta, 1.0);
        QCOMPARE(c.pairs.perPrompt, int64_t(1));
        QCOMPARE(c.labeling.policy, LabelingPolicy::TeacherPreferred);
        QVERIFY(!c.pairs.student.sampling.greedy);
        const auto stored = c.toJson();
        // The effective config reads back to itself and holds the variable's name, never the key.
        QCOMPARE(RunConfig::fromJson(stored, {}).toJson(), stored);
        QVERIFY(stored.dump().find("sk-secret-value") == std::string::npos);
        QCOMPARE(stored["teacher"]["api_key_env"].get<std::string>(), std::string("MY_KEY"));
        QCOMPARE(stored["train"]["seed"].get<uint64_t>(), uint64_t(0));
        QCOMPARE(stored["data"]["file"].get<std::string>(), std::string("/base/data.jsonl"));
    }

    void configErrorsNameTheField_data()
    {
        QTest::addColumn<QString>("patch");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown top field") << R"({"lr": 1})" << "lr: unknown field";
        QTest::newRow("bad method") << R"({"method": "ppo"})" << "method: must be \"plad\", \"plad-logistic\", \"sft\", \"seqkd\", \"word-kd\" or \"dpo\", found \"ppo\"";
        QTest::newRow("wrong type") << R"({"train": {"batch_size": "8"}})" << "train.batch_size: expected an integer";
        QTest::newRow("bad batch") << R"({"train": {"batch_size": 0}})" << "train.batch_size: must be positive";
        QTest::newRow("student missing") << R"({"student": null})" << "student: is required";
        QTest::newRow("teacher type") << R"({"teacher": {"type": "magic"}})" << "teacher.type: must be \"local\", \"http\" or \"jsonl\"";
        QTest::newRow("teacher url") << R"({"teacher": {"type": "http", "model": "m"}})" << "teacher.base_url: is required";
        QTest::newRow("jsonl file") << R"({"teacher": {"type": "jsonl", "model": null}})" << "teacher.file: is required";
        QTest::newRow("per prompt") << R"({"pairs": {"per_prompt": 0}})" << "pairs.per_prompt: must be in [1, 16]";
        QTest::newRow("pairs batch") << R"({"pairs": {"batch_size": -1}})" << "pairs.batch_size: must not be negative (0 = chosen from each model's shape";
        QTest::newRow("sampling") << R"({"pairs": {"student": {"temperature": 0}}})" << "pairs.student";
        QTest::newRow("policy") << R"({"labeling": {"policy": "coin"}})" << "labeling.policy: must be";
        QTest::newRow("min gap") << R"({"labeling": {"min_gap": -1}})" << "labeling.min_gap: must not be negative";
        QTest::newRow("llm judge") << R"({"labeling": {"policy": "judge", "judge": "llm"}})" << "labeling.llm: is required";
        QTest::newRow("judge slots") << R"({"labeling": {"policy": "judge", "judge": "llm", "llm": {"model": "j", "instructions": "which?"}}})"
                                     << "labeling.llm.instructions: must contain {prompt}";
        QTest::newRow("score") << R"({"loss": {"score": "max"}})" << "loss.score: must be \"mean\"";
        QTest::newRow("gamma") << R"({"loss": {"gamma": 0}})" << "loss.gamma: must be positive";
        QTest::newRow("kl") << R"({"loss": {"kl": "sideways"}})" << "loss.kl: must be \"forward\" or \"reverse\"";
        QTest::newRow("refresh sft") << R"({"method": "sft", "refresh": {"every": 10}})" << "refresh.every: online refresh";
        QTest::newRow("word-kd http") << R"({"method": "word-kd", "teacher": {"type": "http", "base_url": "http://h/v1", "model": "m"}})"
                                      << "teacher.type: word-kd needs";
        QTest::newRow("version") << R"({"version": 2})" << "version: only version 1";
        QTest::newRow("split") << R"({"data": {"file": "d", "split": {"validation": 0.9, "test": 0.2}}})" << "data.split:";
    }
    void configErrorsNameTheField()
    {
        QFETCH(QString, patch);
        QFETCH(QString, message);
        auto doc = minimalConfig();
        doc.merge_patch(nlohmann::json::parse(patch.toStdString()));
        test::expectError([&] { RunConfig::fromJson(doc, "/base"); }, message.toStdString());
    }

    void judges()
    {
        auto rouge = makeRougeJudge();
        QCOMPARE(rouge->name(), std::string("judge:rouge-l"));
        const auto v = rouge->judge({{"p", "the cat sat on the mat", "the cat sat", "a dog ran"},
                                     {"p", "the cat sat", "a dog ran", "the cat sat"},
                                     {"p", "the cat sat", "cat the", "the cat"},
                                     {"p", "x", "same words", "same words"}},
                                    nullptr);
        QCOMPARE(v[0].preferred, 1);
        QCOMPARE(v[0].firstScore, 2 * (3.0 / 6) * 1.0 / (3.0 / 6 + 1.0)); // P = 3/3, R = 3/6
        QCOMPARE(v[0].secondScore, 0.0);
        QCOMPARE(v[1].preferred, -1);
        QCOMPARE(v[2].preferred, -1);
        QCOMPARE(v[3].preferred, 0); // equal scores: a tie, the pair is dropped

        // Order-swapped LLM verdicts: agreement labels, disagreement (position bias) is a tie.
        QCOMPARE(combineSwapped(0.9, 0.8).preferred, 1);
        QCOMPARE(combineSwapped(0.2, 0.1).preferred, -1);
        QCOMPARE(combineSwapped(0.9, 0.2).preferred, 0); // always picks "A": no information
        QCOMPARE(combineSwapped(0.9, 0.7).firstScore, 0.8);
        QCOMPARE(combineSwapped(0.9, 0.7).secondScore, 1.0 - 0.8);
    }

    void sharedVocabularyCheck()
    {
        const fs::path root = fs::path(mTmp.path().toStdString()) / "vocab";
        for (const char *name : {"a", "b"}) {
            fs::create_directories(root / name);
            fs::copy_file(test::dataDir() / "tokenizers" / "gpt2" / "tokenizer.json", root / name / "tokenizer.json");
        }
        checkSharedVocabulary(root / "a", root / "b"); // identical: fine
        fs::create_directories(root / "c");
        fs::copy_file(test::dataDir() / "tokenizers" / "qwen3" / "tokenizer.json", root / "c" / "tokenizer.json");
        test::expectError([&] { checkSharedVocabulary(root / "a", root / "c"); }, "use seqkd or plad", "tokenizer has");
    }

    void storeKeepsPairsIdempotentlyAndMigrates()
    {
        const fs::path ws = fs::path(mTmp.path().toStdString()) / "ws";
        fs::create_directories(ws);
        {
            // A workspace written at schema version 1 (before the engine's tables) is migrated in place.
            SqliteDatabase db(ws / Workspace::fileName, true);
            db.execute("CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, method TEXT "
                       "NOT NULL, status TEXT NOT NULL, config TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL, "
                       "updated_at TEXT NOT NULL, error TEXT NOT NULL DEFAULT '');"
                       "CREATE TABLE metrics (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL, step "
                       "INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY (run_id, name, step)) WITHOUT ROWID;"
                       "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE "
                       "CASCADE, time TEXT NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);"
                       "INSERT INTO runs (id, name, method, status, config, created_at, updated_at) VALUES ('r0001-sft', 'old', 'sft', "
                       "'completed', '{}', 'then', 'then');"
                       "PRAGMA user_version=1;");
        }
        auto store = Workspace::open(ws, false);
        QCOMPARE(store.runs().requireRun("r0001-sft").name, std::string("old"));
        const auto run = store.runs().createRun("plad", "{}");
        store.pairs().addPrompts(run.id, {{"p1", 0, "train", "prompt one", "ref one"}, {"p2", 1, "train", "prompt two", "ref two"}});
        store.pairs().addPrompts(run.id, {{"p1", 0, "train", "changed", "changed"}}); // kept as first stored
        QCOMPARE(store.pairs().prompts(run.id)[0].prompt, std::string("prompt one"));
        QVERIFY(!store.pairs().prompts(run.id)[0].input().isConversational());
        // A conversational prompt keeps its messages (schema version 3) beside its transcript.
        const std::string messages = R"([{"role":"user","content":"Hi"}])";
        store.pairs().addPrompts(run.id, {{"p3", 2, "validation", "User: Hi", "Hello", messages}});
        QCOMPARE(store.pairs().promptsById(run.id).at("p3").messages, messages);
        QVERIFY(store.pairs().promptsById(run.id).at("p3").input().isConversational());

        auto generated = [](const std::string &id, const std::string &teacherText) {
            GeneratedPrompt g;
            g.promptId = id;
            StoredOutput t;
            t.source = OutputSource::Teacher;
            t.text = teacherText;
            t.tokenIds = {5, 6, 70000};
            t.studentLogprobs = {-1.5f, -0.25f, -2.0f};
            t.teacherLogprobs = std::vector<float>{-0.5f};
            StoredOutput s = t;
            s.source = OutputSource::Student;
            s.text = "student";
            s.teacherLogprobs.reset();
            g.outputs = {t, s};
            GeneratedPrompt::Pair pair;
            pair.chosen = 0;
            pair.rejected = 1;
            pair.labeller = "teacher-preferred";
            pair.initialMargin = 0.5;
            g.pairs = {pair};
            return g;
        };
        store.pairs().saveGenerated(run.id, 0, {generated("p1", "first")});
        store.pairs().saveGenerated(run.id, 0, {generated("p1", "second"), generated("p2", "other")}); // p1 again: skipped
        QCOMPARE(store.pairs().pairCount(run.id), int64_t(2));
        QCOMPARE(store.pairs().generatedPrompts(run.id, 0).size(), size_t(2));
        const auto outputs = store.pairs().outputs(run.id);
        QCOMPARE(outputs.size(), size_t(4));
        QCOMPARE(outputs[0].text, std::string("first"));
        QCOMPARE(outputs[0].tokenIds, (std::vector<int64_t>{5, 6, 70000}));
        QCOMPARE(outputs[0].studentLogprobs, (std::vector<float>{-1.5f, -0.25f, -2.0f}));
        QCOMPARE(outputs[0].teacherLogprobs->size(), size_t(1));
        QVERIFY(!outputs[1].teacherLogprobs);

        auto pairs = store.pairs().list(run.id);
        QCOMPARE(pairs[0].chosenOutput, outputs[0].id);
        QCOMPARE(pairs[0].rejectedOutput, outputs[1].id);
        store.pairs().recordStep(run.id, 3, {{3, "loss", 0.25}}, {{pairs[0].id, 1.25, 0.0}});
        store.pairs().annotate(run.id, {pairs[1].id, AnnotationAction::Weight, 2.5, "good pair", {}});
        test::expectError([&] { store.pairs().annotate(run.id, {pairs[1].id, AnnotationAction::Weight, -1, "", {}}); }, "non-negative");
        test::expectError([&] { store.pairs().annotate(run.id, {9999, AnnotationAction::Flip, 1, "", {}}); }, "has no pair 9999");
        pairs = store.pairs().list(run.id);
        QCOMPARE(*pairs[0].currentMargin, 1.25);
        QCOMPARE(*pairs[0].updatedStep, int64_t(3));
        QCOMPARE(pairs[1].annotation->weight, 2.5);
        QCOMPARE(pairs[1].annotation->note, std::string("good pair"));
        store.pairs().clearAnnotation(run.id, pairs[1].id);
        QVERIFY(!store.pairs().requirePair(run.id, pairs[1].id).annotation);
        QCOMPARE(store.runs().metrics(run.id, "loss").size(), size_t(1));
        // Deleting the run removes its pairs and outputs too.
        store.runs().deleteRun(run.id);
        QCOMPARE(store.pairs().pairCount(run.id), int64_t(0));
        QCOMPARE(store.pairs().outputs(run.id).size(), size_t(0));
        QCOMPARE(store.integrityCheck(), std::string("ok"));
    }

    void trainerMethodsRankPairsBetter_data()
    {
        QTest::addColumn<QString>("method");
        QTest::newRow("plad") << "plad";
        QTest::newRow("plad-logistic") << "plad-logistic";
        QTest::newRow("dpo") << "dpo";
    }
    void trainerMethodsRankPairsBetter()
    {
        QFETCH(QString, method);
        torch::manual_seed(3);
        auto student = tinyModel(11);
        auto items = fixedPairs();
        {
            auto reference = tinyModel(11); // the initial student: DPO's frozen reference
            std::vector<ScoreRequest> requests;
            for (const auto &i : items) {
                requests.push_back({i.prompt, i.chosen});
                requests.push_back({i.prompt, i.rejected});
            }
            const auto scores = scoreSequences(*reference, requests);
            for (size_t i = 0; i < items.size(); ++i) {
                items[i].referenceChosen = scores[2 * i].sumLogprob;
                items[i].referenceRejected = scores[2 * i + 1].sumLogprob;
            }
        }
        const double before = rankingAccuracy(*student, items);
        TrainingOptions options;
        options.learningRate = 5e-3;
        options.warmupSteps = 0;
        options.maxSteps = 40;
        options.batchSize = 4;
        options.evalEvery = 0;
        LossConfig loss;
        loss.lambda = 0.1;
        int loads = 0;
        DistillTrainer trainer(trainerOptions(student, nullptr, parseDistillMethod(method.toStdString(), "method"), loss, options,
                                              fs::path(mTmp.path().toStdString()) / ("ckpt-" + method.toStdString()), [&] {
                                                  ++loads;
                                                  return items;
                                              }));
        std::vector<DistillStep> steps;
        QVERIFY(trainer.train(40, nullptr, [&](const DistillStep &s) { steps.push_back(s); }).stop == TrainStop::Completed);
        QCOMPARE(steps.size(), size_t(40));
        QCOMPARE(steps.back().point.step, int64_t(40));
        QVERIFY(steps.front().rankingAccuracy && steps.front().meanMargin);
        QCOMPARE(steps.front().pairs.size(), size_t(4));
        QVERIFY(steps.front().pairs[0].pairId >= 1);
        // 40 steps of 4 over 8 pairs = 20 epochs; the items are loaded at every epoch start.
        QCOMPARE(loads, 20);
        const double after = rankingAccuracy(*student, items);
        QVERIFY2(after == 1.0 && after > before, (std::to_string(before) + " -> " + std::to_string(after)).c_str());
        QVERIFY(*steps.back().meanMargin > *steps.front().meanMargin);
    }

    void trainerResumesExactly()
    {
        // Two runs of 6 steps, one interrupted at 3 and restored from its checkpoint, end with the same weights.
        TrainingOptions options;
        options.learningRate = 1e-2;
        options.warmupSteps = 0;
        options.maxSteps = 6;
        options.batchSize = 3;
        options.evalEvery = 0;
        const auto items = fixedPairs();
        auto load = [&] { return items; };
        const fs::path dirA = fs::path(mTmp.path().toStdString()) / "resume-a", dirB = fs::path(mTmp.path().toStdString()) / "resume-b";
        auto a = tinyModel(5);
        DistillTrainer straight(trainerOptions(a, nullptr, DistillMethod::Plad, {}, options, dirA, load));
        std::vector<double> lossesA, lossesB;
        straight.train(6, nullptr, [&](const DistillStep &s) { lossesA.push_back(s.point.loss); });
        {
            auto b = tinyModel(5);
            DistillTrainer first(trainerOptions(b, nullptr, DistillMethod::Plad, {}, options, dirB, load));
            first.train(3, nullptr, [&](const DistillStep &s) { lossesB.push_back(s.point.loss); });
            first.checkpoint();
        }
        auto b = tinyModel(99); // other weights: the checkpoint must replace them
        DistillTrainer second(trainerOptions(b, nullptr, DistillMethod::Plad, {}, options, dirB, load));
        QCOMPARE(second.restore(), int64_t(3));
        second.train(6, nullptr, [&](const DistillStep &s) { lossesB.push_back(s.point.loss); });
        QCOMPARE(lossesB.size(), size_t(6));
        for (size_t i = 0; i < 6; ++i)
            QVERIFY2(std::abs(lossesA[i] - lossesB[i]) < 1e-6, ("step " + std::to_string(i + 1)).c_str());
        auto pa = a->named_parameters(), pb = b->named_parameters();
        for (const auto &item : pa)
            QVERIFY(torch::allclose(item.value(), pb[item.key()], 1e-5, 1e-6));
    }

    void wordKdRefusesDifferentVocabularies()
    {
        ScratchModelSpec spec;
        spec.vocabSize = 48;
        spec.hiddenSize = 16;
        spec.layers = 1;
        spec.heads = 2;
        auto teacher = createModel(scratchModelConfig(spec), 1);
        test::expectError(
            [&] {
                DistillTrainer(trainerOptions(tinyModel(1), teacher, DistillMethod::WordKd, {}, TrainingOptions{},
                                              fs::path(mTmp.path().toStdString()) / "kd", [] { return fixedPairs(); }));
            },
            "word-kd needs one vocabulary: the teacher's has 48 entries, the student's 40");
    }
};

QTEST_GUILESS_MAIN(TestPlad)
#include "tst_plad.moc"
