// The run-config schema (plad/runconfigschema.h) against RunConfig itself: every effective field
// is described, every described default is what RunConfig fills in, every range and choice is
// what validation enforces. The workbench builds its Setup form from this schema, so these are
// the checks that the GUI and `plad run` read a file the same way.
#include "plad/runconfig.h"
#include "plad/runconfigschema.h"
#include "testsupport.h"

#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

using namespace plad;
namespace fs = std::filesystem;

namespace {

/** The smallest document of each kind the schema distinguishes (teacher type, LLM judge type). */
std::vector<std::pair<std::string, nlohmann::json>> minimalDocuments()
{
    const nlohmann::json base = {{"student", {{"model", "student"}}}, {"data", {{"file", "data.jsonl"}}}};
    std::vector<std::pair<std::string, nlohmann::json>> docs;
    auto with = [&](const std::string &name, nlohmann::json patch) {
        nlohmann::json doc = base;
        doc.merge_patch(patch);
        docs.emplace_back(name, doc);
    };
    with("local teacher", {{"teacher", {{"type", "local"}, {"model", "teacher"}}}});
    with("http teacher", {{"teacher", {{"type", "http"}, {"base_url", "http://127.0.0.1:8000/v1"}, {"model", "big"}}}});
    with("jsonl teacher", {{"teacher", {{"type", "jsonl"}, {"file", "outputs.jsonl"}}}});
    with("local llm judge", {{"teacher", {{"type", "local"}, {"model", "teacher"}}},
                             {"labeling", {{"policy", "judge"}, {"judge", "llm"}, {"llm", {{"type", "local"}, {"model", "judge"}}}}}});
    with("http llm judge",
         {{"teacher", {{"type", "local"}, {"model", "teacher"}}},
          {"labeling", {{"policy", "judge"}, {"judge", "llm"}, {"llm", {{"type", "http"}, {"base_url", "http://127.0.0.1:9/v1"}, {"model", "j"}}}}}});
    with("sft, no teacher", {{"method", "sft"}});
    return docs;
}

bool underTemplate(const std::string &path)
{
    for (const auto &f : runConfigSchema().fields())
        if (f.type == FieldType::Template && path.rfind(f.path + ".", 0) == 0)
            return true;
    return false;
}

/** A document of the right kind for `field`, with `value` set at its path. */
nlohmann::json documentWith(const ConfigField &field, const nlohmann::json &value)
{
    nlohmann::json doc = minimalDocuments()[0].second;
    if (field.when == "teacher.type=http")
        doc = minimalDocuments()[1].second;
    else if (field.when == "teacher.type=jsonl")
        doc = minimalDocuments()[2].second;
    else if (field.when == "labeling.llm.type=http")
        doc = minimalDocuments()[4].second;
    else if (field.when == "labeling.llm.type=local" || field.when == "labeling.judge=llm")
        doc = minimalDocuments()[3].second;
    if (field.path.rfind("data.split.", 0) == 0) // validation + test < 1: test one share with the other at 0
        doc["data"]["split"] = {{"validation", 0.0}, {"test", 0.0}};
    setValueAt(doc, field.path, value);
    return doc;
}

/** The ConfigError message for `doc`, or empty when it is accepted. */
std::string problemWith(const nlohmann::json &doc)
{
    try {
        RunConfig::fromJson(doc, "/base");
    } catch (const ConfigError &e) {
        return e.what();
    }
    return {};
}

std::string parentOf(const std::string &path)
{
    const auto dot = path.rfind('.');
    return dot == std::string::npos ? std::string() : path.substr(0, dot);
}

} // namespace

class TestRunConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void schemaDescribesEveryEffectiveField_data()
    {
        QTest::addColumn<QString>("document");
        for (const auto &[name, doc] : minimalDocuments())
            QTest::newRow(name.c_str()) << QString::fromStdString(doc.dump());
    }
    void schemaDescribesEveryEffectiveField()
    {
        // Every field `plad run` stores is in the schema, with the default RunConfig filled in.
        QFETCH(QString, document);
        const auto doc = nlohmann::json::parse(document.toStdString());
        const auto effective = effectiveRunConfig(doc, "/base");
        const auto &schema = runConfigSchema();
        for (const auto &path : leafPaths(effective)) {
            if (underTemplate(path))
                continue;
            const ConfigField *field = schema.find(path, effective);
            QVERIFY2(field, ("not in the schema: " + path).c_str());
            if (!valueAt(doc, path).is_null() || field->defaultValue.is_null())
                continue; // given by the document, or required/derived
            QVERIFY2(valueAt(effective, path) == field->defaultValue,
                     (path + ": effective " + valueAt(effective, path).dump() + ", schema default " + field->defaultValue.dump()).c_str());
        }
    }

    void everySchemaFieldIsStored()
    {
        // ...and conversely every schema field reaches the stored config of a document that selects it.
        std::set<std::string> stored;
        for (const auto &[name, doc] : minimalDocuments())
            for (const auto &path : leafPaths(effectiveRunConfig(doc, "/base")))
                stored.insert(path);
        for (const auto &f : runConfigSchema().fields()) {
            if (f.type == FieldType::Template)
                continue; // stored only when given
            QVERIFY2(stored.count(f.path), ("described but never stored: " + f.path).c_str());
            QVERIFY2(!f.help.empty(), ("no help text: " + f.path).c_str());
        }
    }

    void rangesAreWhatValidationEnforces()
    {
        int checked = 0;
        for (const auto &f : runConfigSchema().fields()) {
            if (f.type != FieldType::Integer && f.type != FieldType::Number)
                continue;
            const double step = f.type == FieldType::Integer ? 1.0 : 1e-6;
            auto value = [&](double v) { return f.type == FieldType::Integer ? nlohmann::json(static_cast<int64_t>(v)) : nlohmann::json(v); };
            auto expectRefused = [&](double v) {
                const std::string problem = problemWith(documentWith(f, value(v)));
                QVERIFY2(!problem.empty(), (f.path + " = " + value(v).dump() + " was accepted; the schema says " + f.constraint()).c_str());
                // The message names the field (or, for a constraint across fields, its object and the field's name).
                const std::string leaf = f.path.substr(f.path.rfind('.') + 1);
                QVERIFY2(problem.find(f.path) != std::string::npos
                             || (problem.find(parentOf(f.path)) != std::string::npos && problem.find(leaf) != std::string::npos),
                         (f.path + ": " + problem).c_str());
            };
            auto expectAccepted = [&](double v) {
                const std::string problem = problemWith(documentWith(f, value(v)));
                QVERIFY2(problem.empty(), (f.path + " = " + value(v).dump() + " refused: " + problem).c_str());
            };
            if (f.minimum) {
                if (f.exclusiveMinimum) {
                    expectRefused(*f.minimum);
                    expectAccepted(*f.minimum + step);
                } else {
                    expectRefused(*f.minimum - step);
                    expectAccepted(*f.minimum);
                }
                ++checked;
            }
            if (f.maximum) {
                if (f.exclusiveMaximum) {
                    expectRefused(*f.maximum);
                    expectAccepted(*f.maximum - step);
                } else {
                    expectRefused(*f.maximum + step);
                    expectAccepted(*f.maximum);
                }
                ++checked;
            }
        }
        QVERIFY(checked > 40);
        // The learning rate takes any positive double below 1.
        QVERIFY(problemWith(documentWith(*runConfigSchema().find("train.learning_rate"), 5e-7)).empty());
        QVERIFY(runConfigSchema().find("train.learning_rate")->inRange(1e-30));
    }

    void choicesAreWhatValidationEnforces()
    {
        for (const auto &f : runConfigSchema().fields()) {
            if (f.type != FieldType::Choice)
                continue;
            QVERIFY2(!f.choices.empty(), f.path.c_str());
            for (const auto &choice : f.choices) {
                nlohmann::json doc = documentWith(f, choice);
                if (f.path == "method" && (choice == "word-kd"))
                    doc["teacher"] = {{"type", "local"}, {"model", "teacher"}};
                if (f.path == "labeling.judge" && choice == "llm")
                    doc["labeling"] = {{"policy", "judge"}, {"judge", "llm"}, {"llm", {{"model", "judge"}}}};
                if (f.path.rfind("teacher.type", 0) == 0 || f.path.rfind("labeling.llm.type", 0) == 0)
                    continue; // the type selects other required fields; covered by the minimal documents
                const std::string problem = problemWith(doc);
                QVERIFY2(problem.empty(), (f.path + " = " + choice + " refused: " + problem).c_str());
            }
            const std::string problem = problemWith(documentWith(f, "no-such-choice"));
            QVERIFY2(problem.find(f.path + ": must be") != std::string::npos, (f.path + ": " + problem).c_str());
        }
    }

    void teacherLikelihoodNeedsALocalTeacher()
    {
        // The teacher's likelihood of both texts exists only for a local model: a remote or file teacher is refused at once.
        for (const size_t kind : {size_t(1), size_t(2)}) {
            nlohmann::json doc = minimalDocuments()[kind].second;
            doc["labeling"] = {{"policy", "teacher-likelihood"}};
            const std::string problem = problemWith(doc);
            QVERIFY2(problem.find("labeling.policy: \"teacher-likelihood\" asks the teacher's own likelihood") != std::string::npos
                         && problem.find("use \"consensus\"") != std::string::npos,
                     problem.c_str());
        }
        nlohmann::json local = minimalDocuments()[0].second;
        local["labeling"] = {{"policy", "teacher-likelihood"}, {"min_gap", 0.5}};
        QVERIFY(problemWith(local).empty());
        const RunConfig config = RunConfig::fromJson(local, "/base");
        QVERIFY(config.labeling.policy == LabelingPolicy::TeacherLikelihood);
        QCOMPARE(config.labeling.minGap, 0.5);
        nlohmann::json consensus = minimalDocuments()[1].second; // consensus needs only the teacher's text
        consensus["labeling"] = {{"policy", "consensus"}};
        QVERIFY(problemWith(consensus).empty());
    }

    void effectiveConfigIsAFixedPoint()
    {
        // What `plad run` stores reads back to itself.
        for (const auto &[name, doc] : minimalDocuments()) {
            const auto effective = effectiveRunConfig(doc, "/base");
            QVERIFY2(effectiveRunConfig(effective, "/elsewhere") == effective, name.c_str());
        }
    }

    void examplesInTheRepositoryAreValid()
    {
        // Every example config under docs/examples reads, and names only schema fields.
        int examples = 0;
        for (const auto &entry : fs::directory_iterator(fs::path(PLAD_SOURCE_DIR) / "docs" / "examples")) {
            if (entry.path().extension() != ".json")
                continue;
            ++examples;
            const auto doc = nlohmann::json::parse(std::ifstream(entry.path()));
            nlohmann::json effective;
            try {
                effective = effectiveRunConfig(doc, entry.path().parent_path());
            } catch (const std::exception &e) {
                QFAIL((entry.path().string() + ": " + e.what()).c_str());
            }
            for (const auto &path : leafPaths(doc))
                QVERIFY2(underTemplate(path) || runConfigSchema().find(path, effective) || path == "train.seed",
                         (entry.path().filename().string() + ": " + path).c_str());
        }
        QVERIFY(examples >= 5);
    }

    void schemaHelpers()
    {
        nlohmann::json doc = {{"a", {{"b", 1}}}};
        setValueAt(doc, "a.c.d", "x");
        QCOMPARE(valueAt(doc, "a.c.d"), nlohmann::json("x"));
        QVERIFY(valueAt(doc, "a.z").is_null());
        removeValueAt(doc, "a.c.d");
        QVERIFY(!doc["a"].contains("c")); // emptied objects go too
        QCOMPARE(leafPaths(doc), std::vector<std::string>{"a.b"});
        const ConfigField *lr = runConfigSchema().find("train.learning_rate");
        QCOMPARE(lr->constraint(), std::string("in (0, 1)"));
        QCOMPARE(runConfigSchema().find("teacher.model", {{"teacher", {{"type", "http"}}}})->type, FieldType::String);
        QCOMPARE(runConfigSchema().find("teacher.model", {{"teacher", {{"type", "local"}}}})->type, FieldType::Path);
        QCOMPARE(runConfigSchema().find("teacher.model")->type, FieldType::Path); // the default teacher type is local
    }
};

QTEST_GUILESS_MAIN(TestRunConfig)
#include "tst_runconfig.moc"
