#pragma once

// The processes of one run: a torch.distributed (c10d) process group over Gloo, joined the way
// torchrun users expect (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK), with the
// few collectives the run needs. Rank 0 owns the workspace; the other ranks compute and send
// it what they made. A group of one process does nothing and needs no network.
//
// Threading: a RankGroup is used from one thread per process (the one executing the run);
// every collective must be called by every rank in the same order, as c10d requires.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace at {
class Tensor;
}
namespace c10d {
class ProcessGroup;
}

namespace plad {

/** Where and who: the rendezvous of a run's processes. */
struct Rendezvous
{
    std::string masterAddress = "127.0.0.1"; ///< MASTER_ADDR: the machine of rank 0 (its TCPStore)
    int port = 29500;                        ///< MASTER_PORT
    int rank = 0;                            ///< RANK: 0 .. worldSize-1
    int worldSize = 1;                       ///< WORLD_SIZE: processes over all machines
    int localRank = 0;                       ///< LOCAL_RANK: index on this machine (device cuda:LOCAL_RANK)
    /** How long a collective or a wait for another rank may take before the run fails (a rank
     *  that died is usually noticed at once, by its closed connection). */
    std::chrono::milliseconds timeout = std::chrono::minutes(10);
    /** How long joining may wait for every rank to arrive; 0: `timeout`. */
    std::chrono::milliseconds joinTimeout{0};

    /**
     * The rendezvous of this process from the environment, as torchrun sets it; a group of one
     * when WORLD_SIZE is unset. Throws Error naming the variable when one is malformed or
     * inconsistent (RANK >= WORLD_SIZE). PLAD_DIST_TIMEOUT (seconds) overrides the timeout.
     */
    static Rendezvous fromEnvironment();
    /** The environment a worker of this rendezvous is started with (MASTER_ADDR ... LOCAL_RANK, PLAD_DIST_TIMEOUT). */
    std::vector<std::pair<std::string, std::string>> environment() const;
};

/** A message a rank sent to rank 0 (sendToRoot). */
struct RankMessage
{
    int from = 0;
    std::string payload;
};

class RankGroup
{
public:
    /** Joins the group (rank 0 starts the TCPStore; the others connect to it). Blocks until every rank joined or the timeout passes. */
    static std::shared_ptr<RankGroup> join(const Rendezvous &rendezvous);
    /** A group of this process alone: every collective returns its input. */
    static std::shared_ptr<RankGroup> single();
    ~RankGroup();
    RankGroup(const RankGroup &) = delete;
    RankGroup &operator=(const RankGroup &) = delete;

    int rank() const { return mRendezvous.rank; }
    int size() const { return mRendezvous.worldSize; }
    int localRank() const { return mRendezvous.localRank; }
    bool isRoot() const { return mRendezvous.rank == 0; }
    bool isDistributed() const { return mRendezvous.worldSize > 1; }
    const Rendezvous &rendezvous() const { return mRendezvous; }

    /** Rank 0's bytes on every rank (the others' argument is ignored). */
    std::string broadcast(const std::string &fromRoot);
    nlohmann::json broadcastJson(const nlohmann::json &fromRoot);
    /** Rank 0's tensors copied into every rank's (same shapes and types on every rank). */
    void broadcastTensors(std::vector<at::Tensor> &tensors);
    /** Element-wise sums over the ranks, in place (every rank gets the result). */
    void allreduceSum(std::vector<at::Tensor> &tensors);
    /** Sums of doubles over the ranks (float64, so counts and flags stay exact). */
    std::vector<double> allreduceSum(const std::vector<double> &values);
    /** Waits until every rank got here. */
    void barrier();

    /** A message for rank 0, delivered in order per sender (through the rendezvous store). Not on rank 0. */
    void sendToRoot(const std::string &payload);
    /** Rank 0: the next message from any rank; with `wait`, blocks until one arrives (or the
     *  timeout passes: Error), else returns nothing when none is waiting. */
    std::optional<RankMessage> receive(bool wait);

    /** A flag any rank can raise and every rank can see (without a collective): rank 0 raises "stop" when a run is cancelled. */
    void raise(const std::string &flag);
    bool isRaised(const std::string &flag);

    /** The c10d process group, for code that runs its own collectives (the gradient
     *  allreduce); null in a group of one. */
    c10d::ProcessGroup *processGroup() const;

    /** What a collective's failure means for a run: which rank, and what to do. */
    std::string describeFailure(const std::string &what) const;

private:
    explicit RankGroup(Rendezvous rendezvous);
    void checkHeartbeats();
    struct Impl;
    Rendezvous mRendezvous;
    std::unique_ptr<Impl> mImpl;
};

} // namespace plad
