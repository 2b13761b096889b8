// plad run end to end on the synthetic task with tiny models, through the command line: pairs,
// PLaD training, kill -9 and resume, the HTTP teacher served by plad serve, JSONL teachers,
// exports, annotations, and the bad inputs users will hit.
#include "clirunner.h"
#include "store/workspace.h"
#include "testsupport.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QXmlStreamReader>
#include <QtTest>

#include <chrono>
#include <cstring>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <thread>

using namespace plad;
using Result = test::CliResult;
using test::lines;
using test::readText;
using test::runPlad;
using test::str;
namespace fs = std::filesystem;

namespace {

/**
 * Polls run r0001-plad's round-0 generated prompts in `ws` every `every` until at least `count`
 * are saved or 240 s have passed (the caller checks the count itself).
 */
void waitForGeneratedPrompts(const fs::path &ws, size_t count, std::chrono::milliseconds every)
{
    size_t generated = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
    while (generated < count && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(every);
        try {
            if (fs::exists(ws / Workspace::fileName))
                generated = Workspace::openReadOnly(ws).pairs().generatedPrompts("r0001-plad", 0).size();
        } catch (const StoreError &) {
            // the schema may still be being created
        }
    }
}

} // namespace

class TestPladCli : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    fs::path mRoot;

    fs::path writeConfig(const std::string &name, const nlohmann::json &patch)
    {
        return test::writeTinyRunConfig(mRoot, name, patch);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(mTmp.isValid());
        mRoot = fs::path(mTmp.path().toStdString());
        test::buildTinyTask(mRoot);
        QCOMPARE(runPlad({"tokenizer", "train", "--corpus", str(mRoot / "corpus.txt"), "--vocab-size", "280", "--out", str(mRoot / "tok2")}).exitCode, 0);
        test::sftTinyModel(mRoot, "other", "tok2", 16, 1, 2); // a student with another vocabulary
    }

    void pladRunExportsAndAnnotations()
    {
        const fs::path ws = mRoot / "ws";
        // With calibration diagnostics on 8 held-out validation prompts at steps 0, 6 and 12.
        Result r = runPlad({"run", str(writeConfig("plad.json", {{"eval", {{"prompts", 8}, {"samples", 3}, {"every", 6}}}})), "--workspace", str(ws)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto result = r.json();
        QCOMPARE(result["status"].get<std::string>(), std::string("completed"));
        QCOMPARE(result["steps"].get<int64_t>(), int64_t(12));
        const std::string run = result["run"].get<std::string>();
        QCOMPARE(run, std::string("r0001-plad"));
        const int64_t pairs = result["pairs"].get<int64_t>();
        QVERIFY(pairs > 0 && pairs <= 80); // 40 prompts x 2, minus identical outputs
        const int64_t heldOut = result["held_out_pairs"].get<int64_t>();
        QVERIFY(heldOut > 0 && heldOut <= 16);
        QVERIFY2(r.err.contains("evaluation at step 0: pair_accuracy"), r.err.constData());
        QVERIFY2(r.err.contains("round 0: 40 prompts"), r.err.constData());

        // What the run store says about it.
        r = runPlad({"runs", "list", "--workspace", str(ws)});
        QCOMPARE(r.json().size(), size_t(1));
        QCOMPARE(r.json()[0]["status"].get<std::string>(), std::string("completed"));
        r = runPlad({"runs", "show", test::q(run), "--workspace", str(ws)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto shown = r.json();
        QCOMPARE(shown["config"]["loss"]["lambda"].get<double>(), 0.1);
        QCOMPARE(shown["config"]["loss"]["beta"].get<double>(), 1.0); // a documented default, filled in
        for (const char *metric : {"loss", "ranking_accuracy", "margin", "lr", "grad_norm", "tokens_per_second", "validation_loss"})
            QVERIFY2(shown["latest_metrics"].contains(metric), metric);
        QCOMPARE(shown["latest_metrics"]["loss"]["step"].get<int64_t>(), int64_t(12));
        QCOMPARE(shown["stages"].size(), size_t(4));
        std::vector<std::pair<std::string, int64_t>> artifacts;
        for (const auto &a : shown["artifacts"])
            artifacts.emplace_back(a["kind"].get<std::string>(), a["step"].get<int64_t>());
        QCOMPARE(artifacts, (std::vector<std::pair<std::string, int64_t>>{{"checkpoint", 4}, {"checkpoint", 8}, {"checkpoint", 12}, {"model", 12}}));
        {
            auto store = Workspace::openReadOnly(ws);
            const auto stored = store.pairs().list(run);
            QCOMPARE(int64_t(stored.size()), pairs + heldOut);
            std::set<std::string> validation;
            for (const auto &p : store.pairs().prompts(run, "validation"))
                validation.insert(p.id);
            int trained = 0;
            for (const auto &p : stored) {
                QCOMPARE(p.labeller, std::string("teacher-preferred"));
                trained += p.currentMargin.has_value();
                if (validation.count(p.promptId))
                    QVERIFY(!p.currentMargin); // held-out pairs are never trained on
            }
            QVERIFY(trained > 0); // per-pair margins and losses, for sorting in the pair inspector
            const auto outputs = store.pairs().outputs(run);
            QCOMPARE(outputs.size(), size_t((40 + 8) * 4)); // 2 teacher + 2 student per prompt, dropped pairs included

            // The diagnostics: curves at steps 0, 6 and 12, and the reliability diagram's data each time.
            for (const char *name : {"eval_pair_accuracy", "eval_margin", "eval_ece", "eval_spearman"}) {
                std::vector<int64_t> steps;
                for (const auto &m : store.runs().metrics(run, name))
                    steps.push_back(m.step);
                QVERIFY2(steps == (std::vector<int64_t>{0, 6, 12}), name);
            }
            const auto evaluations = store.results().evaluations(run, "calibration");
            QCOMPARE(evaluations.size(), size_t(3));
            const auto last = nlohmann::json::parse(evaluations.back().resultJson);
            QCOMPARE(last["token_calibration"]["bins"].size(), size_t(15));
            QCOMPARE(last["pair_ranking"]["pairs"].get<int64_t>(), heldOut);
            const double ece = last["token_calibration"]["ece"].get<double>();
            QVERIFY(ece >= 0 && ece <= 1);
            for (const auto &o : outputs) {
                QVERIFY(!o.tokenIds.empty());
                QCOMPARE(o.studentLogprobs.size(), o.tokenIds.size());
                if (o.source == OutputSource::Teacher)
                    QVERIFY(o.teacherLogprobs && !o.teacherLogprobs->empty());
            }
        }

        // TRL export: one line per pair, the template applied to the prompt.
        r = runPlad({"pairs", "export", test::q(run), "--format", "trl", "--out", str(mRoot / "pairs.jsonl"), "--workspace", str(ws)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        auto exported = lines(mRoot / "pairs.jsonl");
        QCOMPARE(int64_t(exported.size()), pairs);
        const auto first = nlohmann::json::parse(exported[0]);
        QVERIFY(first["prompt"].get<std::string>().rfind("reverse:", 0) == 0);
        QVERIFY(first.contains("chosen") && first.contains("rejected"));

        // pairs list: ids and the training signal per pair; --sort margin puts the least-separated first.
        r = runPlad({"pairs", "list", test::q(run), "--sort", "margin", "--workspace", str(ws)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto listed = r.out.trimmed().split('\n');
        QCOMPARE(int64_t(listed.size()), pairs + heldOut);
        double previous = -1e9;
        for (const auto &line : listed) {
            const auto p = nlohmann::json::parse(line.toStdString());
            QVERIFY(p.contains("pair_id") && p.contains("initial_margin") && p.contains("chosen"));
            const double m = p.contains("current") ? p["current"]["margin"].get<double>() : p["initial_margin"].get<double>();
            QVERIFY(m >= previous);
            previous = m;
        }

        // Annotations: a bad line rejects the whole file; a good one discards and flips.
        auto store = Workspace::openReadOnly(ws);
        const auto stored = store.pairs().list(run);
        test::writeBytes(mRoot / "bad.jsonl", "{\"pair_id\": " + std::to_string(stored[0].id) + ", \"action\": \"discard\"}\n{\"pair_id\": 99999, "
                                                                                                 "\"action\": \"flip\"}\n");
        r = runPlad({"pairs", "import-annotations", test::q(run), str(mRoot / "bad.jsonl"), "--workspace", str(ws)});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("bad.jsonl:2: run r0001-plad has no pair 99999"), r.err.constData());
        QVERIFY(!Workspace::openReadOnly(ws).pairs().requirePair(run, stored[0].id).annotation); // nothing applied
        test::writeBytes(mRoot / "notes.jsonl", "{\"pair_id\": " + std::to_string(stored[0].id) + ", \"action\": \"discard\"}\n"
                                                    + "{\"pair_id\": " + std::to_string(stored[1].id)
                                                    + ", \"action\": \"flip\", \"note\": \"student is better\"}\n");
        r = runPlad({"pairs", "import-annotations", test::q(run), str(mRoot / "notes.jsonl"), "--workspace", str(ws)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(r.json()["annotations"].get<int64_t>(), int64_t(2));
        r = runPlad({"pairs", "export", test::q(run), "--workspace", str(ws)});
        const auto after = r.out.trimmed().split('\n');
        QCOMPARE(int64_t(after.size()), pairs - 1);
        const auto flipped = nlohmann::json::parse(after[0].toStdString());
        const auto original = nlohmann::json::parse(exported[1]);
        QCOMPARE(flipped["chosen"], original["rejected"]);

        // The student in Hugging Face layout, loadable and usable by plad eval.
        r = runPlad({"export-model", test::q(run), str(mRoot / "exported"), "--workspace", str(ws)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(r.json()["from_checkpoint"].get<bool>(), false);
        for (const char *file : {"config.json", "model.safetensors", "tokenizer.json", "prompt_template.json"})
            QVERIFY2(fs::exists(mRoot / "exported" / file), file);
        r = runPlad({"eval", str(mRoot / "exported"), "--data", str(mRoot / "rev.jsonl"), "--response-field", "reference", "--limit", "4",
                  "--max-new-tokens", "4", "--quiet"});
        QVERIFY2(r.exitCode == 0, r.err.constData());

        // plad eval by run id, against the initial student and the teacher; the result is stored with the run.
        r = runPlad({"eval", test::q(run), "--workspace", str(ws), "--against", "initial", "--against", "teacher", "--data",
                     str(mRoot / "rev.jsonl"), "--response-field", "reference", "--id-field", "id", "--limit", "12", "--max-new-tokens", "6",
                     "--quiet"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto evaluated = r.json();
        QCOMPARE(evaluated["head_to_head"].size(), size_t(2));
        for (const auto &h : evaluated["head_to_head"]) {
            const double rate = h["win_rate"].get<double>();
            QVERIFY(h["win_rate_interval"]["low"].get<double>() <= rate && rate <= h["win_rate_interval"]["high"].get<double>());
            QCOMPARE(h["wins"].get<int64_t>() + h["losses"].get<int64_t>() + h["ties"].get<int64_t>(), int64_t(12));
        }
        QCOMPARE(evaluated["head_to_head"][1]["b"].get<std::string>(), std::string("teacher"));
        const auto generation = Workspace::openReadOnly(ws).results().evaluations(run, "generation");
        QCOMPARE(generation.size(), size_t(1));
        // Stored with every prompt's outputs and verdicts, consistent with the counts and ROUGE-L.
        const auto storedEval = nlohmann::json::parse(generation[0].resultJson);
        QCOMPARE(storedEval["per_prompt"].size(), size_t(12));
        for (size_t h = 0; h < 2; ++h) {
            int64_t wins = 0, losses = 0;
            for (const auto &row : storedEval["per_prompt"]) {
                QCOMPARE(row["outputs"].size(), size_t(3));
                const auto &v = row["verdicts"][h];
                const int outcome = v["outcome"].get<int>();
                wins += outcome > 0;
                losses += outcome < 0;
                // ROUGE-L judges: the scores are the two outputs' ROUGE-L F1, the higher one wins.
                QCOMPARE(v["scores"][0].get<double>(), row["outputs"][0]["rougeL_f"].get<double>());
                QCOMPARE(v["scores"][1].get<double>(), row["outputs"][h + 1]["rougeL_f"].get<double>());
                QCOMPARE(outcome, v["scores"][0].get<double>() > v["scores"][1].get<double>() + 1e-12 ? 1
                                      : (v["scores"][1].get<double>() > v["scores"][0].get<double>() + 1e-12 ? -1 : 0));
            }
            QCOMPARE(wins, evaluated["head_to_head"][h]["wins"].get<int64_t>());
            QCOMPARE(losses, evaluated["head_to_head"][h]["losses"].get<int64_t>());
        }

        // The report, from the store: every section, charts that are well-formed SVG, nothing fetched from elsewhere.
        r = runPlad({"report", test::q(run), "--workspace", str(ws)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const fs::path html = r.json()["file"].get<std::string>();
        QCOMPARE(html, fs::absolute(ws / "runs" / run / "report.html"));
        std::ifstream reportIn(html);
        const std::string page((std::istreambuf_iterator<char>(reportIn)), {});
        for (const char *section : {"<h2>Summary</h2>", "<h2>Training curves</h2>", "<h2>Reliability diagrams</h2>", "<h2>Generation quality</h2>",
                                    "<h2>Runs in this workspace</h2>", "<h2>Pair gallery</h2>", "<h2>Configuration</h2>", "<h2>Environment</h2>",
                                    "r0001-plad vs teacher", "title=\"log p = ", "<h2>Prompt-by-prompt comparison</h2>"})
            QVERIFY2(page.find(section) != std::string::npos, section);
        {
            // The gallery shows the worst losses first: the first prompt listed is the widest ROUGE-L deficit.
            const auto rows = storedEval["per_prompt"];
            double worst = 1;
            std::string worstId;
            for (const auto &row : rows)
                if (row["verdicts"][0]["outcome"].get<int>() < 0) {
                    const double d = row["outputs"][0]["rougeL_f"].get<double>() - row["outputs"][1]["rougeL_f"].get<double>();
                    if (d < worst) {
                        worst = d;
                        worstId = row["id"].get<std::string>();
                    }
                }
            const size_t gallery = page.find("<h2>Prompt-by-prompt comparison</h2>");
            if (!worstId.empty())
                QVERIFY2(page.find("<b>" + worstId + "</b>: loss", gallery) == page.find("<div class=\"pair\"><div><b>", gallery) + std::strlen("<div class=\"pair\"><div>"),
                         worstId.c_str());
        }
        QVERIFY(page.find("<script") == std::string::npos && page.find("src=") == std::string::npos);
        int charts = 0;
        for (size_t at = page.find("<svg"); at != std::string::npos; at = page.find("<svg", at + 1)) {
            const size_t end = page.find("</svg>", at);
            QVERIFY(end != std::string::npos);
            QXmlStreamReader xml(QByteArray::fromStdString(page.substr(at, end + 6 - at)));
            while (!xml.atEnd())
                xml.readNext();
            QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
            ++charts;
        }
        QVERIFY2(charts >= 7, std::to_string(charts).c_str());
        r = runPlad({"report", test::q(run), "--workspace", str(ws), "--format", "md", "--out", str(mRoot / "report" / "run.md")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        std::ifstream mdIn(mRoot / "report" / "run.md");
        const std::string md((std::istreambuf_iterator<char>(mdIn)), {});
        QVERIFY(md.find("## Pair gallery") != std::string::npos);
        QVERIFY(md.find("![loss.svg](run.assets/loss.svg)") != std::string::npos);
        QVERIFY(fs::exists(mRoot / "report" / "run.assets" / "reliability.svg"));
        r = runPlad({"report", test::q(run), "--workspace", str(ws), "--format", "csv", "--out", str(mRoot / "metrics.csv")});
        const auto csv = lines(mRoot / "metrics.csv");
        QCOMPARE(csv.size(), size_t(1 + 13)); // header, step 0 (evaluation), steps 1..12
        QVERIFY(csv[0].rfind("step,", 0) == 0 && csv[0].find(",loss,") != std::string::npos);

        // Against the references, with an LLM judge asked in both orders (ROUGE-L cannot judge the reference).
        r = runPlad({"eval", test::q(run), "--workspace", str(ws), "--against", "reference", "--data", str(mRoot / "rev.jsonl"),
                     "--response-field", "reference", "--id-field", "id", "--limit", "6", "--max-new-tokens", "6", "--quiet"});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("can only be judged by an LLM judge"), r.err.constData());
        r = runPlad({"eval", test::q(run), "--workspace", str(ws), "--against", "reference", "--against", "initial", "--judge", "llm",
                     "--judge-config", test::q(nlohmann::json{{"type", "local"}, {"model", (mRoot / "teacher" / "model").string()}}.dump()), "--data", str(mRoot / "rev.jsonl"),
                     "--response-field", "reference", "--id-field", "id", "--limit", "6", "--max-new-tokens", "6", "--quiet", "--outputs",
                     str(mRoot / "judged.jsonl")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto judged = r.json();
        QVERIFY2(judged["judge"].get<std::string>().rfind("judge:llm:", 0) == 0, judged["judge"].dump().c_str());
        QCOMPARE(judged["head_to_head"][0]["b"].get<std::string>(), std::string("reference"));
        QCOMPARE(judged["head_to_head"][0]["against"].get<std::string>(), std::string("reference"));
        QCOMPARE(judged["models"][1]["rouge"]["rougeL"]["f"].get<double>(), 1.0);
        // The per-prompt verdicts add up to the summary's counts.
        std::map<std::string, int64_t> counted;
        std::vector<int64_t> lengths;
        for (const auto &line : lines(mRoot / "judged.jsonl")) {
            const auto doc = nlohmann::json::parse(line);
            lengths.push_back(doc["outputs"][0]["tokens"].get<int64_t>());
            const int verdict = doc["outputs"][1]["verdict"].get<int>();
            ++counted[verdict > 0 ? "wins" : verdict < 0 ? "losses" : "ties"];
        }
        for (const char *key : {"wins", "losses", "ties"})
            QCOMPARE(judged["head_to_head"][0][key].get<int64_t>(), counted[key]);
        // The length distribution of the student's outputs: nearest-rank median of six is the third.
        std::sort(lengths.begin(), lengths.end());
        const auto &distribution = judged["models"][0]["token_lengths"];
        QCOMPARE(distribution["median"].get<int64_t>(), lengths[2]);
        QCOMPARE(distribution["max"].get<int64_t>(), lengths.back());
        int64_t histogram = 0;
        for (const auto &count : distribution["histogram"]["counts"])
            histogram += count.get<int64_t>();
        QCOMPARE(histogram, int64_t(6));
        // Every stored evaluation reaches the report.
        r = runPlad({"report", test::q(run), "--workspace", str(ws)});
        std::ifstream againIn(html);
        const std::string again((std::istreambuf_iterator<char>(againIn)), {});
        QVERIFY(again.find("r0001-plad vs reference") != std::string::npos && again.find("r0001-plad vs teacher") != std::string::npos);
    }

    void baselinesAndJudgesRun_data()
    {
        QTest::addColumn<QString>("patch");
        QTest::addColumn<bool>("hasPairs");
        QTest::newRow("seqkd") << R"({"method": "seqkd"})" << false;
        QTest::newRow("sft") << R"({"method": "sft"})" << false;
        QTest::newRow("word-kd") << R"({"method": "word-kd", "loss": {"kl": "reverse"}})" << false;
        QTest::newRow("dpo") << R"({"method": "dpo"})" << true;
        QTest::newRow("logistic, rouge judge") << R"({"method": "plad-logistic", "labeling": {"policy": "judge", "judge": "rouge-l"}})" << true;
        QTest::newRow("llm judge") << R"({"labeling": {"policy": "judge", "judge": "llm", "llm": {"model": "teacher/model"}}})" << true;
        QTest::newRow("online refresh") << R"({"refresh": {"every": 5}})" << true;
        // PLaD needs only the teacher's text: a teacher with another tokenizer works.
        QTest::newRow("teacher with another vocabulary") << R"({"teacher": {"model": "other/model"}})" << true;
    }
    void baselinesAndJudgesRun()
    {
        QFETCH(QString, patch);
        QFETCH(bool, hasPairs);
        const fs::path ws = mRoot / "ws-methods";
        const auto r = runPlad({"run", str(writeConfig("method.json", nlohmann::json::parse(patch.toStdString()))), "--workspace", str(ws), "--quiet"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto j = r.json();
        QCOMPARE(j["status"].get<std::string>(), std::string("completed"));
        QCOMPARE(j["steps"].get<int64_t>(), int64_t(12));
        QCOMPARE(j["pairs"].get<int64_t>() > 0, hasPairs);
        auto store = Workspace::openReadOnly(ws);
        const std::string run = j["run"].get<std::string>();
        const auto pairs = store.pairs().list(run);
        if (QTest::currentDataTag() == QString("online refresh")) {
            // Steps 5 and 10 regenerated the student's side: rounds 1 and 2 exist.
            QCOMPARE(store.pairs().generatedPrompts(run, 2).size(), size_t(40));
            QVERIFY(!store.pairs().list(run, 2).empty());
        }
        if (patch.contains("judge"))
            for (const auto &p : pairs) {
                QVERIFY2(p.labeller.rfind("judge:", 0) == 0, p.labeller.c_str());
                QVERIFY(*p.chosenJudge > *p.rejectedJudge);
            }
        QCOMPARE(store.runs().metrics(run, "loss").size(), size_t(12));
    }

    void conversationalEndToEnd()
    {
        // A conversational dataset through SFT, plad run with a chat template on each side (the
        // teacher ChatML, the student a template file), evaluation, export and plad serve.
        const fs::path root = mRoot / "chat";
        fs::create_directories(root);
        std::string dataset;
        int index = 0;
        for (const auto &line : lines(mRoot / "rev.jsonl")) {
            const auto doc = nlohmann::json::parse(line);
            nlohmann::ordered_json messages = nlohmann::ordered_json::array();
            if (index % 2 == 0)
                messages.push_back({{"role", "system"}, {"content", "Reverse the words."}});
            if (index % 3 == 0) {
                messages.push_back({{"role", "user"}, {"content", "ready?"}});
                messages.push_back({{"role", "assistant"}, {"content", "yes"}});
            }
            messages.push_back({{"role", "user"}, {"content", doc["prompt"]}});
            messages.push_back({{"role", "assistant"}, {"content", doc["reference"]}});
            dataset += nlohmann::ordered_json{{"id", "c" + std::to_string(index++)}, {"messages", messages}}.dump() + "\n";
        }
        test::writeBytes(root / "chat.jsonl", dataset);
        // The tokenizer's EOS is the end-of-turn token, as in chat checkpoints.
        QCOMPARE(runPlad({"tokenizer", "train", "--corpus", str(mRoot / "corpus.txt"), "--vocab-size", "320", "--out", str(root / "tok"),
                          "--special", "<|im_end|>", "<|pad|>", "<|im_start|>"})
                     .exitCode,
                 0);
        test::writeBytes(root / "student.jinja", "{%- for m in messages -%}\n"
                                                 "{%- if m.role == 'system' -%}{{ '[sys] ' + m.content + '\\n' }}\n"
                                                 "{%- elif m.role == 'user' -%}{{ '[usr] ' + m.content + '\\n' }}\n"
                                                 "{%- else -%}{{ '[bot] ' + m.content + eos_token + '\\n' }}\n"
                                                 "{%- endif -%}\n"
                                                 "{%- endfor -%}\n"
                                                 "{%- if add_generation_prompt -%}{{ '[bot] ' }}{%- endif -%}\n");
        auto sftChat = [&](const std::string &name, const nlohmann::json &chatTemplate, int hidden, int steps) {
            const nlohmann::json config = {
                {"output", name},
                {"tokenizer", "tok"},
                {"model", {{"scratch", {{"hidden_size", hidden}, {"layers", 1}, {"heads", 2}, {"context_length", 160}}}}},
                {"data", {{"file", "chat.jsonl"}, {"format", "messages"}, {"template", chatTemplate}, {"limits", {{"max_prompt_tokens", 120}, {"max_response_tokens", 16}}}}},
                {"train", {{"max_steps", steps}, {"batch_size", 8}, {"warmup_steps", 2}, {"learning_rate", 0.01}}}};
            test::writeBytes(root / (name + ".json"), config.dump());
            const auto r = runPlad({"sft", "--config", str(root / (name + ".json")), "--quiet"});
            QVERIFY2(r.exitCode == 0, r.err.constData());
        };
        sftChat("teacher", {{"chat_template", "chatml"}}, 32, 30);
        sftChat("student", {{"chat_template", "student.jinja"}}, 16, 8);
        // Each trained model carries its template where transformers looks for it.
        const auto studentConfig = nlohmann::json::parse(readText(root / "student" / "model" / "tokenizer_config.json"));
        QCOMPARE(studentConfig["chat_template"].get<std::string>(), readText(root / "student.jinja"));
        QCOMPARE(nlohmann::json::parse(readText(root / "student" / "model" / "prompt_template.json"))["chat_template"].get<std::string>(),
                 std::string("model"));
        QVERIFY(readText(root / "teacher" / "model" / "tokenizer_config.json").find("<|im_start|>") != std::string::npos);

        // plad run: no template configured, so each side uses its own (docs/chat-templates.md).
        const nlohmann::json run = {
            {"method", "plad"},
            {"student", {{"model", str(root / "student" / "model").toStdString()}}},
            {"teacher", {{"type", "local"}, {"model", str(root / "teacher" / "model").toStdString()}}},
            {"data", {{"file", str(root / "chat.jsonl").toStdString()}, {"format", "messages"}, {"limits", {{"max_prompt_tokens", 120}, {"max_response_tokens", 12}}}}},
            {"pairs", {{"prompts", 16}, {"per_prompt", 1}, {"batch_size", 16}}},
            {"eval", {{"prompts", 0}}},
            {"train", {{"max_steps", 4}, {"batch_size", 4}, {"warmup_steps", 1}, {"checkpoint_every", 4}}}};
        test::writeBytes(root / "run.json", run.dump(2));
        const fs::path ws = root / "ws";
        Result r = runPlad({"run", str(root / "run.json"), "--workspace", str(ws)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const std::string runId = r.json()["run"].get<std::string>();
        {
            auto store = Workspace::openReadOnly(ws);
            const auto prompts = store.pairs().prompts(runId, "train");
            QCOMPARE(prompts.size(), size_t(16));
            for (const auto &p : prompts)
                QVERIFY(nlohmann::json::parse(p.messages).is_array()); // the conversation is kept, not only its transcript
            for (const auto &o : store.pairs().outputs(runId)) {
                QVERIFY2(o.text.find("<|im_end|>") == std::string::npos && o.text.find("[bot]") == std::string::npos, o.text.c_str());
                QVERIFY(!o.tokenIds.empty());
            }
        }
        // The TRL export is conversational.
        r = runPlad({"pairs", "export", test::q(runId), "--format", "trl", "--out", str(root / "pairs.jsonl"), "--workspace", str(ws)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto pair = nlohmann::json::parse(lines(root / "pairs.jsonl").front());
        QVERIFY(pair["prompt"].is_array() && pair["chosen"][0]["role"] == "assistant");

        // Export: the student's template in tokenizer_config.json renders the same prompts.
        r = runPlad({"export-model", test::q(runId), str(root / "exported"), "--workspace", str(ws)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        nlohmann::json cases = nlohmann::json::array();
        for (size_t i = 0; i < 6; ++i) {
            auto messages = nlohmann::json::parse(lines(root / "chat.jsonl")[i])["messages"];
            messages.erase(messages.size() - 1);
            cases.push_back({{"conversation", messages}, {"add_generation_prompt", true}});
        }
        test::writeBytes(root / "cases.json", cases.dump());
        const auto exportedRender = runPlad({"template", "render", str(root / "exported"), "--cases", str(root / "cases.json")});
        const auto trainedRender = runPlad({"template", "render", "--template", str(root / "student.jinja"), "--config",
                                            str(root / "tok" / "tokenizer_config.json"), "--cases", str(root / "cases.json")});
        QVERIFY2(exportedRender.exitCode == 0, exportedRender.err.constData());
        QVERIFY2(trainedRender.exitCode == 0, trainedRender.err.constData());
        QCOMPARE(exportedRender.json(), trainedRender.json());
        QVERIFY(exportedRender.json()[0].get<std::string>().ends_with("[bot] "));

        // Evaluation of the exported student against the initial one, on the conversations.
        r = runPlad({"eval", str(root / "exported"), "--against", str(root / "student" / "model"), "--data", str(root / "chat.jsonl"),
                     "--format", "messages", "--limit", "8", "--max-new-tokens", "8", "--quiet"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(r.json()["models"][0]["template"]["chat_template"].get<std::string>(), std::string("model"));

        // plad generate and plad chat through the template.
        test::writeBytes(root / "m.json", cases[0]["conversation"].dump());
        r = runPlad({"generate", str(root / "exported"), "--messages", str(root / "m.json"), "--max-new-tokens", "6"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(r.json()["prompt"].get<std::string>(), exportedRender.json()[0].get<std::string>());
        QProcess chat;
        chat.start(QStringLiteral(PLAD_CLI_PATH), {"chat", str(root / "exported"), "--max-new-tokens", "4"});
        chat.write("reverse: a b\nreverse: c d\n");
        chat.closeWriteChannel();
        QVERIFY(chat.waitForFinished(60000));
        QCOMPARE(chat.exitCode(), 0);
        QCOMPARE(QString::fromUtf8(chat.readAllStandardOutput()).count('\n'), 2); // one answer per turn

        // plad serve: streaming chat with logprobs, read by curl -N as OpenAI clients read it.
        QProcess server;
        server.start(QStringLiteral(PLAD_CLI_PATH), {"serve", str(root / "exported"), "--port", "0", "--model-name", "s"});
        QVERIFY(server.waitForReadyRead(60000));
        const auto url = QString::fromStdString(nlohmann::json::parse(server.readLine().toStdString())["listening"].get<std::string>());
        auto curl = [&](const QString &path, const nlohmann::json &body) {
            QProcess c;
            c.start("curl", {"-sN", "-H", "Content-Type: application/json", "-d", QString::fromStdString(body.dump()), url + path});
            if (!c.waitForFinished(60000))
                qFatal("curl did not finish");
            return c.readAllStandardOutput().toStdString();
        };
        nlohmann::json request = {{"model", "s"}, {"messages", cases[1]["conversation"]}, {"max_tokens", 6}, {"temperature", 0},
                                  {"logprobs", true}, {"top_logprobs", 2}};
        const auto whole = nlohmann::json::parse(curl("/chat/completions", request));
        QCOMPARE(whole["object"].get<std::string>(), std::string("chat.completion"));
        const std::string content = whole["choices"][0]["message"]["content"].get<std::string>();
        const auto &tokenLogprobs = whole["choices"][0]["logprobs"]["content"];
        QCOMPARE(int64_t(tokenLogprobs.size()), whole["usage"]["completion_tokens"].get<int64_t>());
        for (const auto &t : tokenLogprobs) {
            QVERIFY(t["logprob"].get<double>() <= 0);
            QCOMPARE(t["top_logprobs"].size(), size_t(2));
            QVERIFY(t["top_logprobs"][0]["logprob"].get<double>() >= t["top_logprobs"][1]["logprob"].get<double>());
            QVERIFY(t["logprob"].get<double>() <= t["top_logprobs"][0]["logprob"].get<double>() + 1e-6); // greedy picks the best
        }
        std::string fromBytes; // each token's bytes, concatenated, are the text
        for (const auto &t : tokenLogprobs)
            for (const auto &b : t["bytes"])
                fromBytes += static_cast<char>(b.get<int>());
        QCOMPARE(fromBytes, content);
        request["stream"] = true;
        const std::string events = curl("/chat/completions", request);
        std::string streamed, finish;
        bool roleFirst = false, done = false;
        size_t chunks = 0;
        for (const auto &line : QString::fromStdString(events).split('\n', Qt::SkipEmptyParts)) {
            QVERIFY2(line.startsWith("data: "), qPrintable(line));
            const auto data = line.mid(6).toStdString();
            if (data == "[DONE]") {
                done = true;
                continue;
            }
            QVERIFY(!done);
            const auto chunk = nlohmann::json::parse(data);
            QCOMPARE(chunk["object"].get<std::string>(), std::string("chat.completion.chunk"));
            const auto &choice = chunk["choices"][0];
            if (chunks++ == 0)
                roleFirst = choice["delta"]["role"] == "assistant";
            if (choice["delta"].contains("content"))
                streamed += choice["delta"]["content"].get<std::string>();
            if (!choice["finish_reason"].is_null())
                finish = choice["finish_reason"].get<std::string>();
        }
        QVERIFY(roleFirst && done);
        QCOMPARE(streamed, content);
        QCOMPARE(finish, whole["choices"][0]["finish_reason"].get<std::string>());
        // Completions stream too; wrong types are a 400 naming the field; n gives n choices.
        const std::string completionEvents = curl("/completions", {{"prompt", "reverse: a b"}, {"max_tokens", 3}, {"stream", true}});
        QVERIFY(completionEvents.find("\"object\":\"text_completion\"") != std::string::npos);
        QVERIFY(completionEvents.ends_with("data: [DONE]\n\n"));
        const auto wrong = nlohmann::json::parse(curl("/chat/completions", {{"messages", cases[0]["conversation"]}, {"max_tokens", "six"}}));
        QVERIFY2(wrong["error"]["message"].get<std::string>().find("\"max_tokens\" must be an integer") != std::string::npos, wrong.dump().c_str());
        const auto many = nlohmann::json::parse(curl("/chat/completions", {{"messages", cases[0]["conversation"]}, {"max_completion_tokens", 3},
                                                                            {"n", 3}, {"seed", 5}, {"unknown_field", 1}}));
        QCOMPARE(many["choices"].size(), size_t(3));
        const auto again = nlohmann::json::parse(curl("/chat/completions", {{"messages", cases[0]["conversation"]}, {"max_completion_tokens", 3},
                                                                             {"n", 3}, {"seed", 5}}));
        QCOMPARE(again["choices"], many["choices"]); // the same seed, the same samples
        server.terminate();
        QVERIFY(server.waitForFinished(10000));

        // With --api-key-env every route wants the key: a wrong or missing one is a 401.
        QProcess keyed;
        auto env = QProcessEnvironment::systemEnvironment();
        env.insert("PLAD_TEST_SERVE_KEY", "sesame");
        keyed.setProcessEnvironment(env);
        keyed.start(QStringLiteral(PLAD_CLI_PATH), {"serve", str(root / "exported"), "--port", "0", "--api-key-env", "PLAD_TEST_SERVE_KEY"});
        QVERIFY(keyed.waitForReadyRead(60000));
        const auto keyedUrl = QString::fromStdString(nlohmann::json::parse(keyed.readLine().toStdString())["listening"].get<std::string>());
        auto status = [&](const QString &path, const QString &key, const QByteArray &body) {
            QProcess c;
            QStringList args = {"-s", "-o", "/dev/null", "-w", "%{http_code}"};
            if (!key.isEmpty())
                args << "-H" << "Authorization: Bearer " + key;
            if (!body.isEmpty())
                args << "-H" << "Content-Type: application/json" << "-d" << QString::fromUtf8(body);
            c.start("curl", args << keyedUrl + path);
            if (!c.waitForFinished(60000))
                qFatal("curl did not finish");
            return c.readAllStandardOutput().toInt();
        };
        const QByteArray ask = R"({"prompt": "reverse: a", "max_tokens": 2})";
        QCOMPARE(status("/models", "", {}), 401);
        QCOMPARE(status("/models", "sesamE", {}), 401);
        QCOMPARE(status("/completions", "sesam", ask), 401);
        QCOMPARE(status("/models", "sesame", {}), 200);
        QCOMPARE(status("/completions", "sesame", ask), 200);
        keyed.terminate();
        QVERIFY(keyed.waitForFinished(10000));
    }

    void qwen3LayoutWithTheRealQwen3TokenizerAndTemplate()
    {
        // As close to a real chat checkpoint as the tests can ship: Qwen3's architecture (a small
        // scratch model of its layout) with Qwen3's real tokenizer.json (151,669 tokens) and
        // tokenizer_config.json (its chat template, EOS <|im_end|>), fine-tuned on conversations,
        // exported, rendered and generated from. The rendered prompts are compared with what
        // jinja2, transformers' engine, renders (tests/data/chat_templates/cases.json; it agrees
        // with @huggingface/jinja except where the two engines differ).
        const fs::path root = mRoot / "qwen3";
        fs::create_directories(root / "tok");
        for (const char *f : {"tokenizer.json", "tokenizer_config.json"})
            fs::copy_file(test::dataDir() / "tokenizers" / "qwen3" / f, root / "tok" / f, fs::copy_options::overwrite_existing);
        fs::copy_file(test::dataDir() / "datasets" / "messages.jsonl", root / "chat.jsonl", fs::copy_options::overwrite_existing);
        const nlohmann::json config = {
            {"output", "sft"},
            {"tokenizer", "tok"},
            {"model", {{"scratch", {{"style", "qwen3"}, {"hidden_size", 16}, {"layers", 1}, {"heads", 2}, {"kv_heads", 1}, {"context_length", 256}}}}},
            {"data", {{"file", "chat.jsonl"}, {"format", "messages"}, {"template", {{"chat_template", "model"}}},
                      {"split", {{"validation", 0.0}, {"test", 0.0}}}, {"limits", {{"max_prompt_tokens", 160}, {"max_response_tokens", 16}}}}},
            {"train", {{"max_steps", 3}, {"batch_size", 2}, {"warmup_steps", 1}, {"learning_rate", 0.01}}}};
        test::writeBytes(root / "sft.json", config.dump());
        // The third record's content is a list of parts, which Qwen3's template calls string
        // methods on: as in transformers, it cannot render it, and the error names the record
        // and the template's line and column.
        auto r = runPlad({"sft", "--config", str(root / "sft.json"), "--quiet"});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("record \"m3\"") && r.err.contains("tokenizer_config.json:20:") && r.err.contains("startswith"), r.err.constData());
        const auto records = lines(root / "chat.jsonl");
        test::writeBytes(root / "chat.jsonl", records[0] + "\n" + records[1] + "\n");
        r = runPlad({"sft", "--config", str(root / "sft.json"), "--quiet"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const fs::path model = root / "sft" / "model";
        const auto modelConfig = nlohmann::json::parse(readText(model / "config.json"));
        QCOMPARE(modelConfig["model_type"].get<std::string>(), std::string("qwen3"));
        QCOMPARE(modelConfig["vocab_size"].get<int64_t>(), int64_t(151669));
        r = runPlad({"model", "info", str(model)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        // The exported tokenizer_config.json keeps Qwen3's template, and renders as transformers.js does.
        const auto expectedConfig = nlohmann::json::parse(readText(test::dataDir() / "tokenizers" / "qwen3" / "tokenizer_config.json"));
        QCOMPARE(nlohmann::json::parse(readText(model / "tokenizer_config.json"))["chat_template"], expectedConfig["chat_template"]);
        const auto shared = nlohmann::ordered_json::parse(readText(test::dataDir() / "chat_templates" / "cases.json")); // key order matters to tojson
        test::writeBytes(root / "cases.json", shared["cases"].dump());
        r = runPlad({"template", "render", str(model), "--cases", str(root / "cases.json")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto rendered = r.json();
        QCOMPARE(rendered.size(), shared["cases"].size());
        for (size_t i = 0; i < rendered.size(); ++i) {
            const auto &expected = shared["expected_jinja2"]["qwen3"][i];
            if (expected.is_object()) // transformers raises for this case; so does plad
                QVERIFY2(rendered[i].contains("error"), rendered[i].dump().c_str());
            else
                QCOMPARE(rendered[i].dump(), expected.dump());
        }
        // Generation through the template: the prompt is the rendering with the generation prompt,
        // and the model's EOS (<|im_end|>) or the length limit ends the answer.
        const auto conversation = shared["cases"][0]["conversation"];
        test::writeBytes(root / "m.json", conversation.dump());
        r = runPlad({"generate", str(model), "--messages", str(root / "m.json"), "--max-new-tokens", "5"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto generated = r.json();
        QCOMPARE(generated["prompt"].get<std::string>(), shared["expected_jinja2"]["qwen3"][0].get<std::string>());
        QVERIFY(generated["ids"].size() <= 5);
        QVERIFY(generated["finish_reason"] == "stop" || generated["finish_reason"] == "length");
    }

    void httpTeacherThroughPladServe()
    {
        QProcess server;
        server.start(QStringLiteral(PLAD_CLI_PATH), {"serve", str(mRoot / "teacher" / "model"), "--port", "0", "--model-name", "teacher"});
        QVERIFY(server.waitForReadyRead(60000));
        const auto url = nlohmann::json::parse(server.readLine().toStdString())["listening"].get<std::string>();
        const auto config = writeConfig("http.json", {{"teacher", {{"type", "http"}, {"base_url", url}, {"model", "teacher"}, {"concurrency", 2}}},
                                                      {"pairs", {{"teacher", {{"greedy", true}}}}}});
        const auto r = runPlad({"run", str(config), "--workspace", str(mRoot / "ws-http"), "--quiet"});
        server.terminate();
        QVERIFY(server.waitForFinished(10000));
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY(r.json()["pairs"].get<int64_t>() > 0);
        // The endpoint's greedy text is what the local teacher's greedy decoding writes.
        auto store = Workspace::openReadOnly(mRoot / "ws-http");
        const auto viaHttp = store.pairs().outputs(r.json()["run"].get<std::string>());
        const auto local = runPlad({"run", str(writeConfig("greedy-local.json", {{"pairs", {{"teacher", {{"greedy", true}}}}}})), "--workspace",
                                 str(mRoot / "ws-http"), "--quiet"});
        QVERIFY2(local.exitCode == 0, local.err.constData());
        const auto viaLocal = store.pairs().outputs(local.json()["run"].get<std::string>());
        int compared = 0;
        for (size_t i = 0; i < viaHttp.size() && i < viaLocal.size(); ++i)
            if (viaHttp[i].source == OutputSource::Teacher) {
                QCOMPARE(viaHttp[i].promptId, viaLocal[i].promptId);
                QCOMPARE(viaHttp[i].text, viaLocal[i].text);
                ++compared;
            }
        QCOMPARE(compared, 80);
    }

    void jsonlTeacher()
    {
        // Outputs generated elsewhere, keyed by prompt id; the run's prompts are the first 40 of the split.
        const fs::path ws = mRoot / "ws-jsonl";
        std::string text;
        for (const auto &line : lines(mRoot / "rev.jsonl")) {
            const auto doc = nlohmann::json::parse(line);
            text += nlohmann::json{{"id", doc["id"]}, {"output", {doc["reference"], doc["reference"]}}}.dump() + "\n";
        }
        test::writeBytes(mRoot / "teacher-outputs.jsonl", text);
        auto r = runPlad({"run", str(writeConfig("jsonl.json", {{"teacher", {{"type", "jsonl"}, {"file", "teacher-outputs.jsonl"}, {"model", nullptr}}}})),
                       "--workspace", str(ws), "--quiet"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY(r.json()["pairs"].get<int64_t>() > 0);

        // A file that lacks some prompts is refused before any work, naming them; earlier runs are untouched.
        const auto all = lines(mRoot / "teacher-outputs.jsonl");
        std::string partial;
        for (size_t i = 0; i < all.size(); i += 2)
            partial += all[i] + "\n";
        test::writeBytes(mRoot / "partial.jsonl", partial);
        r = runPlad({"run", str(writeConfig("partial.json", {{"teacher", {{"type", "jsonl"}, {"file", "partial.jsonl"}, {"model", nullptr}}}})),
                  "--workspace", str(ws), "--quiet"});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("partial.jsonl has no output for") && r.err.contains("first missing ids:"), r.err.constData());
        auto store = Workspace::openReadOnly(ws);
        const auto runs = store.runs().list();
        QCOMPARE(runs.size(), size_t(2));
        QCOMPARE(toString(runs[0].status), std::string("failed"));
        QVERIFY(runs[0].error.find("has no output for") != std::string::npos);
        QCOMPARE(store.pairs().pairCount(runs[0].id), int64_t(0));
        QCOMPARE(toString(runs[1].status), std::string("completed"));
        QCOMPARE(store.integrityCheck(), std::string("ok"));
    }

    void killDuringTrainingThenResume()
    {
        const fs::path ws = mRoot / "ws-kill";
        const auto config = writeConfig("long.json", {{"pairs", {{"prompts", 60}, {"per_prompt", 1}}},
                                                      {"train", {{"max_steps", 100000}, {"checkpoint_every", 25}, {"eval_every", 0}}}});
        QProcess process;
        process.start(QStringLiteral(PLAD_CLI_PATH), {"run", str(config), "--workspace", str(ws), "--quiet"});
        QVERIFY(process.waitForStarted());
        // Wait until training is well past a checkpoint, then kill -9.
        int64_t reached = -1;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
        while (reached < 60 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (!fs::exists(ws / Workspace::fileName))
                continue;
            try {
                reached = Workspace::openReadOnly(ws).runs().lastMetricStep("r0001-plad");
            } catch (const StoreError &) {
                // the schema may still be being created
            }
        }
        QVERIFY2(reached >= 60, "training did not reach step 60 in time");
        // While it runs, a second process may not execute the same run.
        const auto twice = runPlad({"run", "--resume", "r0001-plad", "--workspace", str(ws)});
        QVERIFY(twice.exitCode != 0);
        QVERIFY2(twice.err.contains("run r0001-plad is being executed by another process"), twice.err.constData());
        ::kill(static_cast<pid_t>(process.processId()), SIGKILL);
        QVERIFY(process.waitForFinished(10000));
        QCOMPARE(process.exitStatus(), QProcess::CrashExit);

        int64_t pairsBefore = 0, killedAt = 0;
        {
            auto store = Workspace::openReadOnly(ws);
            QCOMPARE(store.integrityCheck(), std::string("ok"));
            pairsBefore = store.pairs().pairCount("r0001-plad");
            killedAt = store.runs().lastMetricStep("r0001-plad");
            QCOMPARE(toString(store.runs().requireRun("r0001-plad").status), std::string("running")); // what a killed process leaves
        }
        QVERIFY(pairsBefore > 0);

        // While the run is stopped, the user discards every other pair: the resumed epoch must skip them.
        std::set<int64_t> discarded;
        {
            std::string notes;
            const auto stored = Workspace::openReadOnly(ws).pairs().list("r0001-plad");
            for (size_t i = 0; i < stored.size(); i += 2) {
                discarded.insert(stored[i].id);
                notes += "{\"pair_id\": " + std::to_string(stored[i].id) + ", \"action\": \"discard\"}\n";
            }
            test::writeBytes(mRoot / "discard.jsonl", notes);
            const auto r = runPlad({"pairs", "import-annotations", "r0001-plad", str(mRoot / "discard.jsonl"), "--workspace", str(ws)});
            QVERIFY2(r.exitCode == 0, r.err.constData());
        }
        // Training read the annotations before they were made: they are pending until it reads them again.
        std::string annotatedAt;
        {
            auto store = Workspace::openReadOnly(ws);
            const std::string readAt = store.runs().requireRun("r0001-plad").annotationsReadAt;
            annotatedAt = store.pairs().requirePair("r0001-plad", *discarded.begin()).annotation->updatedAt;
            QVERIFY2(!readAt.empty() && readAt < annotatedAt, (readAt + " vs " + annotatedAt).c_str());
        }

        // Resume, let it train past where it was killed, then stop it cleanly (SIGTERM = cancel).
        QProcess resumed;
        resumed.start(QStringLiteral(PLAD_CLI_PATH), {"run", "--resume", "r0001-plad", "--workspace", str(ws)});
        QVERIFY(resumed.waitForStarted());
        int64_t now = -1;
        const auto deadline2 = std::chrono::steady_clock::now() + std::chrono::seconds(240);
        while (now < killedAt + 30 && std::chrono::steady_clock::now() < deadline2) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            now = Workspace::openReadOnly(ws).runs().lastMetricStep("r0001-plad");
        }
        resumed.terminate();
        QVERIFY(resumed.waitForFinished(30000));
        const QByteArray err = resumed.readAllStandardError();
        QCOMPARE(resumed.exitCode(), 130);
        QVERIFY2(err.contains("resumed from the checkpoint at step"), err.constData());
        const auto out = nlohmann::json::parse(resumed.readAllStandardOutput().toStdString());
        QCOMPARE(out["status"].get<std::string>(), std::string("cancelled"));

        auto store = Workspace::openReadOnly(ws);
        QCOMPARE(store.integrityCheck(), std::string("ok"));
        QCOMPARE(store.pairs().pairCount("r0001-plad"), pairsBefore);          // no pair lost, none generated twice
        const auto losses = store.runs().metrics("r0001-plad", "loss");
        QVERIFY(losses.back().step > killedAt);
        for (size_t i = 0; i < losses.size(); ++i)
            QCOMPARE(losses[i].step, int64_t(i + 1));                  // steps continue without gaps
        QCOMPARE(toString(store.runs().requireRun("r0001-plad").status), std::string("cancelled"));
        QVERIFY(store.runs().requireRun("r0001-plad").annotationsReadAt > annotatedAt); // the resumed training read them
        QCOMPARE(out["steps"].get<int64_t>(), losses.back().step);
        // Discarded pairs were not trained on after the resume; the others were (30+ steps of 4 cover them).
        for (const auto &p : store.pairs().list("r0001-plad")) {
            QVERIFY(p.updatedStep.has_value());
            if (discarded.count(p.id))
                QVERIFY2(*p.updatedStep <= killedAt, ("discarded pair " + std::to_string(p.id) + " trained at step " + std::to_string(*p.updatedStep)).c_str());
            else
                QVERIFY2(*p.updatedStep > killedAt, ("pair " + std::to_string(p.id) + " last trained at " + std::to_string(*p.updatedStep)).c_str());
        }
    }

    void killDuringGenerationThenResumeGivesTheSamePairs()
    {
        // Sampled pairs, every prompt with its own seed: a run killed (-9) in the middle of pair
        // generation and resumed ends with exactly the outputs and pairs of a run never stopped,
        // and what was saved before the kill is untouched.
        const auto config = writeConfig("kill-gen.json", {{"pairs",
                                                            {{"prompts", 0},
                                                             {"per_prompt", 2},
                                                             {"batch_size", 4},
                                                             {"teacher", {{"temperature", 0.9}}},
                                                             {"student", {{"temperature", 1.0}}}}}});
        const fs::path whole = mRoot / "ws-gen-whole", killed = mRoot / "ws-gen-killed";
        auto r = runPlad({"run", str(config), "--workspace", str(whole), "--generate-only", "--quiet"}, 600000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(r.json()["status"].get<std::string>(), std::string("cancelled"));

        QProcess process;
        process.start(QStringLiteral(PLAD_CLI_PATH), {"run", str(config), "--workspace", str(killed), "--generate-only", "--quiet"});
        QVERIFY(process.waitForStarted());
        waitForGeneratedPrompts(killed, 24, std::chrono::milliseconds(10));
        ::kill(static_cast<pid_t>(process.processId()), SIGKILL);
        QVERIFY(process.waitForFinished(10000));
        QCOMPARE(process.exitStatus(), QProcess::CrashExit);

        struct Output
        {
            std::string text;
            std::vector<float> logprobs;
        };
        // Keyed by what an output is (prompt, source, sample), not by its row id.
        auto outputsOf = [](const fs::path &ws) {
            std::map<std::tuple<std::string, int, int64_t>, Output> out;
            for (const auto &o : Workspace::openReadOnly(ws).pairs().outputs("r0001-plad"))
                out[{o.promptId, static_cast<int>(o.source), o.sample}] = {o.text, o.studentLogprobs};
            return out;
        };
        auto pairsOf = [](const fs::path &ws) {
            auto store = Workspace::openReadOnly(ws);
            std::map<int64_t, std::string> texts;
            for (const auto &o : store.pairs().outputs("r0001-plad"))
                texts[o.id] = o.text;
            std::multiset<std::tuple<std::string, std::string, std::string, std::string>> out;
            for (const auto &p : store.pairs().list("r0001-plad"))
                out.insert({p.promptId, texts[p.chosenOutput], texts[p.rejectedOutput], p.labeller});
            return out;
        };
        const auto before = outputsOf(killed);
        size_t total = 0;
        {
            auto store = Workspace::openReadOnly(killed);
            QCOMPARE(store.integrityCheck(), std::string("ok"));
            total = store.pairs().prompts("r0001-plad", "train").size();
            const size_t done = store.pairs().generatedPrompts("r0001-plad", 0).size();
            QVERIFY2(done >= 24 && done < total, qPrintable(QString("killed after %1 of %2 prompts").arg(done).arg(total)));
            QCOMPARE(before.size(), done * 4); // whole prompts only: 2 teacher + 2 student outputs each
        }

        r = runPlad({"run", "--resume", "r0001-plad", "--workspace", str(killed), "--generate-only", "--quiet"}, 600000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto after = outputsOf(killed), want = outputsOf(whole);
        QCOMPARE(after.size(), total * 4);
        QCOMPARE(want.size(), total * 4);
        for (const auto &[key, o] : want) {
            const auto it = after.find(key);
            QVERIFY2(it != after.end(), ("missing output of prompt " + std::get<0>(key)).c_str());
            QVERIFY2(it->second.text == o.text, ("prompt " + std::get<0>(key) + ": " + it->second.text + " vs " + o.text).c_str());
            QCOMPARE(it->second.logprobs.size(), o.logprobs.size());
            for (size_t t = 0; t < o.logprobs.size(); ++t)
                QVERIFY(std::abs(it->second.logprobs[t] - o.logprobs[t]) < 1e-4); // other batch shapes round differently
        }
        for (const auto &[key, o] : before)
            QCOMPARE(after.at(key).text, o.text);
        QCOMPARE(pairsOf(killed), pairsOf(whole));
        QVERIFY(!pairsOf(whole).empty());
    }

    void cancelDuringGenerationKeepsFinishedPrompts()
    {
        const fs::path ws = mRoot / "ws-cancel";
        const auto config = writeConfig("gen.json", {{"pairs", {{"prompts", 0}, {"per_prompt", 4}, {"batch_size", 2}}},
                                                     {"train", {{"max_steps", 2}}}});
        QProcess process;
        process.start(QStringLiteral(PLAD_CLI_PATH), {"run", str(config), "--workspace", str(ws)});
        QVERIFY(process.waitForStarted());
        waitForGeneratedPrompts(ws, 20, std::chrono::milliseconds(20));
        process.terminate();
        QVERIFY(process.waitForFinished(30000));
        QCOMPARE(process.exitCode(), 130);
        const auto out = nlohmann::json::parse(process.readAllStandardOutput().toStdString());
        QCOMPARE(out["status"].get<std::string>(), std::string("cancelled"));
        QVERIFY2(out["message"].get<std::string>().find("cancelled during pair generation") != std::string::npos, out.dump().c_str());

        std::map<int64_t, std::string> kept;
        size_t total = 0;
        {
            auto store = Workspace::openReadOnly(ws);
            total = store.pairs().prompts("r0001-plad", "train").size();
            const auto done = store.pairs().generatedPrompts("r0001-plad", 0);
            QVERIFY(done.size() >= 20 && done.size() < total);
            for (const auto &o : store.pairs().outputs("r0001-plad"))
                kept[o.id] = o.text;
            QCOMPARE(kept.size(), done.size() * 8); // whole prompts only: 4 teacher + 4 student outputs each
        }
        const auto r = runPlad({"run", "--resume", "r0001-plad", "--workspace", str(ws), "--quiet"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        auto store = Workspace::openReadOnly(ws);
        QCOMPARE(store.pairs().generatedPrompts("r0001-plad", 0).size(), total);
        const auto outputs = store.pairs().outputs("r0001-plad");
        QCOMPARE(outputs.size(), total * 8);
        for (const auto &o : outputs)
            if (kept.count(o.id))
                QCOMPARE(o.text, kept[o.id]); // what was saved before the cancel is untouched
    }

    void demoCommandSmallBudget()
    {
        // The README's demo with a tiny budget: three methods on the same teacher outputs, evaluation, report, summary.
        const fs::path ws = mRoot / "ws-demo";
        const auto r = runPlad({"demo", "--workspace", str(ws), "--prompts", "24", "--steps", "4", "--test-prompts", "8", "--eval-prompts", "8"}, 600000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto out = r.out.trimmed().split('\n');
        QCOMPARE(out.size(), 4);
        QVERIFY2(out[0].startsWith("report: ") && out[0].contains("report.html"), out[0].constData());
        QVERIFY2(out[1].startsWith("PLaD (consensus)") && out[1].contains("win rate vs the initial student"), out[1].constData());
        QVERIFY2(out[2].startsWith("PLaD (teacher-preferred)"), out[2].constData());
        QVERIFY2(out[3].startsWith("SeqKD ") && out[3].contains("sequence ECE") && out[3].contains("rerank@4"), out[3].constData());
        QVERIFY2(r.err.contains("pair quality on 8 held-out prompts") && r.err.contains("consensus ") && r.err.contains("teacher-likelihood "),
                 r.err.constData());
        auto store = Workspace::openReadOnly(ws);
        const auto runs = store.runs().list();
        QCOMPARE(runs.size(), size_t(3));
        for (const auto &run : runs) {
            QCOMPARE(toString(run.status), std::string("completed"));
            QCOMPARE(store.results().evaluations(run.id, "generation").size(), size_t(1));
            QCOMPARE(store.results().evaluations(run.id, "test_calibration").size(), size_t(1));
        }
        // k = 4 teacher outputs per prompt, reused by the other runs: the same texts in every run.
        QVERIFY(fs::exists(ws / "configs" / "teacher-outputs.jsonl"));
        const auto teacherLines = lines(ws / "configs" / "teacher-outputs.jsonl");
        QCOMPARE(teacherLines.size(), size_t(24 + 8)); // training and held-out prompts
        QCOMPARE(nlohmann::json::parse(teacherLines[0])["output"].size(), size_t(4));
        auto teacherTexts = [&](const std::string &run) {
            std::map<std::pair<std::string, int64_t>, std::string> texts;
            for (const auto &o : store.pairs().outputs(run, 0))
                if (o.source == OutputSource::Teacher)
                    texts[{o.promptId, o.sample}] = o.text;
            return texts;
        };
        // r0001 (consensus) generated with the local teacher; r0002 (teacher-preferred) and r0003 (SeqKD) read its outputs.
        const auto generated = teacherTexts("r0001-plad");
        QCOMPARE(generated.size(), size_t((24 + 8) * 4));
        QCOMPARE(teacherTexts("r0002-plad"), generated);
        QCOMPARE(teacherTexts("r0003-seqkd"), generated);
        // Consensus keeps at most two pairs per prompt (the teacher's medoid against the student's farthest
        // sample, and the student's closest sample against its farthest) and records who labelled each;
        // teacher-preferred one per sample.
        const auto consensus = store.pairs().list("r0001-plad");
        QVERIFY(!consensus.empty());
        std::map<std::string, int> byLabeller;
        for (const auto &p : consensus)
            ++byLabeller[p.labeller];
        QVERIFY(byLabeller["consensus:rouge-l"] > 0 && byLabeller["consensus-student:rouge-l"] > 0);
        QCOMPARE(byLabeller.size(), size_t(2));
        QVERIFY(store.pairs().pairCount("r0001-plad", 0, "train") <= 2 * 24);
        const auto preferred = store.pairs().list("r0002-plad");
        QVERIFY(preferred.size() > consensus.size());
        for (const auto &p : preferred)
            QCOMPARE(p.labeller, std::string("teacher-preferred"));
        // The readout recorded before training, from the CLI; labelling the stored outputs again gives the same figures.
        const auto quality = runPlad({"pairs", "quality", "r0001-plad", "--workspace", str(ws)});
        QVERIFY2(quality.exitCode == 0, quality.err.constData());
        const auto readout = quality.json();
        QCOMPARE(readout["prompts"].get<int64_t>(), int64_t(8));
        // teacher-preferred, consensus, its student pairs (sampled students), teacher-likelihood (a local teacher), judge
        std::vector<std::string> policies;
        for (const auto &p : readout["policies"])
            policies.push_back(p["policy"].get<std::string>());
        QCOMPARE(policies, (std::vector<std::string>{"teacher-preferred", "consensus", "consensus student pairs", "teacher-likelihood", "judge:rouge-l"}));
        const auto again = runPlad({"pairs", "quality", "r0001-plad", "--workspace", str(ws), "--recompute"});
        QVERIFY2(again.exitCode == 0, again.err.constData());
        QCOMPARE(again.json()["policies"], readout["policies"]);
        // The pair-quality readout and the sequence-level diagnostics are in the report of the first run.
        const std::string html = readText(ws / "runs" / "r0001-plad" / "report.html");
        QVERIFY(html.find("Pair quality (held-out prompts, before training)") != std::string::npos);
        QVERIFY(html.find("Calibration on the test prompts") != std::string::npos);
        QVERIFY(html.find("rerank@N win rate") != std::string::npos);
    }

    void demoJsonFull()
    {
        // --full adds PLaD with the reference judge and DPO on the annotation-free pairs; --json prints the study.
        const fs::path ws = mRoot / "ws-demo-full";
        const auto r = runPlad({"demo", "--workspace", str(ws), "--prompts", "16", "--steps", "2", "--test-prompts", "6", "--eval-prompts", "6",
                                "--full", "--json"},
                               600000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto doc = r.json();
        QCOMPARE(doc["workspace"].get<std::string>(), fs::absolute(ws).string());
        QVERIFY(fs::exists(doc["report"].get<std::string>()));
        const auto &methods = doc["methods"];
        QCOMPARE(methods.size(), size_t(5));
        const std::vector<std::string> names = {"PLaD (consensus)", "PLaD (teacher-preferred)", "SeqKD", "PLaD (judge: ROUGE-L vs reference)", "DPO (consensus)"};
        const std::vector<std::string> labeling = {"consensus", "teacher-preferred", "none", "judge:rouge-l", "consensus"};
        for (size_t i = 0; i < methods.size(); ++i) {
            const auto &m = methods[i];
            QCOMPARE(m["name"].get<std::string>(), names[i]);
            QCOMPARE(m["labeling"].get<std::string>(), labeling[i]);
            QCOMPARE(m["uses_references"].get<bool>(), labeling[i] == "judge:rouge-l");
            for (const char *key : {"method", "win_rate", "ci", "wins", "losses", "ties", "rouge_l", "initial_rouge_l", "pair_accuracy", "token_ece",
                                    "sequence_ece", "spearman", "rerank_win_rate", "seconds"})
                QVERIFY2(m.contains(key), key);
            QCOMPARE(m["wins"].get<int64_t>() + m["losses"].get<int64_t>() + m["ties"].get<int64_t>(), int64_t(6));
            QVERIFY(m["ci"][0].get<double>() <= m["win_rate"].get<double>() && m["win_rate"].get<double>() <= m["ci"][1].get<double>());
            QCOMPARE(m["token_ece"].size(), size_t(2));
            QCOMPARE(m["sequence_ece"].size(), size_t(2));
            QCOMPARE(m["rerank_win_rate"].size(), size_t(2));
            // The changes are after - before, inside their paired intervals.
            for (const char *key : {"sequence_ece_change", "rerank_win_rate_change"}) {
                const auto &c = m[key];
                const char *list = std::string(key) == "sequence_ece_change" ? "sequence_ece" : "rerank_win_rate";
                if (!c["estimate"].is_number())
                    continue; // nothing decided on 6 prompts
                QVERIFY(std::abs(c["estimate"].get<double>() - (m[list][1].get<double>() - m[list][0].get<double>())) < 1e-9);
                QVERIFY(c["ci"][0].get<double>() <= c["estimate"].get<double>() + 1e-12 && c["estimate"].get<double>() <= c["ci"][1].get<double>() + 1e-12);
            }
            // "before" is the initial student for every method.
            QCOMPARE(m["token_ece"][0], methods[0]["token_ece"][0]);
            QCOMPARE(m["initial_rouge_l"], methods[0]["initial_rouge_l"]);
        }
        QCOMPARE(methods[3]["method"].get<std::string>(), std::string("plad"));
        QCOMPARE(methods[4]["method"].get<std::string>(), std::string("dpo"));
        QCOMPARE(doc["pair_quality"]["prompts"].get<int64_t>(), int64_t(6));
        QVERIFY(doc["pair_quality"]["policies"].size() >= 3);
    }

    void badInputs()
    {
        // Invalid config: the field is named and no run is created.
        const fs::path ws = mRoot / "ws-bad";
        auto r = runPlad({"run", str(writeConfig("bad.json", {{"loss", {{"beta", -1}}}})), "--workspace", str(ws)});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("bad.json: loss.beta: must not be negative"), r.err.constData());
        QVERIFY(!fs::exists(ws / Workspace::fileName));

        // An endpoint nobody listens on: a clear error after the retries, the run is marked failed.
        r = runPlad({"run",
                  str(writeConfig("unreachable.json", {{"teacher", {{"type", "http"}, {"base_url", "http://127.0.0.1:1/v1"}, {"model", "m"},
                                                                    {"max_retries", 1}, {"backoff_seconds", 0.05}}}})),
                  "--workspace", str(ws)});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("127.0.0.1:1") && r.err.contains("cannot connect"), r.err.constData());
        r = runPlad({"runs", "list", "--workspace", str(ws)});
        QCOMPARE(r.json()[0]["status"].get<std::string>(), std::string("failed"));

        // Word-level KD across two vocabularies.
        r = runPlad({"run", str(writeConfig("kd.json", {{"method", "word-kd"}, {"student", {{"model", "other/model"}}}})), "--workspace", str(ws)});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("tokenizer has 300 tokens and the student's 280") && r.err.contains("use seqkd or plad"), r.err.constData());

        // A missing student model.
        r = runPlad({"run", str(writeConfig("nostudent.json", {{"student", {{"model", "nowhere"}}}})), "--workspace", str(ws)});
        QVERIFY2(r.err.contains("student.model: no such model directory"), r.err.constData());

        // Resume errors: unknown run, no workspace.
        r = runPlad({"run", "--resume", "r0099-plad", "--workspace", str(ws)});
        QVERIFY2(r.err.contains("no run \"r0099-plad\""), r.err.constData());
        r = runPlad({"runs", "list", "--workspace", str(mRoot / "nothing-here")});
        QVERIFY2(r.err.contains("no workspace here"), r.err.constData());

        // A corrupt database is refused with its path, and left as it was.
        const fs::path corrupt = mRoot / "ws-corrupt";
        fs::create_directories(corrupt);
        const std::string junk(8192, 'x');
        test::writeBytes(corrupt / Workspace::fileName, junk);
        r = runPlad({"run", str(writeConfig("ok.json", {})), "--workspace", str(corrupt)});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("plad.sqlite: the file is not a PLaD workspace database or is corrupt"), r.err.constData());
        std::ifstream in(corrupt / Workspace::fileName, std::ios::binary);
        QCOMPARE(std::string(std::istreambuf_iterator<char>(in), {}), junk);
    }
};

QTEST_GUILESS_MAIN(TestPladCli)
#include "tst_plad_cli.moc"
