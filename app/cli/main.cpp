// plad: the headless command line of PLaD Workbench. Argument parsing and wiring only.
#include "cli/commands.h"

#include "common/error.h"
#include "common/openmpwait.h"
#include "model/runtime.h"
#include "common/version.h"

#include <exception>
#include <iostream>

int main(int argc, char **argv)
{
    plad::ensurePassiveOpenMPWaiting(argv);
    CLI::App app{"plad: preference-based distillation of language models (PLaD Workbench command line)"};
    app.set_version_flag("--version", std::string("plad ") + plad::pladVersion);
    app.require_subcommand(0, 1);
    int threads = 0;
    app.add_option("--threads", threads, "Torch intra-op threads (default: PLAD_THREADS or the number of cores)");
    app.parse_complete_callback([&threads] { plad::configureThreads(threads); });

    plad::cli::addModelCommands(app);
    plad::cli::addGenerateCommand(app);
    plad::cli::addChatCommand(app);
    plad::cli::addTokenizerCommands(app);
    plad::cli::addTemplateCommands(app);
    plad::cli::addEvalCommands(app);
    plad::cli::addServeCommand(app);
    plad::cli::addDataCommands(app);
    plad::cli::addTrainCommands(app);
    plad::cli::addRunCommands(app);
    plad::cli::addDemoCommand(app);
    plad::cli::addBenchCommands(app);

    try {
        app.parse(argc, argv);
        if (app.get_subcommands().empty()) {
            std::cerr << app.help();
            return 1;
        }
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    } catch (const plad::Error &e) {
        std::cerr << "plad: error: " << e.what() << '\n';
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "plad: internal error: " << e.what() << '\n';
        return 2;
    }
    return 0;
}
