#include "bench/distributedbenchmark.h"

#include "common/error.h"
#include "common/fileio.h"
#include "model/modelloader.h"
#include "plad/democonfig.h"
#include "store/workspace.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>
#include <sys/wait.h>

#include <torch/torch.h>

extern char **environ;

namespace plad {

namespace fs = std::filesystem;

namespace {

/** Seconds since the epoch of a stored time ("2026-11-28T05:12:00.123Z"). */
double secondsOfStoredTime(const std::string &text)
{
    std::tm tm{};
    int millis = 0;
    if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) < 6)
        throw Error("bench distributed: unreadable stored time \"" + text + "\"");
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<double>(::timegm(&tm)) + millis / 1000.0;
}

double medianOf(std::vector<double> values)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

/** Runs the program with `args` and waits; throws when it fails. */
void runProgram(const fs::path &program, const std::vector<std::string> &args)
{
    std::vector<std::string> all{program.string()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto &a : all)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions; // the run's own JSON result is not the benchmark's output
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        throw Error("bench distributed: cannot start " + program.string() + ": " + std::strerror(rc));
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string line;
        for (const auto &a : all)
            line += a + " ";
        throw Error("bench distributed: " + line + "failed");
    }
}

} // namespace

DistributedBenchmarkResult runDistributedBenchmark(const DistributedBenchmarkOptions &options, const std::function<void(const std::string &)> &log)
{
    const fs::path &demo = options.demoDirectory;
    if (!fs::exists(demo / "teacher" / "config.json") || !fs::exists(demo / "student" / "config.json"))
        throw Error("bench distributed: the embedded demo is not at " + demo.string());
    DemoBudget budget;
    budget.prompts = options.prompts;
    budget.steps = options.steps;
    budget.evalPrompts = 0;
    nlohmann::json config = demoRunConfig(demo, "plad", {{"type", "local"}, {"model", (demo / "teacher").string()}}, budget, "consensus");
    config["eval"] = {{"prompts", 0}};
    config["train"]["checkpoint_every"] = 0;
    fs::create_directories(options.workspace);
    const fs::path configFile = options.workspace / "run.json";
    writeFileAtomically(configFile, config.dump(2));

    DistributedBenchmarkResult result;
    {
        const auto student = loadModel(demo / "student").model;
        for (const auto &p : student->parameters())
            result.parameters += p.numel();
        result.gradientBytes = result.parameters * 4;
    }
    const std::vector<std::pair<int, int>> shapes = {{1, 1}, {1, 2}, {2, 1}}; // processes, threads each
    for (const auto &[processes, threads] : shapes) {
        DistributedBenchmarkCase c;
        c.processes = processes;
        c.threads = threads;
        c.name = std::to_string(processes) + (processes == 1 ? " process x " : " processes x ") + std::to_string(threads)
                 + (threads == 1 ? " thread" : " threads");
        if (log)
            log(c.name + " ...");
        const fs::path ws = options.workspace / ("ws-" + std::to_string(processes) + "x" + std::to_string(threads));
        std::vector<std::string> args{"--threads", std::to_string(threads), "run", configFile.string(), "--workspace", ws.string(), "--quiet"};
        if (processes > 1)
            args.insert(args.end(), {"--nproc", std::to_string(processes)});
        const auto start = std::chrono::steady_clock::now();
        runProgram(options.program, args);
        c.wallSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

        Workspace store = Workspace::openReadOnly(ws);
        const std::string run = store.runs().list().front().id;
        for (const auto &s : store.runs().stages(run)) {
            const double seconds = secondsOfStoredTime(s.updatedAt) - secondsOfStoredTime(s.startedAt);
            if (s.stage == "generate")
                c.generationSeconds = seconds;
            if (s.stage == "train")
                c.stepSeconds = seconds / static_cast<double>(std::max<int64_t>(1, options.steps)); // with the trainer's start-up
        }
        const auto prompts = store.pairs().generatedPrompts(run, 0).size();
        c.promptsPerSecond = c.generationSeconds > 0 ? static_cast<double>(prompts) / c.generationSeconds : 0;
        std::vector<double> rates;
        for (const auto &p : store.runs().metrics(run, "tokens_per_second"))
            if (p.step > 2) // past the first steps' warm-up
                rates.push_back(p.value);
        c.tokensPerSecond = medianOf(rates);
        result.cases.push_back(c);
        if (log)
            log("  generation " + std::to_string(c.generationSeconds) + " s, training " + std::to_string(c.tokensPerSecond) + " tokens/s");
    }
    return result;
}

} // namespace plad
