#include "dist/workerlauncher.h"

#include "common/error.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace plad {

namespace {

/** This process's environment with `overrides` replacing or adding variables. */
std::vector<std::string> environmentWith(const std::vector<std::pair<std::string, std::string>> &overrides)
{
    std::vector<std::string> out;
    for (char **e = environ; e && *e; ++e) {
        const std::string entry(*e);
        const auto name = entry.substr(0, entry.find('='));
        bool replaced = false;
        for (const auto &[key, value] : overrides)
            replaced = replaced || key == name;
        if (!replaced)
            out.push_back(entry);
    }
    for (const auto &[key, value] : overrides)
        out.push_back(key + "=" + value);
    return out;
}

int exitCodeOf(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

/** Starts worker `local` of `launch`; throws Error when it cannot. */
pid_t spawnWorker(const WorkerLaunch &launch, int local)
{
    Rendezvous r = launch.rendezvous;
    r.rank = launch.firstRank + local;
    r.localRank = launch.firstLocalRank + local;
    const auto env = environmentWith(r.environment());
    std::vector<char *> envp;
    for (const auto &e : env)
        envp.push_back(const_cast<char *>(e.c_str()));
    envp.push_back(nullptr);
    std::vector<std::string> args{"plad"};
    args.insert(args.end(), launch.arguments.begin(), launch.arguments.end());
    std::vector<char *> argv;
    for (const auto &a : args)
        argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (launch.quietFollowers && r.rank != 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, launch.program.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        throw Error("cannot start worker rank " + std::to_string(r.rank) + " (" + launch.program.string() + "): " + std::strerror(rc));
    return pid;
}

} // namespace

std::vector<WorkerOutcome> launchWorkers(const WorkerLaunch &launch, const std::atomic<bool> &interrupted, int graceSeconds)
{
    if (launch.processes < 1)
        throw Error("--nproc: at least one process");
    std::map<pid_t, size_t> running; // pid -> index in outcomes
    std::vector<WorkerOutcome> outcomes(static_cast<size_t>(launch.processes));

    auto signalAll = [&](int sig) {
        for (const auto &[pid, index] : running)
            ::kill(pid, sig);
    };

    for (int local = 0; local < launch.processes; ++local) {
        pid_t pid = -1;
        try {
            pid = spawnWorker(launch, local);
        } catch (const Error &) {
            signalAll(SIGKILL);
            for (const auto &[p, index] : running)
                ::waitpid(p, nullptr, 0);
            throw;
        }
        outcomes[static_cast<size_t>(local)].rank = launch.firstRank + local;
        running[pid] = static_cast<size_t>(local);
    }

    bool stopping = false, forwarded = false;
    auto killAt = std::chrono::steady_clock::time_point::max();
    while (!running.empty()) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            const auto it = running.find(pid);
            if (it == running.end())
                continue;
            auto &outcome = outcomes[it->second];
            outcome.exitCode = exitCodeOf(status);
            outcome.stoppedByLauncher = stopping;
            running.erase(it);
            if (outcome.exitCode != 0 && !stopping) {
                // One rank failed: the others cannot finish without it.
                stopping = true;
                signalAll(SIGTERM);
                killAt = std::chrono::steady_clock::now() + std::chrono::seconds(graceSeconds);
            }
            continue;
        }
        if (pid < 0 && errno != EINTR)
            break;
        if (interrupted.load() && !forwarded) {
            forwarded = true;
            signalAll(SIGINT);
            killAt = std::chrono::steady_clock::now() + std::chrono::seconds(graceSeconds * 6);
        }
        if (std::chrono::steady_clock::now() > killAt) {
            signalAll(SIGKILL);
            killAt = std::chrono::steady_clock::time_point::max();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return outcomes;
}

WorkerProcesses::WorkerProcesses(const WorkerLaunch &launch)
{
    if (!std::filesystem::exists(launch.program))
        throw Error("cannot start the other ranks: " + launch.program.string() + " does not exist");
    try {
        for (int local = 0; local < launch.processes; ++local) {
            mPids.push_back(spawnWorker(launch, local));
            mOutcomes.push_back({launch.firstRank + local, -1, false});
        }
    } catch (const Error &) {
        wait(std::chrono::seconds(0));
        throw;
    }
}

WorkerProcesses::~WorkerProcesses()
{
    wait(std::chrono::seconds(0));
}

std::vector<WorkerOutcome> WorkerProcesses::wait(std::chrono::seconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto reap = [&](bool block) {
        for (size_t i = 0; i < mPids.size(); ++i) {
            if (mPids[i] <= 0)
                continue;
            int status = 0;
            if (::waitpid(mPids[i], &status, block ? 0 : WNOHANG) == mPids[i]) {
                mOutcomes[i].exitCode = exitCodeOf(status);
                mPids[i] = -1;
            }
        }
    };
    auto running = [&] { return std::any_of(mPids.begin(), mPids.end(), [](pid_t p) { return p > 0; }); };
    for (reap(false); running() && std::chrono::steady_clock::now() < deadline; reap(false))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (running()) {
        for (size_t i = 0; i < mPids.size(); ++i)
            if (mPids[i] > 0) {
                ::kill(mPids[i], SIGTERM);
                mOutcomes[i].stoppedByLauncher = true;
            }
        const auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (reap(false); running() && std::chrono::steady_clock::now() < grace; reap(false))
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        for (const pid_t p : mPids)
            if (p > 0)
                ::kill(p, SIGKILL);
        reap(true);
    }
    return mOutcomes;
}

int freeLocalPort()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw Error(std::string("cannot open a socket for the rendezvous port: ") + std::strerror(errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof(address)) != 0
        || ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        throw Error("cannot find a free port for the rendezvous: " + why);
    }
    const int port = ntohs(address.sin_port);
    ::close(fd);
    return port;
}

} // namespace plad
