// plad bench sft: SFT step throughput of our trainer beside a plain PyTorch script on the same shapes.
#include "cli/clisupport.h"
#include "cli/commands.h"
#include "cli/referencescripts.h"

#include "bench/generationbenchmark.h"
#include "bench/sftbenchmark.h"
#include "common/error.h"
#include "model/runtime.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

namespace plad::cli {
namespace {

struct PythonRun
{
    std::optional<SftBenchmarkResult> result;
    std::string torchVersion;
    std::string error; ///< why there is no result
};

/** Runs the embedded plain-PyTorch script for `c` and reads its JSON line. */
PythonRun runPython(const std::string &python, const SftBenchmarkCase &c, int threads)
{
    PythonRun run;
    const PythonOutput out = runPythonScript(python, sftStepScript, pythonSpec(c, threads).dump());
    if (!out.error.empty()) {
        run.error = out.error;
        return run;
    }
    try {
        run.result = sftBenchmarkResult(c, out.result.at("parameters").get<int64_t>(), out.result.at("step_seconds").get<std::vector<double>>());
        run.torchVersion = out.result.value("torch", "");
    } catch (const std::exception &e) {
        run.error = "unreadable output from the PyTorch script (" + std::string(e.what()) + ")";
    }
    return run;
}

nlohmann::json toJson(const SftBenchmarkResult &r, double peakGflops)
{
    return {{"parameters", r.parameters},
            {"step_seconds", r.stepSeconds},
            {"median_step_seconds", r.medianStepSeconds},
            {"tokens_per_second", r.tokensPerSecond},
            {"model_gflops_per_step", r.flopsPerStep / 1e9},
            {"achieved_gflops", r.achievedGflops},
            {"mfu", peakGflops > 0 ? r.achievedGflops / peakGflops : 0.0}};
}

} // namespace

void addSftBenchmark(CLI::App &bench)
{
    struct Args
    {
        std::vector<std::string> cases;
        std::string python = "/usr/bin/python3"; // Debian's interpreter, which python3-torch installs into
        int64_t steps = 0;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto *sft = bench.add_subcommand(
        "sft", "SFT training throughput (tokens/s, model FLOPs utilisation) of the demo teacher and GPT-2-small shapes, "
               "beside the same step in a plain PyTorch script");
    sft->add_option("--case", a->cases, "demo-teacher and/or gpt2-small (default: both)");
    sft->add_option("--steps", a->steps, "timed steps per case (default: 8 demo-teacher, 3 gpt2-small)");
    sft->add_option("--python", a->python, "Python interpreter with torch for the reference (\"none\" to skip it)")
        ->capture_default_str();
    sft->add_flag("--json", a->json, "print one JSON document instead of the table");
    sft->callback([a] {
        std::vector<SftBenchmarkCase> cases;
        for (const auto &c : builtInSftBenchmarkCases())
            if (a->cases.empty() || std::find(a->cases.begin(), a->cases.end(), c.name) != a->cases.end())
                cases.push_back(c);
        if (cases.empty())
            throw UsageError("--case: expected demo-teacher or gpt2-small");
        const RuntimeInfo info = runtimeInfo();
        const double peak = measureMatmulGflops(2048);
        auto say = [a](const std::string &line) {
            if (!a->json)
                std::cout << line << std::endl;
        };
        say("matmul 2048x2048 float32: " + fixed(peak, 1) + " GFLOPS peak (threads " + std::to_string(info.intraOpThreads) + ", BLAS "
            + info.blas + ", Torch " + info.torchVersion + ")");
        say("case           implementation  batch x (prompt+response)  parameters  median step s  tokens/s  model GFLOPS  MFU");
        nlohmann::json doc{{"threads", info.intraOpThreads}, {"blas", info.blas}, {"torch", info.torchVersion},
                           {"matmul_peak_gflops", peak}, {"cases", nlohmann::json::array()}};
        auto row = [&](const SftBenchmarkCase &c, const std::string &impl, const SftBenchmarkResult &r) {
            char line[256];
            std::snprintf(line, sizeof line, "%-14s %-15s %5lld x (%lld+%lld)%*s %10.2fM %14.3f %9.0f %13.1f %4.0f%%", c.name.c_str(),
                          impl.c_str(), static_cast<long long>(c.batchSize), static_cast<long long>(c.promptTokens),
                          static_cast<long long>(c.responseTokens), 10, "", static_cast<double>(r.parameters) / 1e6,
                          r.medianStepSeconds, r.tokensPerSecond, r.achievedGflops, 100 * r.achievedGflops / peak);
            say(line);
        };
        for (auto c : cases) {
            if (a->steps > 0)
                c.steps = a->steps;
            const auto ours = runSftBenchmark(c);
            row(c, "plad", ours);
            nlohmann::json entry{{"case", c.name},
                                 {"style", c.spec.style},
                                 {"batch", c.batchSize},
                                 {"prompt_tokens", c.promptTokens},
                                 {"response_tokens", c.responseTokens},
                                 {"plad", toJson(ours, peak)}};
            if (a->python != "none") {
                const auto py = runPython(a->python, c, info.intraOpThreads);
                if (py.result) {
                    row(c, "pytorch " + py.torchVersion, *py.result);
                    entry["pytorch"] = toJson(*py.result, peak);
                    entry["pytorch"]["torch"] = py.torchVersion;
                    const double ratio = ours.tokensPerSecond / py.result->tokensPerSecond;
                    entry["speed_ratio"] = ratio;
                    say(std::string(15, ' ') + "plad / pytorch tokens/s: " + fixed(ratio, 2) + "x");
                } else {
                    entry["pytorch_error"] = py.error;
                    say(std::string(15, ' ') + "pytorch reference not run: " + py.error);
                }
            }
            doc["cases"].push_back(entry);
        }
        say("model FLOPs per step = batch x (tokens x (6 x block parameters + 12 x layers x hidden x length) + response x 6 x "
            "hidden x vocab); MFU = model FLOPs/s over the matmul peak");
        if (a->json)
            printJson(doc);
    });
}

} // namespace plad::cli
