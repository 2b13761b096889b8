#include "plad/preflight.h"

#include "common/error.h"
#include "data/dataset.h"
#include "model/batchsizing.h"
#include "model/modelconfig.h"
#include "plad/distillrun.h"
#include "plad/runconfig.h"
#include "tokenizer/tokenizer.h"
#include "train/sftdata.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace plad {
namespace fs = std::filesystem;
namespace {

/** Bytes of the weights on disk (safetensors files of the directory). */
double weightBytes(const fs::path &model)
{
    double bytes = 0;
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(model, ec))
        if (entry.path().extension() == ".safetensors")
            bytes += static_cast<double>(entry.file_size(ec));
    return bytes;
}

std::string megabytes(double bytes)
{
    char text[32];
    std::snprintf(text, sizeof text, bytes < 10e6 ? "%.1f MB" : "%.0f MB", bytes / 1e6);
    return text;
}

std::string minutes(double seconds)
{
    char text[48];
    if (seconds < 90)
        std::snprintf(text, sizeof text, "about %.0f s", seconds);
    else
        std::snprintf(text, sizeof text, "about %.0f min", seconds / 60);
    return text;
}

} // namespace

std::vector<PreflightFinding> preflightCheck(const nlohmann::json &doc, const fs::path &baseDirectory)
{
    std::vector<PreflightFinding> out;
    auto add = [&](const char *severity, const char *topic, std::string message) { out.push_back({severity, topic, std::move(message)}); };
    RunConfig c;
    try {
        c = RunConfig::fromJson(doc, baseDirectory);
    } catch (const std::exception &e) {
        add("error", "config", e.what());
        return out;
    }

    // Models: the student always, the teacher when it is a local checkpoint.
    ModelConfig student;
    try {
        student = loadModelConfig(c.student / "config.json");
    } catch (const std::exception &e) {
        add("error", "config", std::string("student: ") + e.what());
        return out;
    }
    const bool localTeacher = c.teacher && c.teacher->type == TeacherKind::Local;
    std::optional<ModelConfig> teacher;
    if (localTeacher) {
        try {
            teacher = loadModelConfig(c.teacher->model / "config.json");
        } catch (const std::exception &e) {
            add("error", "config", std::string("teacher: ") + e.what());
        }
    }

    // Tokenizers: word-level KD needs one vocabulary; the text-based methods do not.
    if (localTeacher && teacher) {
        try {
            checkSharedVocabulary(c.teacher->model, c.student);
            add("info", "tokenizer", "teacher and student share one vocabulary: every method can run, word-level KD included");
        } catch (const std::exception &e) {
            add(c.method == DistillMethod::WordKd ? "error" : "warning", "tokenizer",
                std::string(e.what()) + ". This rules out word-kd; plad, plad-logistic, seqkd, dpo and sft work on the teacher's text.");
        }
    } else if (c.teacher) {
        add("info", "tokenizer", "the teacher is reached through its text (" + enumName<TeacherKind>(teacherKindNames, c.teacher->type) + "): word-kd is ruled out, the other methods work");
    }

    // Context: prompt and response budgets against the student's context, and the data's prompt lengths.
    const int64_t context = student.maxPositions;
    const int64_t budget = c.data.limits.maxPromptTokens + c.data.limits.maxResponseTokens;
    if (context > 0 && c.data.limits.maxResponseTokens >= context)
        add("error", "context",
            "data.limits.max_response_tokens = " + std::to_string(c.data.limits.maxResponseTokens) + " leaves no room for the prompt in the student's "
                + std::to_string(context) + "-token context: lower it");
    else if (context > 0 && budget > context)
        add("warning", "context",
            "data.limits allow " + std::to_string(budget) + " tokens (prompt " + std::to_string(c.data.limits.maxPromptTokens) + " + response "
                + std::to_string(c.data.limits.maxResponseTokens) + ") but the student's context is " + std::to_string(context)
                + ": prompts will be cut further");
    try {
        auto records = importDataset(c.data.file, c.data.import).records;
        const size_t sample = std::min<size_t>(records.size(), 300);
        const Tokenizer tokenizer = Tokenizer::load(c.student);
        int64_t cut = 0, longest = 0;
        for (size_t i = 0; i < sample; ++i) {
            const auto n = static_cast<int64_t>(tokenizer.encode(records[i].prompt, false).size());
            longest = std::max(longest, n);
            cut += n > c.data.limits.maxPromptTokens ? 1 : 0;
        }
        add(cut > 0 ? "warning" : "info", "context",
            std::to_string(cut) + " of the first " + std::to_string(sample) + " prompts exceed max_prompt_tokens = "
                + std::to_string(c.data.limits.maxPromptTokens) + " and will be cut (longest: " + std::to_string(longest) + " tokens)");
        if (c.pairs.prompts > 0 && static_cast<size_t>(c.pairs.prompts) > records.size())
            add("warning", "data", "pairs.prompts asks for " + std::to_string(c.pairs.prompts) + " prompts but the data has " + std::to_string(records.size()));
    } catch (const std::exception &e) {
        add("error", "data", e.what());
    }

    // Pair generation's decode batch: configured, or chosen per model from its KV cache per row.
    {
        const int64_t rowTokens = c.data.limits.maxPromptTokens + c.data.limits.maxResponseTokens;
        const double available = availableMemoryBytes();
        const int64_t configured = c.pairs.batchSize * std::max<int64_t>(1, c.pairs.perPrompt);
        auto rows = [&](const ModelConfig &m) { return chooseGenerationRows(m, std::min(rowTokens, std::max<int64_t>(m.maxPositions, 1)), available); };
        std::string text = configured > 0 ? "pair generation decodes " + std::to_string(configured) + " rows together (pairs.batch_size x per_prompt)"
                                          : "pair generation decodes " + std::to_string(rows(student)) + " student rows together";
        if (c.pairs.batchSize == 0 && localTeacher && teacher)
            text += " and " + std::to_string(rows(*teacher)) + " teacher rows";
        if (c.pairs.batchSize == 0)
            text += ", chosen from each model's KV cache per row and " + megabytes(available) + " of memory available";
        add("info", "memory", text);
    }

    // Memory: F32 weights; the student also holds gradients and AdamW's two moments.
    const double studentBytes = weightBytes(c.student);
    const double teacherBytes = localTeacher ? weightBytes(c.teacher->model) : 0;
    const double activations = static_cast<double>(c.train.batchSize) * 2 * static_cast<double>(budget) *
                               static_cast<double>(std::max<int64_t>(student.vocabSize, 1)) * 4 * 3; // logits dominate for small models
    const double memory = studentBytes * 4 + teacherBytes + activations + 300e6; // + the runtime itself
    add("info", "memory",
        "estimated peak memory " + megabytes(memory) + " (student weights, gradients and optimiser " + megabytes(studentBytes * 4)
            + (localTeacher ? ", teacher " + megabytes(teacherBytes) : std::string()) + ", activations about " + megabytes(activations) + ")");

    // Time: forward+backward is ~6 FLOPs per parameter per token, generation ~2, at a rate typical of a 2-core CPU.
    const double studentParams = studentBytes / 4, teacherParams = teacherBytes / 4;
    const double tokensPerOutput = static_cast<double>(c.data.limits.maxResponseTokens) * 0.6;
    const double prompts = static_cast<double>(c.pairs.prompts > 0 ? c.pairs.prompts : 1000);
    const double k = static_cast<double>(c.pairs.perPrompt);
    const double generationFlops = prompts * k * tokensPerOutput * 2 * (studentParams + teacherParams) * 8; // KV-cached decoding is memory-bound
    const double trainFlops = static_cast<double>(c.train.maxSteps) * static_cast<double>(c.train.batchSize) * 2 * static_cast<double>(budget) / 2 * 6 *
                              (studentParams + static_cast<double>(student.vocabSize * student.hiddenSize));
    const double rate = 15e9;
    add("info", "time", "rough time on this CPU: pair generation " + minutes(generationFlops / rate) + ", training " + minutes(trainFlops / rate));
    return out;
}

} // namespace plad
