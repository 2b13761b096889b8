#pragma once
// Tests that drive the plad binary (PLAD_CLI_PATH, defined for every test target): running it,
// and the tiny synthetic task (data, tokenizer, teacher, student) the end-to-end runs use.

#include "testsupport.h"

#include <QProcess>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace plad::test {

struct CliResult
{
    int exitCode = -1; ///< -1 when plad crashed or was killed
    QByteArray out, err;
    nlohmann::json json() const { return nlohmann::json::parse(out.toStdString()); }
};

/** Runs plad with `args` and waits (a test failure aborts after `timeoutMs`). */
inline CliResult runPlad(const QStringList &args, int timeoutMs = 120000)
{
    QProcess process;
    process.start(QStringLiteral(PLAD_CLI_PATH), args);
    if (!process.waitForFinished(timeoutMs))
        qFatal("plad did not finish");
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1, process.readAllStandardOutput(),
            process.readAllStandardError()};
}

inline QString str(const std::filesystem::path &p)
{
    return q(p.string());
}

/** The non-empty lines of a text file. */
inline std::vector<std::string> lines(const std::filesystem::path &file)
{
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
        if (!line.empty())
            out.push_back(line);
    return out;
}

/** A whole file as text. */
inline std::string readText(const std::filesystem::path &file)
{
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/** Trains a scratch model `name` (ROOT/name/model) on ROOT/rev.jsonl with the tokenizer ROOT/tokenizer. */
inline void sftTinyModel(const std::filesystem::path &root, const std::string &name, const std::string &tokenizer, int hidden, int layers, int steps)
{
    const nlohmann::json config = {
        {"output", (root / name).string()},
        {"tokenizer", (root / tokenizer).string()},
        {"model", {{"scratch", {{"hidden_size", hidden}, {"layers", layers}, {"heads", 2}, {"context_length", 48}}}}},
        {"data", {{"file", (root / "rev.jsonl").string()}, {"fields", {{"response", "reference"}, {"id", "id"}}}}},
        {"train", {{"max_steps", steps}, {"batch_size", 8}, {"warmup_steps", 2}, {"learning_rate", 0.01}}}};
    writeBytes(root / (name + ".json"), config.dump());
    const auto r = runPlad({"sft", "--config", str(root / (name + ".json")), "--quiet"});
    QVERIFY2(r.exitCode == 0, r.err.constData());
}

/**
 * The tiny task in ROOT: 600 synthetic examples (rev.jsonl), a 300-token BPE tokenizer (tok/)
 * trained on them, a teacher (hidden 48, 2 layers) and a student (hidden 16, 1 layer).
 */
inline void buildTinyTask(const std::filesystem::path &root)
{
    QCOMPARE(runPlad({"data", "synthetic", "--out", str(root / "rev.jsonl"), "--count", "600"}).exitCode, 0);
    std::string corpus;
    for (const auto &line : lines(root / "rev.jsonl")) {
        const auto doc = nlohmann::json::parse(line);
        corpus += doc["prompt"].get<std::string>() + doc["reference"].get<std::string>() + "\n";
    }
    writeBytes(root / "corpus.txt", corpus);
    QCOMPARE(runPlad({"tokenizer", "train", "--corpus", str(root / "corpus.txt"), "--vocab-size", "300", "--out", str(root / "tok")}).exitCode, 0);
    sftTinyModel(root, "teacher", "tok", 48, 2, 40);
    sftTinyModel(root, "student", "tok", 16, 1, 10);
}

/**
 * Writes ROOT/NAME: a PLaD run of the tiny task (40 prompts, 2 outputs a side, 12 steps of 4,
 * a checkpoint every 4), with `patch` merged into it (RFC 7386; null: none). Paths are relative
 * to ROOT, as a run config's are to its file.
 */
inline std::filesystem::path writeTinyRunConfig(const std::filesystem::path &root, const std::string &name, const nlohmann::json &patch)
{
    nlohmann::json doc = {
        {"method", "plad"},
        {"student", {{"model", "student/model"}}},
        {"teacher", {{"type", "local"}, {"model", "teacher/model"}}},
        {"data", {{"file", "rev.jsonl"}, {"fields", {{"response", "reference"}, {"id", "id"}}}, {"limits", {{"max_response_tokens", 12}}}}},
        {"pairs", {{"prompts", 40}, {"per_prompt", 2}, {"batch_size", 16}}},
        {"eval", {{"prompts", 0}}},
        {"loss", {{"lambda", 0.1}}},
        {"train", {{"max_steps", 12}, {"batch_size", 4}, {"warmup_steps", 2}, {"checkpoint_every", 4}, {"eval_every", 6}}}};
    if (!patch.is_null()) // {} in a call is JSON null
        doc.merge_patch(patch);
    const std::filesystem::path file = root / name;
    writeBytes(file, doc.dump(2));
    return file;
}

} // namespace plad::test
