#include "bench/pairsbenchmark.h"

#include "common/error.h"
#include "common/ordering.h"
#include "plad/democonfig.h"
#include "plad/distillrun.h"
#include "plad/pairgeneration.h"
#include "model/modelconfig.h"
#include "plad/teachers.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"
#include "train/sftdata.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace plad {

namespace fs = std::filesystem;

PairsBenchmarkResult runPairsBenchmark(const PairsBenchmarkOptions &options, const std::function<void(const std::string &)> &log)
{
    const fs::path &demo = options.demoDirectory;
    if (!fs::exists(demo / "teacher" / "config.json") || !fs::exists(demo / "student" / "config.json"))
        throw Error("bench pairs: the embedded demo is not at " + demo.string());
    DemoBudget budget;
    budget.prompts = options.prompts;
    budget.steps = 1;
    budget.evalPrompts = 0;
    nlohmann::json doc = demoRunConfig(demo, "plad", {{"type", "local"}, {"model", (demo / "teacher").string()}}, budget);
    if (options.batchSize >= 0)
        doc["pairs"]["batch_size"] = options.batchSize;
    const RunConfig config = RunConfig::fromJson(doc, {});

    PairsBenchmarkResult result;
    result.batchSize = config.pairs.batchSize;
    auto side = [](const char *who, const auto &sampling) {
        char text[96];
        if (sampling.sampling.greedy)
            std::snprintf(text, sizeof text, "greedy %s", who);
        else
            std::snprintf(text, sizeof text, "%s at T = %g", who, sampling.sampling.temperature);
        return std::string(text);
    };
    result.settings = side("teacher", config.pairs.teacher) + " and " + side("student", config.pairs.student) + ", "
                      + std::to_string(config.pairs.perPrompt) + " sample(s) each, "
                      + enumName<LabelingPolicy>(labelingPolicyNames, config.labeling.policy) + " labelling"
                      + (config.labeling.studentPairs ? " with student pairs" : "");
    {
        Workspace store = Workspace::open(options.workspace);
        result.runId = createDistillationRun(store, config).id;
    }
    RunCallbacks callbacks;
    callbacks.generateOnly = true;
    callbacks.log = log;
    const auto run = executeRun(options.workspace, result.runId, nullptr, callbacks);
    if (run.generation.empty())
        throw Error("bench pairs: the run generated nothing (" + run.message + ")");
    result.report = run.generation.front();
    result.promptsPerSecond = static_cast<double>(result.report.prompts) / result.report.seconds;

    // The teacher alone: the same prompts, seeds, order and batches as pair generation used.
    Workspace store = Workspace::open(options.workspace, false);
    auto prompts = store.pairs().prompts(result.runId, "train");
    if (static_cast<int64_t>(prompts.size()) > options.prompts)
        prompts.resize(static_cast<size_t>(options.prompts));
    const Tokenizer tokenizer = Tokenizer::load(config.student);
    const PromptTemplate promptTemplate = PromptTemplate::resolve(std::nullopt, config.student);
    EncodingLimits limits = config.data.limits;
    const int64_t context = loadModelConfig(config.student / "config.json").maxPositions;
    if (limits.contextLength <= 0 || limits.contextLength > context)
        limits.contextLength = context;
    const int64_t tokens = config.pairs.teacher.maxNewTokens > 0 ? config.pairs.teacher.maxNewTokens : config.data.limits.maxResponseTokens;
    std::vector<size_t> length;
    for (const auto &p : prompts)
        length.push_back(encodePromptWithin(p.input(), tokenizer, promptTemplate, limits, tokens).size());
    const auto order = longestFirst(prompts.size(), [&](size_t i) { return length[i]; });
    auto teacher = makeTeacher(*config.teacher, config.pairs.teacher, tokens, promptTemplate, config.data.limits, config.device,
                               pairGenerationRows(config));
    const auto start = std::chrono::steady_clock::now();
    const auto batch = static_cast<size_t>(pairChunkPrompts(config)); // the chunks pair generation runs
    for (size_t first = 0; first < order.size(); first += batch) {
        std::vector<PromptRecord> records;
        std::vector<uint64_t> seeds;
        for (size_t j = first; j < std::min(order.size(), first + batch); ++j) {
            records.push_back(prompts[order[j]]);
            seeds.push_back(pairPromptSeed(config, 0, records.back()));
        }
        teacher->generate(records, config.pairs.perPrompt, seeds, nullptr, &result.teacherAlone);
    }
    result.teacherAloneSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

} // namespace plad
