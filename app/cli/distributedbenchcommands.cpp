// plad bench distributed: the demo's PLaD run on one and two processes, and what that predicts for more.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "bench/distributedbenchmark.h"
#include "common/error.h"
#include "model/runtime.h"
#include "plad/demostudy.h"

#include <iostream>

#include <CLI/CLI.hpp>

namespace plad::cli {

namespace fs = std::filesystem;

void addDistributedBenchmark(CLI::App &bench)
{
    struct Args
    {
        int64_t prompts = 256, steps = 40;
        std::string demo;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto *command = bench.add_subcommand("distributed", "The demo's PLaD run (pair generation, then training) on 1 process x 1 thread, "
                                                        "1 x 2 threads and 2 processes x 1 thread (torch.distributed, Gloo on loopback)");
    command->add_option("--prompts", a->prompts, "training prompts whose pairs are generated")->capture_default_str()->check(CLI::PositiveNumber);
    command->add_option("--steps", a->steps, "training steps (batch 16)")->capture_default_str()->check(CLI::PositiveNumber);
    command->add_option("--demo", a->demo, "the embedded demo's folder (default: the installed one)");
    command->add_flag("--json", a->json, "print one JSON document instead of the table");
    command->callback([a] {
        auto say = [a](const std::string &line) {
            if (!a->json)
                std::cout << line << std::endl;
        };
        const RuntimeInfo info = runtimeInfo();
        ScratchDirectory scratch;
        DistributedBenchmarkOptions options;
        options.demoDirectory = a->demo.empty() ? defaultDemoDirectory() : fs::path(a->demo);
        options.workspace = scratch.path;
        options.program = fs::read_symlink("/proc/self/exe");
        options.prompts = a->prompts;
        options.steps = a->steps;
        say("BLAS " + info.blas + ", Torch " + info.torchVersion + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores");
        const auto r = runDistributedBenchmark(options, [&](const std::string &line) { say("  " + line); });
        const auto &base = r.cases.front();
        say("");
        say("the demo's PLaD run: " + std::to_string(a->prompts) + " training prompts (4 teacher and 4 student samples each), "
            + std::to_string(a->steps) + " steps of 16 pairs; student " + std::to_string(r.parameters) + " parameters");
        nlohmann::json cases = nlohmann::json::array();
        for (const auto &c : r.cases) {
            const double genSpeedup = c.promptsPerSecond / base.promptsPerSecond, trainSpeedup = c.tokensPerSecond / base.tokensPerSecond;
            const int workers = c.processes * c.threads;
            say("  " + c.name + ": generation " + fixed(c.generationSeconds, 1) + " s = " + fixed(c.promptsPerSecond, 1) + " prompts/s (x"
                + fixed(genSpeedup, 2) + ", efficiency " + fixed(100 * genSpeedup / workers, 0) + "%); training " + fixed(c.tokensPerSecond, 0)
                + " tokens/s (x" + fixed(trainSpeedup, 2) + ", efficiency " + fixed(100 * trainSpeedup / workers, 0) + "%), "
                + fixed(1000 * c.stepSeconds, 0) + " ms a step; whole run " + fixed(c.wallSeconds, 1) + " s");
            cases.push_back({{"name", c.name}, {"processes", c.processes}, {"threads", c.threads}, {"generation_seconds", c.generationSeconds},
                             {"prompts_per_second", c.promptsPerSecond}, {"generation_speedup", genSpeedup},
                             {"training_tokens_per_second", c.tokensPerSecond}, {"training_speedup", trainSpeedup},
                             {"step_seconds", c.stepSeconds}, {"wall_seconds", c.wallSeconds}});
        }
        // A ring allreduce moves 2 (N-1)/N of the gradients through each rank's link per step.
        const double mib = static_cast<double>(r.gradientBytes) / (1024.0 * 1024.0);
        const double step = r.cases.back().stepSeconds;
        say("  gradient allreduce: " + fixed(mib, 1) + " MiB of float32 gradients a step; a ring over N machines sends 2 (N-1)/N of it "
            + "through each link, so keeping the communication under a tenth of a " + fixed(1000 * step, 0) + " ms step needs about "
            + fixed(2 * mib * 8 / (0.1 * step) / 1024.0, 2) + " Gbit/s per link for large N");
        if (a->json)
            printJson({{"blas", info.blas}, {"torch", info.torchVersion}, {"prompts", a->prompts}, {"steps", a->steps}, {"parameters", r.parameters},
                       {"gradient_bytes_per_step", r.gradientBytes}, {"cases", cases}});
    });
}

} // namespace plad::cli
