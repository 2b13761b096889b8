// plad bench generate: generation throughput of plad's generator beside a plain PyTorch-eager
// generator on the same model, prompts, batch and threads.
#include "cli/clisupport.h"
#include "cli/commands.h"
#include "cli/referencescripts.h"

#include "bench/generationbenchmark.h"
#include "bench/pairsbenchmark.h"
#include "common/error.h"
#include "common/fileio.h"
#include "model/runtime.h"
#include "plad/demostudy.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include <unistd.h>

namespace plad::cli {

namespace fs = std::filesystem;

namespace {

std::string percent(double fraction)
{
    return fixed(100 * fraction, 0) + "%";
}

/** "1.23, 1.31, 1.27 s" */
std::string secondsList(const std::vector<double> &seconds)
{
    std::string out;
    for (const double s : seconds)
        out += (out.empty() ? "" : ", ") + fixed(s, 2);
    return out + " s";
}

/** The per-stage line of a profile. */
std::string describeProfile(const GenerationProfile &p, double wall)
{
    const double padding = p.paddedPromptTokens > 0 ? 1.0 - static_cast<double>(p.promptTokens) / static_cast<double>(p.paddedPromptTokens) : 0;
    return "prefill " + fixed(p.prefillSeconds, 2) + " s (" + std::to_string(p.promptTokens) + " prompt tokens, " + percent(padding)
           + " padding), decode " + fixed(p.decodeSeconds, 2) + " s (" + std::to_string(p.decodeSteps) + " steps of "
           + fixed(p.decodeSteps > 0 ? static_cast<double>(p.decodeRowSteps) / static_cast<double>(p.decodeSteps) : 0.0, 1)
           + " rows on average for " + std::to_string(p.newTokens) + " new tokens), sampling " + fixed(p.samplingSeconds, 2)
           + " s, moving cache columns " + fixed(p.compactSeconds, 2) + " s (" + std::to_string(p.cacheMoves) + "x), other "
           + fixed(std::max(0.0, wall - p.seconds()), 2) + " s";
}

nlohmann::json profileJson(const GenerationProfile &p)
{
    return {{"prefill_seconds", p.prefillSeconds}, {"decode_seconds", p.decodeSeconds}, {"sampling_seconds", p.samplingSeconds},
            {"compact_seconds", p.compactSeconds}, {"cache_moves", p.cacheMoves}, {"batches", p.batches}, {"prompt_tokens", p.promptTokens},
            {"padded_prompt_tokens", p.paddedPromptTokens}, {"decode_steps", p.decodeSteps}, {"decode_row_steps", p.decodeRowSteps}, {"new_tokens", p.newTokens}};
}

} // namespace

void addGenerationBenchmark(CLI::App &bench)
{
    struct Args
    {
        std::vector<std::string> cases;
        std::vector<int64_t> batches;
        int64_t prompts = 256;
        std::string dtype = "float32";
        std::string python = "/usr/bin/python3";
        std::string demo;
        int repeat = 3;
        bool waiting = false;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto *command = bench.add_subcommand(
        "generate", "Generation throughput (prompts/s, share of the matmul peak, per-stage time) of the demo teacher and a GPT-2-small "
                    "shape, beside a plain PyTorch-eager generator on the same model, prompts, batch and threads");
    command->add_option("--case", a->cases, "demo-teacher and/or gpt2-small (default: both)");
    command->add_option("--batch", a->batches, "batch sizes to measure (default: 32 for demo-teacher, 1 and 8 for gpt2-small)");
    command->add_option("--prompts", a->prompts, "demo-teacher: how many test prompts")->capture_default_str();
    command->add_option("--repeat", a->repeat, "runs of each generator; the fastest counts (a busy machine only slows runs down)")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    command->add_flag("--no-continuous-batching", a->waiting,
                      "plad's next prompts wait for the whole batch instead of taking the slots finished rows leave");
    command->add_option("--dtype", a->dtype, "compute dtype of plad's run: float32 or bfloat16 (the PyTorch reference runs float32)")
        ->capture_default_str();
    command->add_option("--python", a->python, "Python interpreter with torch for the reference (\"none\" to skip it)")->capture_default_str();
    command->add_option("--demo", a->demo, "the embedded demo's folder (default: the installed one)");
    command->add_flag("--json", a->json, "print one JSON document instead of the table");
    command->callback([a] {
        for (const auto &c : a->cases)
            if (c != "demo-teacher" && c != "gpt2-small")
                throw UsageError("--case: expected demo-teacher or gpt2-small, found \"" + c + "\"");
        auto wanted = [&](const std::string &name) { return a->cases.empty() || std::find(a->cases.begin(), a->cases.end(), name) != a->cases.end(); };
        auto say = [a](const std::string &line) {
            if (!a->json)
                std::cout << line << std::endl;
        };
        const RuntimeInfo info = runtimeInfo();
        const double peak = measureMatmulGflops(2048);
        say("matmul 2048x2048 float32: " + fixed(peak, 1) + " GFLOPS peak (threads " + std::to_string(info.intraOpThreads) + ", BLAS "
            + info.blas + ", Torch " + info.torchVersion + ")");
        nlohmann::json doc{{"threads", info.intraOpThreads}, {"blas", info.blas}, {"torch", info.torchVersion},
                           {"matmul_peak_gflops", peak}, {"cases", nlohmann::json::array()}};
        ScratchDirectory scratch;
        std::vector<GenerationBenchmarkCase> cases;
        if (wanted("demo-teacher"))
            cases.push_back(demoTeacherGenerationCase(a->demo.empty() ? defaultDemoDirectory() : fs::path(a->demo), a->prompts));
        if (wanted("gpt2-small"))
            cases.push_back(gpt2SmallGenerationCase(scratch.path));
        for (auto &c : cases) {
            c.dtype = a->dtype;
            c.continuousBatching = !a->waiting;
            if (!a->batches.empty())
                c.batchSizes = a->batches;
            say("");
            say("case " + c.name + ": " + c.description);
            say("  implementation   batch  prompts/s  new tokens/s  model GFLOP  GFLOPS  of peak");
            auto row = [&](const std::string &impl, int64_t batch, double seconds, int64_t newTokens, double gflop) {
                char line[200];
                std::snprintf(line, sizeof line, "  %-16s %5lld %10.1f %13.0f %12.1f %7.1f %8s", impl.c_str(), static_cast<long long>(batch),
                              static_cast<double>(c.prompts.size()) / seconds, static_cast<double>(newTokens) / seconds, gflop, gflop / seconds,
                              percent(gflop / seconds / peak).c_str());
                say(line);
            };
            for (const int64_t batch : c.batchSizes) {
                const auto ours = runGenerationBenchmark(c, batch, a->repeat);
                row("plad " + c.dtype, batch, ours.seconds, ours.newTokens, ours.modelGflops);
                say("    plad time (fastest of " + std::to_string(ours.allSeconds.size()) + " runs: " + secondsList(ours.allSeconds)
                    + "): " + describeProfile(ours.profile, ours.seconds));
                nlohmann::json entry{{"case", c.name},
                                     {"description", c.description},
                                     {"batch", batch},
                                     {"prompts", c.prompts.size()},
                                     {"dtype", c.dtype},
                                     {"continuous_batching", c.continuousBatching},
                                     {"plad",
                                      {{"seconds", ours.seconds},
                                       {"all_seconds", ours.allSeconds},
                                       {"prompts_per_second", ours.promptsPerSecond},
                                       {"new_tokens", ours.newTokens},
                                       {"tokens_per_second", ours.tokensPerSecond},
                                       {"model_gflop", ours.modelGflops},
                                       {"achieved_gflops", ours.achievedGflops},
                                       {"fraction_of_peak", ours.achievedGflops / peak},
                                       {"profile", profileJson(ours.profile)}}}};
                if (a->python != "none") {
                    const fs::path specFile = scratch.path / "generate-spec.json";
                    writeFileAtomically(specFile, nlohmann::json{{"model", fs::absolute(c.modelDirectory).string()},
                                                                 {"prompts", c.prompts},
                                                                 {"batch", batch},
                                                                 {"max_new_tokens", c.maxNewTokens},
                                                                 {"eos", c.eosTokenIds},
                                                                 {"repeat", a->repeat},
                                                                 {"threads", info.intraOpThreads}}
                                                      .dump());
                    const auto py = runPythonScript(a->python, generateScript, specFile.string());
                    if (py.error.empty()) {
                        const double seconds = py.result.at("seconds").get<double>();
                        const auto outputs = py.result.at("outputs").get<std::vector<std::vector<int64_t>>>();
                        int64_t newTokens = 0;
                        for (const auto &o : outputs)
                            newTokens += static_cast<int64_t>(o.size());
                        const std::string torch = py.result.value("torch", "");
                        row("pytorch " + torch, batch, seconds, newTokens, ours.modelGflops);
                        const auto pyTimes = py.result.value("all_seconds", std::vector<double>{seconds});
                        say("    pytorch time: fastest of " + std::to_string(pyTimes.size()) + " runs: " + secondsList(pyTimes));
                        const int64_t same = identicalOutputs(ours.outputs, outputs);
                        say("    plad / pytorch prompts/s: " + fixed(seconds / ours.seconds, 2) + "x; outputs identical for " + std::to_string(same)
                            + " of " + std::to_string(outputs.size()) + " prompts");
                        entry["pytorch"] = {{"torch", torch}, {"seconds", seconds}, {"all_seconds", pyTimes}, {"prompts_per_second", static_cast<double>(outputs.size()) / seconds},
                                            {"new_tokens", newTokens}, {"identical_outputs", same}};
                        entry["speed_ratio"] = seconds / ours.seconds;
                    } else {
                        entry["pytorch_error"] = py.error;
                        say("    pytorch reference not run: " + py.error);
                    }
                }
                doc["cases"].push_back(entry);
            }
        }
        say("");
        say("model FLOPs count the real (unpadded) tokens: 2 x weights per token, 4 x layers x heads x head size per attended key, "
            "the output head once per chosen token; 'of peak' is model FLOPs/s over the matmul peak above");
        if (a->json)
            printJson(doc);
    });
}

void addPairsBenchmark(CLI::App &bench)
{
    struct Args
    {
        std::string demoCase = "demo";
        int64_t prompts = 1000;
        int64_t batch = -1;
        std::string demo;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto *command = bench.add_subcommand("pairs", "Pair generation end to end (teacher and student outputs, scores, judge, labelling, "
                                                  "store writes) on the demo's training prompts, into a scratch workspace");
    command->add_option("--case", a->demoCase, "demo (the embedded demo's PLaD run)")->capture_default_str();
    command->add_option("--prompts", a->prompts, "training prompts")->capture_default_str();
    command->add_option("--batch", a->batch, "pairs.batch_size, 0 = chosen from each model's shape and memory (default: the demo's)")
        ->check(CLI::Range(int64_t(-1), int64_t(1) << 20));
    command->add_option("--demo", a->demo, "the embedded demo's folder (default: the installed one)");
    command->add_flag("--json", a->json, "print one JSON document instead of the table");
    command->callback([a] {
        if (a->demoCase != "demo")
            throw UsageError("--case: expected demo, found \"" + a->demoCase + "\"");
        auto say = [a](const std::string &line) {
            if (!a->json)
                std::cout << line << std::endl;
        };
        const RuntimeInfo info = runtimeInfo();
        ScratchDirectory scratch;
        PairsBenchmarkOptions options;
        options.demoDirectory = a->demo.empty() ? defaultDemoDirectory() : fs::path(a->demo);
        options.workspace = scratch.path / "workspace";
        options.prompts = a->prompts;
        options.batchSize = a->batch;
        say("threads " + std::to_string(info.intraOpThreads) + ", BLAS " + info.blas + ", Torch " + info.torchVersion);
        const auto r = runPairsBenchmark(options, [&](const std::string &line) { say("  " + line); });
        const auto &p = r.report.profile;
        const double wall = r.report.seconds;
        say("");
        say("case demo: the demo's PLaD pair generation (" + r.settings + "), "
            + std::to_string(r.report.prompts) + " training prompts, "
            + (r.batchSize > 0 ? "batches of " + std::to_string(r.batchSize) : std::string("batch size chosen from each model's shape and memory")));
        say("  pair generation: " + fixed(wall, 1) + " s = " + fixed(r.promptsPerSecond, 1) + " prompts/s, " + std::to_string(r.report.pairs)
            + " pairs kept, " + std::to_string(r.report.drops.total()) + " dropped (" + r.report.drops.describe() + ")");
        say("  teacher alone:   " + fixed(r.teacherAloneSeconds, 1) + " s = "
            + fixed(static_cast<double>(r.report.prompts) / r.teacherAloneSeconds, 1) + " prompts/s; pair generation takes "
            + fixed(wall / r.teacherAloneSeconds, 2) + "x the teacher's time alone");
        say("  generating thread: teacher " + fixed(p.teacherSeconds, 2) + " s (" + describeProfile(p.teacher, p.teacherSeconds) + ")");
        say("                     student " + fixed(p.studentSeconds, 2) + " s (" + describeProfile(p.student, p.studentSeconds) + ")");
        say("                     cross-scoring " + fixed(p.crossScoreSeconds, 2) + " s (" + std::to_string(p.crossScoredOutputs)
            + " teacher outputs scored by the student), encoding " + fixed(p.encodeSeconds, 2) + " s, waiting for the writer "
            + fixed(p.waitSeconds, 2) + " s");
        say("  writer thread:     judge " + fixed(p.judgeSeconds, 2) + " s, labelling " + fixed(p.labelSeconds, 2) + " s, store writes "
            + fixed(p.storeSeconds, 2) + " s");
        if (a->json)
            printJson({{"case", "demo"}, {"settings", r.settings}, {"threads", info.intraOpThreads}, {"blas", info.blas}, {"torch", info.torchVersion},
                       {"prompts", r.report.prompts}, {"batch", r.batchSize}, {"pairs", r.report.pairs}, {"dropped", r.report.drops.total()},
                       {"seconds", wall}, {"prompts_per_second", r.promptsPerSecond}, {"teacher_alone_seconds", r.teacherAloneSeconds},
                       {"ratio_to_teacher_alone", wall / r.teacherAloneSeconds},
                       {"profile",
                        {{"teacher_seconds", p.teacherSeconds}, {"teacher", profileJson(p.teacher)}, {"student_seconds", p.studentSeconds},
                         {"student", profileJson(p.student)}, {"cross_score_seconds", p.crossScoreSeconds},
                         {"cross_scored_outputs", p.crossScoredOutputs}, {"encode_seconds", p.encodeSeconds}, {"wait_seconds", p.waitSeconds},
                         {"judge_seconds", p.judgeSeconds}, {"label_seconds", p.labelSeconds}, {"store_seconds", p.storeSeconds}}}});
    });
}

} // namespace plad::cli
