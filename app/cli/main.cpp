// plad: the headless command line of PLaD Workbench. Argument parsing and wiring only.
#include "cli/commands.h"

#include "common/error.h"
#include "common/openmpwait.h"
#include "model/runtime.h"
#include "common/version.h"

#include <exception>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>

int main(int argc, char **argv)
{
    plad::ensurePassiveOpenMPWaiting(argv);
    CLI::App app{"plad: preference-based distillation of language models (PLaD Workbench command line)"};
    // The version and what the program computes with: Torch, its threads, the BLAS it loaded.
    app.set_version_flag("--version", [] {
        plad::configureThreads(0); // what a command would run with (PLAD_THREADS or all cores)
        return std::string("plad ") + plad::pladVersion + "\n" + plad::describeRuntime(plad::runtimeInfo());
    });
    app.require_subcommand(0, 1);
    int threads = 0;
    app.add_option("--threads", threads, "Torch intra-op threads (default: PLAD_THREADS or the number of cores); before or after the command");
    app.parse_complete_callback([&app, &threads] {
        plad::configureThreads(threads);
        const plad::RuntimeInfo runtime = plad::runtimeInfo();
        if (const std::string warning = plad::blasWarning(runtime); !warning.empty())
            std::cerr << "plad: warning: " << warning << '\n';
        // The commands that compute say with what, before they start (on stderr: stdout stays
        // the command's own output).
        static const std::set<std::string> computing{"run", "sft", "demo", "serve", "generate", "eval", "bench"};
        for (const CLI::App *command : app.get_subcommands())
            if (computing.count(command->get_name()))
                std::cerr << "plad: " << plad::describeRuntime(runtime) << '\n';
    });
    // Options of the program (--threads) are taken after a command too: `plad run --threads 1 CONFIG`.
    app.fallthrough();

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
            return 2; // no command: a usage error
        }
    } catch (const CLI::CallForHelp &e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp &e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion &e) {
        return app.exit(e);
    } catch (const CLI::RuntimeError &e) {
        return e.get_exit_code(); // a command's own status (130: cancelled)
    } catch (const CLI::ParseError &e) {
        app.exit(e); // prints what was wrong and the usage line
        return 2;    // usage errors, as command-line tools report them
    } catch (const plad::UsageError &e) {
        std::cerr << "plad: usage: " << e.what() << '\n';
        return 2;
    } catch (const plad::Error &e) {
        std::cerr << "plad: error: " << e.what() << '\n';
        return 1;
    } catch (const std::filesystem::filesystem_error &e) {
        // The system refused a path (too long, no permission, not a directory): the user's to fix.
        std::cerr << "plad: error: " << plad::Error::escapeControls(e.path1().string()) << ": " << e.code().message() << '\n';
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "plad: internal error: " << e.what() << '\n';
        return 70; // EX_SOFTWARE: a bug, not the user's input
    }
    return 0;
}
