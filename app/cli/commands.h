#pragma once

#include <CLI/CLI.hpp>

namespace plad::cli {

// Each function adds its subcommands to the application; the callbacks do the work.
void addModelCommands(CLI::App &app);
void addGenerateCommand(CLI::App &app);
void addChatCommand(CLI::App &app);
void addBenchCommands(CLI::App &app);
void addTokenizerCommands(CLI::App &app);
void addTemplateCommands(CLI::App &app);
void addEvalCommands(CLI::App &app);
void addServeCommand(CLI::App &app);
void addDataCommands(CLI::App &app);
/** Needs addDataCommands() first (adds `data synthetic`). */
void addTrainCommands(CLI::App &app);
void addRunCommands(CLI::App &app);
void addDemoCommand(CLI::App &app);
/** Adds `tokenizer` under the `bench` command. */
void addTokenizerBenchmark(CLI::App &bench);
/** Adds `sft` under the `bench` command. */
void addSftBenchmark(CLI::App &bench);
/** Adds `generate` under the `bench` command. */
void addGenerationBenchmark(CLI::App &bench);
/** Adds `pairs` under the `bench` command. */
void addPairsBenchmark(CLI::App &bench);
/** Adds `distributed` under the `bench` command. */
void addDistributedBenchmark(CLI::App &bench);
void addServeBenchmark(CLI::App &bench);

} // namespace plad::cli
