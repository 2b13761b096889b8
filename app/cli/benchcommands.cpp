// plad bench: performance figures on this machine (benchmarks, not tests).
#include "cli/commands.h"

namespace plad::cli {

void addBenchCommands(CLI::App &app)
{
    auto *bench = app.add_subcommand("bench", "Measure performance on this machine");
    bench->require_subcommand(1);
    addTokenizerBenchmark(*bench);
    addSftBenchmark(*bench);
    addGenerationBenchmark(*bench);
    addPairsBenchmark(*bench);
    addDistributedBenchmark(*bench);
    addServeBenchmark(*bench);
}

} // namespace plad::cli
