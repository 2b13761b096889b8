#pragma once

// `plad run --nproc N`: the parent process starts N workers of the same program on this
// machine, one rank each (the environment torchrun would give them), supervises them, and
// reports one result. When a worker fails the others are stopped, so no rank waits for a dead
// one until its timeout.

#include "dist/rankgroup.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace plad {

struct WorkerLaunch
{
    std::vector<std::string> arguments;  ///< the worker's command line after the program name
    Rendezvous rendezvous;               ///< node-wide: worldSize, masterAddress, port, timeout
    int firstRank = 0;                   ///< this machine's first global rank (node rank x processes per node)
    int firstLocalRank = 0;              ///< the first worker's LOCAL_RANK (1 when this process is rank 0 itself)
    int processes = 1;                   ///< workers on this machine
    std::filesystem::path program = "/proc/self/exe"; ///< the plad executable
    bool quietFollowers = true;          ///< workers other than global rank 0 write nothing on stdout
};

struct WorkerOutcome
{
    int rank = 0;
    int exitCode = 0;                    ///< the worker's exit status; 128 + signal when a signal ended it
    bool stoppedByLauncher = false;      ///< stopped because another worker had failed, or on an interrupt
};

/**
 * Starts the workers (this program, /proc/self/exe) and waits for all of them. While they run,
 * `interrupted` becoming true sends each a SIGINT (a clean stop: rank 0 checkpoints); a worker
 * that fails makes the launcher send the others SIGTERM, then SIGKILL after `grace` seconds.
 * Throws Error when a worker cannot be started. Runs on the calling thread.
 */
std::vector<WorkerOutcome> launchWorkers(const WorkerLaunch &launch, const std::atomic<bool> &interrupted, int graceSeconds = 20);

/**
 * Workers started for a caller that is itself one of the ranks (the workbench runs rank 0 on
 * its worker thread and starts the others with this). The destructor stops the ones still
 * running (SIGTERM, then SIGKILL).
 */
class WorkerProcesses
{
public:
    explicit WorkerProcesses(const WorkerLaunch &launch);
    ~WorkerProcesses();
    WorkerProcesses(const WorkerProcesses &) = delete;
    WorkerProcesses &operator=(const WorkerProcesses &) = delete;

    /** Waits up to `timeout` for every worker to exit; those still running then are stopped. */
    std::vector<WorkerOutcome> wait(std::chrono::seconds timeout);

private:
    std::vector<pid_t> mPids;
    std::vector<WorkerOutcome> mOutcomes;
};

/** A free TCP port on this machine for a rendezvous (bound and released: a race is possible but unlikely). */
int freeLocalPort();

} // namespace plad
