// plad run, plad runs, plad pairs, plad export-model: the PLaD engine and its run store.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "plad/pairquality.h"
#include "plad/runconfig.h"

#include "common/error.h"
#include "common/fileio.h"
#include "dist/rankgroup.h"
#include "dist/workerlauncher.h"
#include "model/runtime.h"
#include "plad/distillrun.h"
#include "plad/distillstep.h"
#include "plad/runexports.h"
#include "report/report.h"
#include "store/annotationsfile.h"
#include "store/workspace.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <stop_token>
#include <thread>

#include <CLI/CLI.hpp>

namespace plad::cli {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> gInterrupted{false};

extern "C" void onInterrupt(int)
{
    gInterrupted.store(true);
}

std::string defaultWorkspace()
{
    const char *env = std::getenv("PLAD_WORKSPACE");
    return env && *env ? env : "workspace";
}

void addWorkspaceOption(CLI::App *command, std::string &workspace)
{
    command->add_option("--workspace", workspace, "workspace directory holding plad.sqlite (default: $PLAD_WORKSPACE or ./workspace)");
}

nlohmann::json runSummary(Workspace &store, const RunRecord &r)
{
    return {{"id", r.id},          {"name", r.name},           {"method", r.method},
            {"status", toString(r.status)}, {"created_at", r.createdAt}, {"updated_at", r.updatedAt},
            {"steps", std::max<int64_t>(0, store.runs().lastMetricStep(r.id))}, {"pairs", store.pairs().pairCount(r.id, -1, "train")},
            {"held_out_pairs", store.pairs().pairCount(r.id, 0, "validation")},
            {"tags", r.tags},      {"error", r.error}};
}

/** The prompt the student saw, for exports: the run's template applied to the task prompt. */
void addRunCommand(CLI::App &app)
{
    struct Args
    {
        std::string config, workspace = defaultWorkspace(), resume, name;
        bool quiet = false;
        bool generateOnly = false;
        int processes = 0, nodes = 1, nodeRank = 0, masterPort = 0;
        std::string masterAddress;
        bool worker = false;
    };
    auto a = std::make_shared<Args>();
    auto *run = app.add_subcommand("run", "Execute a distillation run from a JSON config (docs/run-config.md), or resume one");
    run->add_option("config", a->config, "run config (JSON)");
    addWorkspaceOption(run, a->workspace);
    run->add_option("--resume", a->resume, "continue a stopped, failed or killed run from its last checkpoint");
    run->add_option("--name", a->name, "name of the new run (default: the config's name, or the run id)");
    run->add_flag("--quiet", a->quiet, "no progress on stderr");
    run->add_flag("--generate-only", a->generateOnly,
                  "stop once the pairs are generated and saved (status cancelled, exit 0): inspect them, then --resume to train");
    run->add_option("--nproc", a->processes, "processes on this machine (torch.distributed over Gloo, docs/distributed.md); each gets "
                                             "--threads threads, by default cores / nproc")
        ->check(CLI::Range(1, 1024));
    run->add_option("--nnodes", a->nodes, "machines taking part (each runs plad run --nproc N with its --node-rank)")->check(CLI::Range(1, 4096));
    run->add_option("--node-rank", a->nodeRank, "this machine's index, 0 .. nnodes-1 (machine 0 holds the workspace)")->check(CLI::NonNegativeNumber);
    run->add_option("--master-addr", a->masterAddress, "address of machine 0 (default: $MASTER_ADDR, else 127.0.0.1)");
    run->add_option("--master-port", a->masterPort, "rendezvous port on machine 0 (default: $MASTER_PORT, else a free port for one machine, 29500 for several)")
        ->check(CLI::Range(1, 65535));
    run->add_flag("--worker", a->worker, "one rank of a run started by --nproc (its rendezvous from MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK)")
        ->group("");
    run->callback([a, run] {
        // One rank among several: started by --nproc, or by torchrun-style environment variables.
        const Rendezvous environment = Rendezvous::fromEnvironment();
        const bool launcher = !a->worker && (a->processes > 1 || a->nodes > 1);
        if (launcher && environment.worldSize > 1)
            throw UsageError("--nproc/--nnodes start the ranks themselves; WORLD_SIZE=" + std::to_string(environment.worldSize)
                        + " is set as if a launcher (torchrun) had started this process: use one or the other");
        if (a->nodeRank >= a->nodes)
            throw UsageError("--node-rank " + std::to_string(a->nodeRank) + " is not below --nnodes " + std::to_string(a->nodes));
        std::shared_ptr<RankGroup> group;
        if (!launcher && (a->worker || environment.worldSize > 1))
            group = RankGroup::join(environment);
        const bool follower = group && !group->isRoot();
        const bool joining = launcher && a->nodeRank > 0; // another machine's ranks: the run comes from machine 0
        if (!follower && !joining && a->config.empty() == a->resume.empty())
            throw UsageError("give either a config file (plad run CONFIG.json) or --resume RUN_ID");
        std::string runId = a->resume;
        if (follower || joining) {
            // nothing to create: rank 0 sends the run
        } else if (!a->config.empty()) {
            RunConfig config = RunConfig::load(a->config);
            if (!a->name.empty())
                config.name = a->name;
            Workspace store = Workspace::open(a->workspace);
            runId = createDistillationRun(store, config).id;
        } else if (!fs::exists(fs::path(a->workspace) / Workspace::fileName)) {
            throw Error(a->workspace + ": no workspace here (" + Workspace::fileName + " is missing); pass --workspace");
        }
        if (!a->quiet && !follower && !joining)
            std::cerr << "run " << runId << " in " << a->workspace << std::endl;

        if (launcher) {
            Rendezvous r;
            r.worldSize = a->nodes * a->processes;
            r.masterAddress = !a->masterAddress.empty() ? a->masterAddress : environment.masterAddress;
            const char *envPort = std::getenv("MASTER_PORT");
            r.port = a->masterPort > 0 ? a->masterPort : envPort && *envPort ? environment.port : a->nodes == 1 ? freeLocalPort() : 29500;
            r.timeout = environment.timeout;
            WorkerLaunch launch;
            launch.rendezvous = r;
            launch.processes = std::max(1, a->processes);
            launch.firstRank = a->nodeRank * launch.processes;
            const bool threadsGiven = run->get_parent()->get_option("--threads")->count() > 0;
            const int threads = threadsGiven ? runtimeInfo().intraOpThreads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / launch.processes);
            launch.arguments = {"--threads", std::to_string(threads), "run", "--worker"};
            if (!joining)
                launch.arguments.insert(launch.arguments.end(), {"--workspace", a->workspace, "--resume", runId});
            if (a->quiet)
                launch.arguments.push_back("--quiet");
            if (a->generateOnly)
                launch.arguments.push_back("--generate-only");
            if (!a->quiet)
                std::cerr << "starting ranks " << launch.firstRank << ".." << launch.firstRank + launch.processes - 1 << " of " << r.worldSize << " ("
                          << threads << " thread(s) each; rendezvous " << r.masterAddress << ":" << r.port << ")" << std::endl;
            gInterrupted = false;
            std::signal(SIGINT, onInterrupt);
            std::signal(SIGTERM, onInterrupt);
            const auto outcomes = launchWorkers(launch, gInterrupted);
            for (const auto &o : outcomes)
                if (o.exitCode != 0 && !o.stoppedByLauncher) {
                    if (o.exitCode == 130 && gInterrupted.load())
                        throw CLI::RuntimeError(130);
                    throw Error("rank " + std::to_string(o.rank) + " failed (exit status " + std::to_string(o.exitCode)
                                + "); the other ranks were stopped; what was saved is kept, resume the run to continue");
                }
            for (const auto &o : outcomes)
                if (o.exitCode != 0)
                    throw Error("rank " + std::to_string(o.rank) + " stopped with exit status " + std::to_string(o.exitCode));
            return; // rank 0 printed the run's result
        }

        // Ctrl-C / SIGTERM cancel the run cleanly (checkpoint saved) through a watcher thread.
        std::stop_source stop;
        gInterrupted = false;
        std::signal(SIGINT, onInterrupt);
        std::signal(SIGTERM, onInterrupt);
        std::jthread watcher([&stop](std::stop_token done) {
            while (!done.stop_requested()) {
                if (gInterrupted.load()) {
                    stop.request_stop();
                    return;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        });
        const bool quiet = a->quiet;
        JobContext context(stop.get_token(), [quiet](const JobProgress &p) {
            if (quiet || p.stage == "train")
                return;
            std::fprintf(stderr, "%s %ld/%ld %s  %.1f/s  eta %.0fs\n", p.stage.c_str(), static_cast<long>(p.done), static_cast<long>(p.total),
                         p.unit.c_str(), p.ratePerSecond, p.etaSeconds);
        });
        auto lastLine = std::chrono::steady_clock::now() - std::chrono::hours(1);
        RunCallbacks callbacks;
        callbacks.generateOnly = a->generateOnly;
        callbacks.log = [quiet](const std::string &line) {
            if (!quiet)
                std::cerr << line << std::endl;
        };
        callbacks.onStep = [quiet, &lastLine](const DistillStep &s) {
            const auto now = std::chrono::steady_clock::now();
            if (quiet || (now - lastLine < std::chrono::seconds(2) && !s.point.validationLoss))
                return;
            lastLine = now;
            const auto &p = s.point;
            std::fprintf(stderr, "step %ld  loss %.4f", static_cast<long>(p.step), p.loss);
            if (s.rankingAccuracy)
                std::fprintf(stderr, "  rank-acc %.3f  margin %+.3f", *s.rankingAccuracy, *s.meanMargin);
            std::fprintf(stderr, "  lr %.2e  grad %.3f  %.0f tok/s  eta %.0fs", p.learningRate, p.gradNorm, p.tokensPerSecond, p.etaSeconds);
            if (p.validationLoss)
                std::fprintf(stderr, "  val %.4f", *p.validationLoss);
            std::fputc('\n', stderr);
        };
        callbacks.group = group;
        if (follower) {
            callbacks.log = [quiet, rank = group->rank()](const std::string &line) {
                if (!quiet)
                    std::cerr << "[rank " << rank << "] " << line << std::endl;
            };
            callbacks.onStep = {};
            const auto result = followRun(group, &context, callbacks);
            watcher.request_stop();
            if (result.status == RunStatus::Failed)
                throw Error(result.message);
            if (result.status == RunStatus::Cancelled && !(a->generateOnly && !gInterrupted.load()))
                throw CLI::RuntimeError(130);
            return;
        }
        const auto result = executeRun(a->workspace, runId, &context, callbacks);
        watcher.request_stop();
        nlohmann::json out = {{"run", result.runId}, {"status", toString(result.status)}, {"steps", result.steps}};
        if (!result.modelDirectory.empty())
            out["model"] = result.modelDirectory.string();
        if (!result.message.empty())
            out["message"] = result.message;
        Workspace store = Workspace::open(a->workspace, false);
        out["pairs"] = store.pairs().pairCount(result.runId, -1, "train");
        out["held_out_pairs"] = store.pairs().pairCount(result.runId, 0, "validation");
        printJson(out);
        if (result.status == RunStatus::Failed)
            throw Error(result.message);
        if (result.status == RunStatus::Cancelled && !(a->generateOnly && !gInterrupted.load()))
            throw CLI::RuntimeError(130);
    });
}

void addRunsCommands(CLI::App &app)
{
    auto *runs = app.add_subcommand("runs", "List and inspect the runs of a workspace");
    runs->require_subcommand(1);
    auto workspace = std::make_shared<std::string>(defaultWorkspace());
    auto *list = runs->add_subcommand("list", "Every run: id, name, method, status, steps, pairs, dates (JSON, newest first)");
    addWorkspaceOption(list, *workspace);
    list->callback([workspace] {
        Workspace store = Workspace::openReadOnly(*workspace);
        nlohmann::json out = nlohmann::json::array();
        for (const auto &r : store.runs().list())
            out.push_back(runSummary(store, r));
        printJson(out);
    });

    auto runId = std::make_shared<std::string>();
    auto *show = runs->add_subcommand("show", "One run: status, config, stages, latest metrics, artifacts, last events (JSON)");
    show->add_option("run", *runId, "run id")->required();
    addWorkspaceOption(show, *workspace);
    show->callback([workspace, runId] {
        Workspace store = Workspace::openReadOnly(*workspace);
        const auto r = store.runs().requireRun(*runId);
        nlohmann::json out = runSummary(store, r);
        out["config"] = nlohmann::json::parse(r.configJson);
        nlohmann::json metrics = nlohmann::json::object();
        for (const auto &name : store.runs().metricNames(r.id)) {
            const auto series = store.runs().metrics(r.id, name);
            if (!series.empty())
                metrics[name] = {{"step", series.back().step}, {"value", series.back().value}};
        }
        out["latest_metrics"] = metrics;
        out["stages"] = nlohmann::json::array();
        for (const auto &s : store.runs().stages(r.id))
            out["stages"].push_back({{"stage", s.stage}, {"status", s.status}, {"started_at", s.startedAt}, {"updated_at", s.updatedAt},
                                     {"detail", s.detail}});
        out["artifacts"] = nlohmann::json::array();
        for (const auto &a : store.results().artifacts(r.id))
            out["artifacts"].push_back({{"kind", a.kind}, {"path", a.path}, {"step", a.step}, {"created_at", a.createdAt}});
        const auto events = store.runs().events(r.id);
        out["events"] = nlohmann::json::array();
        for (size_t i = events.size() > 20 ? events.size() - 20 : 0; i < events.size(); ++i)
            out["events"].push_back({{"time", events[i].time}, {"level", events[i].level}, {"message", events[i].message}});
        std::cout << out.dump(2) << std::endl;
    });
}

void addPairsCommands(CLI::App &app)
{
    auto *pairs = app.add_subcommand("pairs", "Export pseudo-preference pairs, import annotations");
    pairs->require_subcommand(1);
    struct ExportArgs
    {
        std::string run, workspace = defaultWorkspace(), format = "trl", out;
    };
    auto e = std::make_shared<ExportArgs>();
    auto *exp = pairs->add_subcommand("export", "Write the run's pairs (annotations applied) as JSONL");
    exp->add_option("run", e->run, "run id")->required();
    exp->add_option("--format", e->format, "trl: {\"prompt\", \"chosen\", \"rejected\"}, TRL's preference format")->capture_default_str();
    exp->add_option("--out", e->out, "file to write (default: stdout)");
    addWorkspaceOption(exp, e->workspace);
    exp->callback([e] {
        if (e->format != "trl")
            throw UsageError("--format: only \"trl\" is supported");
        Workspace store = Workspace::openReadOnly(e->workspace);
        int64_t written = 0;
        const std::string text = trlPairsJsonl(store, e->run, &written);
        if (e->out.empty()) {
            std::cout << text << std::flush;
        } else {
            writeFileAtomically(e->out, text);
            printJson({{"file", e->out}, {"pairs", written}});
        }
    });

    struct ListArgs
    {
        std::string run, workspace = defaultWorkspace(), sort = "id";
        int64_t limit = 0;
    };
    auto l = std::make_shared<ListArgs>();
    auto *list = pairs->add_subcommand("list", "One JSON line per pair: ids, labeller, judge scores, margins, loss, annotation, texts");
    list->add_option("run", l->run, "run id")->required();
    list->add_option("--sort", l->sort, "id, margin (current, ascending: inverted pairs first) or loss (descending: hardest first)")
        ->check(CLI::IsMember({"id", "margin", "loss"}))
        ->capture_default_str();
    list->add_option("--limit", l->limit, "at most N lines (0: all)");
    addWorkspaceOption(list, l->workspace);
    list->callback([l] {
        Workspace store = Workspace::openReadOnly(l->workspace);
        store.runs().requireRun(l->run);
        const auto outputs = store.pairs().outputsById(l->run);
        std::map<std::string, std::string> splits;
        for (const auto &p : store.pairs().prompts(l->run))
            splits[p.id] = p.split;
        auto all = store.pairs().list(l->run);
        auto margin = [](const StoredPair &p) { return p.currentMargin.value_or(p.initialMargin); };
        if (l->sort == "margin")
            std::stable_sort(all.begin(), all.end(), [&](const auto &a, const auto &b) { return margin(a) < margin(b); });
        else if (l->sort == "loss")
            std::stable_sort(all.begin(), all.end(),
                             [](const auto &a, const auto &b) { return a.currentLoss.value_or(-1) > b.currentLoss.value_or(-1); });
        int64_t written = 0;
        for (const auto &p : all) {
            if (l->limit > 0 && written++ >= l->limit)
                break;
            nlohmann::json line = {{"pair_id", p.id}, {"prompt_id", p.promptId}, {"split", splits[p.promptId]}, {"round", p.round}, {"labeller", p.labeller},
                                   {"initial_margin", p.initialMargin}, {"chosen", outputs.at(p.chosenOutput).text},
                                   {"rejected", outputs.at(p.rejectedOutput).text}};
            if (p.chosenJudge)
                line["judge"] = {{"chosen", *p.chosenJudge}, {"rejected", *p.rejectedJudge}};
            if (p.currentMargin)
                line["current"] = {{"margin", *p.currentMargin}, {"loss", *p.currentLoss}, {"step", *p.updatedStep}};
            if (p.annotation)
                line["annotation"] = {{"action", toString(p.annotation->action)}, {"weight", p.annotation->weight}, {"note", p.annotation->note}};
            std::cout << line.dump() << '\n';
        }
        std::cout << std::flush;
    });

    struct QualityArgs
    {
        std::string run, workspace = defaultWorkspace();
        bool recompute = false;
    };
    auto q = std::make_shared<QualityArgs>();
    auto *quality = pairs->add_subcommand("quality", "The pair-quality readout: for every labelling policy, how often its preferred side is "
                                                     "better by the reference on the run's held-out (validation) prompts (JSON)");
    quality->add_option("run", q->run, "run id")->required();
    quality->add_flag("--recompute", q->recompute, "label the stored held-out outputs again instead of printing the readout recorded before training");
    addWorkspaceOption(quality, q->workspace);
    quality->callback([q] {
        Workspace store = Workspace::openReadOnly(q->workspace);
        const RunRecord run = store.runs().requireRun(q->run);
        const auto recorded = store.results().evaluations(q->run, "pair_quality");
        if (!recorded.empty() && !q->recompute) {
            printJson(nlohmann::json::parse(recorded.back().resultJson));
            return;
        }
        const RunConfig config = RunConfig::fromJson(nlohmann::json::parse(run.configJson), {});
        LabellingOptions options;
        options.score = config.loss.score;
        options.minGap = config.labeling.minGap;
        options.dropIdentical = config.labeling.dropIdentical;
        const PairQuality result = storedPairQuality(store, q->run, config.eval.prompts, options);
        if (result.prompts == 0)
            throw Error("run " + q->run + " has no held-out outputs to measure (it needs eval.prompts > 0, a teacher, and pair generation done)");
        nlohmann::json doc = toJson(result);
        doc["policy"] = enumName<LabelingPolicy>(labelingPolicyNames, config.labeling.policy);
        doc["split"] = "validation";
        printJson(doc);
    });

    struct ImportArgs
    {
        std::string run, file, workspace = defaultWorkspace();
    };
    auto i = std::make_shared<ImportArgs>();
    auto *imp = pairs->add_subcommand("import-annotations",
                                      "Apply annotations from JSONL lines {\"pair_id\", \"action\": flip|discard|weight|note|clear, \"weight\", \"note\"}");
    imp->add_option("run", i->run, "run id")->required();
    imp->add_option("file", i->file, "JSONL file")->required();
    addWorkspaceOption(imp, i->workspace);
    imp->callback([i] {
        Workspace store = Workspace::open(i->workspace, false);
        store.runs().requireRun(i->run);
        std::vector<std::pair<PairAnnotation, bool>> annotations; // (annotation, clear it)
        for (const AnnotationLine &line : parseAnnotationsJsonl(readTextFile(i->file), i->file)) {
            try {
                store.pairs().requirePair(i->run, line.annotation.pairId);
            } catch (const Error &err) {
                throw Error(i->file + ":" + std::to_string(line.line) + ": " + err.what());
            }
            annotations.emplace_back(line.annotation, line.clear);
        }
        // All lines are valid: apply them together, or not at all.
        store.database().transaction([&] {
            for (const auto &[a, clear] : annotations) {
                if (clear)
                    store.pairs().clearAnnotation(i->run, a.pairId);
                else
                    store.pairs().annotate(i->run, a);
            }
        });
        store.runs().addEvent(i->run, "info", std::to_string(annotations.size()) + " annotations imported from " + i->file);
        printJson({{"run", i->run}, {"annotations", annotations.size()}});
    });
}

void addReportCommand(CLI::App &app)
{
    struct Args
    {
        std::string run, workspace = defaultWorkspace(), format = "html", out;
    };
    auto a = std::make_shared<Args>();
    auto *report = app.add_subcommand("report", "Write a run's report from the run store: HTML (self-contained), Markdown (+ SVG charts) or CSV metrics");
    report->add_option("run", a->run, "run id")->required();
    report->add_option("--format", a->format, "html, md or csv")->capture_default_str();
    report->add_option("--out", a->out, "file to write (default: WORKSPACE/runs/RUN_ID/report.EXT)");
    addWorkspaceOption(report, a->workspace);
    report->callback([a] {
        const ReportFormat format = parseReportFormat(a->format);
        Workspace store = Workspace::openReadOnly(a->workspace);
        const auto run = store.runs().requireRun(a->run);
        const char *extension = format == ReportFormat::Html ? "report.html" : format == ReportFormat::Markdown ? "report.md" : "metrics.csv";
        const fs::path out = a->out.empty() ? runDirectory(a->workspace, run.id) / extension : fs::path(a->out);
        const auto written = writeReport(store, run.id, format, out);
        printJson({{"run", run.id}, {"format", a->format}, {"file", fs::absolute(written).string()}});
    });
}

void addExportModelCommand(CLI::App &app)
{
    struct Args
    {
        std::string run, directory, workspace = defaultWorkspace();
    };
    auto a = std::make_shared<Args>();
    auto *exp = app.add_subcommand("export-model", "Copy a run's student (Hugging Face layout, with tokenizer and prompt template) to DIR");
    exp->add_option("run", a->run, "run id")->required();
    exp->add_option("dir", a->directory, "target directory")->required();
    addWorkspaceOption(exp, a->workspace);
    exp->callback([a] {
        Workspace store = Workspace::openReadOnly(a->workspace);
        const auto run = store.runs().requireRun(a->run);
        const auto exported = exportStudent(store, a->workspace, run.id, a->directory);
        const fs::path target = exported.directory;
        const bool fromCheckpoint = exported.fromCheckpoint;
        printJson({{"run", run.id}, {"directory", target.string()}, {"from_checkpoint", fromCheckpoint},
                   {"status", toString(run.status)}});
    });
}

} // namespace

void addRunCommands(CLI::App &app)
{
    addRunCommand(app);
    addRunsCommands(app);
    addPairsCommands(app);
    addExportModelCommand(app);
    addReportCommand(app);
}

} // namespace plad::cli
