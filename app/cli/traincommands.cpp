// plad sft: supervised fine-tuning from a JSON config.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "common/error.h"
#include "train/sftjob.h"

#include <cstdio>
#include <iostream>
#include <memory>

namespace plad::cli {

void addTrainCommands(CLI::App &app)
{
    struct Args
    {
        std::string config;
        bool resume = false;
        bool quiet = false;
    };
    auto a = std::make_shared<Args>();
    auto *sft = app.add_subcommand("sft", "Supervised fine-tuning (cross-entropy on response tokens) from a JSON config");
    sft->add_option("--config", a->config, "SFT config (see docs/sft-config.md)")->required();
    sft->add_flag("--resume", a->resume, "continue from OUTPUT/checkpoint");
    sft->add_flag("--quiet", a->quiet, "no progress lines on stderr");
    sft->callback([a] {
        const auto config = SftJobConfig::load(a->config);
        auto log = [a](const std::string &line) {
            if (!a->quiet)
                std::cerr << line << std::endl;
        };
        const auto onPoint = [a](const TrainingPoint &p) {
            if (a->quiet)
                return;
            char line[256];
            std::snprintf(line, sizeof line, "step %ld  loss %.4f  lr %.2e  grad %.3f  %.0f tok/s  eta %.0fs%s",
                          static_cast<long>(p.step), p.loss, p.learningRate, p.gradNorm, p.tokensPerSecond, p.etaSeconds,
                          p.validationLoss ? ("  val " + std::to_string(*p.validationLoss)).c_str() : "");
            std::cerr << line << std::endl;
        };
        const auto result = runSftJob(config, a->resume, nullptr, onPoint, log);
        if (result.training.stop != TrainStop::Completed)
            throw Error(result.training.message);
        nlohmann::json out = {{"model", result.modelDirectory.string()},
                              {"steps", result.training.steps},
                              {"train_examples", result.trainExamples},
                              {"validation_examples", result.validationExamples},
                              {"test_examples", result.testExamples},
                              {"truncated_prompts", result.truncatedPrompts},
                              {"truncated_responses", result.truncatedResponses},
                              {"final_train_loss", result.training.history.empty() ? 0.0 : result.training.history.back().loss}};
        if (result.training.validationLoss)
            out["validation_loss"] = *result.training.validationLoss;
        printJson(out);
    });

    struct SynthArgs
    {
        std::string out;
        int64_t count = 2000;
        uint64_t seed = 0;
    };
    auto s = std::make_shared<SynthArgs>();
    auto *data = app.get_subcommand("data");
    auto *synth = data->add_subcommand("synthetic", "Write the synthetic word-reversal task as JSONL (for quick end-to-end runs)");
    synth->add_option("--out", s->out, "JSONL file to write")->required();
    synth->add_option("--count", s->count, "records")->capture_default_str();
    synth->add_option("--seed", s->seed, "random seed")->capture_default_str();
    synth->callback([s] {
        writeDatasetJsonl(s->out, makeReversalTask(s->count, s->seed));
        printJson({{"file", s->out}, {"records", s->count}});
    });
}

} // namespace plad::cli
