#include "dist/rankgroup.h"

#include "common/error.h"

#include <cstdlib>
#include <thread>

#include <torch/torch.h>
// Debian's LibTorch is built with Gloo; its header hides the class unless this says so.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace plad {

namespace {

int intFromEnvironment(const char *name, int fallback, int minimum, int maximum)
{
    const char *value = std::getenv(name);
    if (!value || !*value)
        return fallback;
    char *end = nullptr;
    errno = 0;
    const long parsed = std::strtol(value, &end, 10);
    if (errno != 0 || *end != '\0' || parsed < minimum || parsed > maximum)
        throw Error(std::string("environment variable ") + name + "=\"" + value + "\": expected a whole number from " + std::to_string(minimum)
                    + " to " + std::to_string(maximum));
    return static_cast<int>(parsed);
}

std::string messageKey(int from, int64_t sequence)
{
    return "to-root/" + std::to_string(from) + "/" + std::to_string(sequence);
}

} // namespace

Rendezvous Rendezvous::fromEnvironment()
{
    Rendezvous r;
    r.worldSize = intFromEnvironment("WORLD_SIZE", 1, 1, 1 << 16);
    r.rank = intFromEnvironment("RANK", 0, 0, 1 << 16);
    r.localRank = intFromEnvironment("LOCAL_RANK", r.rank, 0, 1 << 16);
    r.port = intFromEnvironment("MASTER_PORT", 29500, 1, 65535);
    if (const char *address = std::getenv("MASTER_ADDR"); address && *address)
        r.masterAddress = address;
    r.timeout = std::chrono::seconds(intFromEnvironment("PLAD_DIST_TIMEOUT", static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(r.timeout).count()), 1,
                                                        7 * 24 * 3600));
    if (r.rank >= r.worldSize)
        throw Error("environment: RANK=" + std::to_string(r.rank) + " is not below WORLD_SIZE=" + std::to_string(r.worldSize));
    return r;
}

std::vector<std::pair<std::string, std::string>> Rendezvous::environment() const
{
    return {{"MASTER_ADDR", masterAddress},
            {"MASTER_PORT", std::to_string(port)},
            {"WORLD_SIZE", std::to_string(worldSize)},
            {"RANK", std::to_string(rank)},
            {"LOCAL_RANK", std::to_string(localRank)},
            {"PLAD_DIST_TIMEOUT", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count())}};
}

struct RankGroup::Impl
{
    c10::intrusive_ptr<c10d::Store> store;    // the rendezvous (TCPStore; rank 0 serves it)
    c10::intrusive_ptr<c10d::Store> messages; // the messages to rank 0, under their own prefix
    c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
    int64_t sent = 0;                          // this rank's messages so far
    std::vector<int64_t> received;             // rank 0: next message number per sender
    int nextSender = 1;                        // rank 0: fairness among senders
    // Liveness: every other rank counts up "alive/RANK" each second, so rank 0 notices a rank
    // that died while it waits for its results (a store wait alone would only time out).
    std::jthread heartbeat;
    std::vector<int64_t> beats;                                    // rank 0: last count seen per rank
    std::vector<std::chrono::steady_clock::time_point> beatSeen;   // rank 0: when it last changed
    std::chrono::steady_clock::time_point lastCheck{};
};

RankGroup::RankGroup(Rendezvous rendezvous)
    : mRendezvous(std::move(rendezvous))
    , mImpl(std::make_unique<Impl>())
{}

RankGroup::~RankGroup() = default;

std::shared_ptr<RankGroup> RankGroup::single()
{
    return std::shared_ptr<RankGroup>(new RankGroup(Rendezvous{}));
}

std::shared_ptr<RankGroup> RankGroup::join(const Rendezvous &rendezvous)
{
    if (rendezvous.worldSize <= 1)
        return single();
    std::shared_ptr<RankGroup> g(new RankGroup(rendezvous));
    const std::string where = rendezvous.masterAddress + ":" + std::to_string(rendezvous.port);
    try {
        c10d::TCPStoreOptions options;
        options.port = static_cast<std::uint16_t>(rendezvous.port);
        options.isServer = rendezvous.rank == 0;
        options.numWorkers = static_cast<size_t>(rendezvous.worldSize);
        options.waitWorkers = true;
        options.timeout = rendezvous.joinTimeout.count() > 0 ? rendezvous.joinTimeout : rendezvous.timeout;
        g->mImpl->store = c10::make_intrusive<c10d::TCPStore>(rendezvous.masterAddress, options);
    } catch (const std::exception &e) {
        throw Error("rank " + std::to_string(rendezvous.rank) + " of " + std::to_string(rendezvous.worldSize) + ": cannot "
                    + (rendezvous.rank == 0 ? "serve" : "reach") + " the rendezvous at " + where + " (MASTER_ADDR, MASTER_PORT): " + e.what());
    }
    try {
        auto options = c10d::ProcessGroupGloo::Options::create(rendezvous.timeout);
        // The interface the ranks talk over: GLOO_SOCKET_IFNAME as with torchrun, else loopback
        // for one machine, else the address this machine's hostname resolves to.
        const bool local = rendezvous.masterAddress == "127.0.0.1" || rendezvous.masterAddress == "localhost";
        const char *interface = std::getenv("GLOO_SOCKET_IFNAME");
        options->devices.push_back(interface && *interface ? c10d::ProcessGroupGloo::createDeviceForInterface(interface)
                                   : local                 ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                                           : c10d::ProcessGroupGloo::createDefaultDevice());
        g->mImpl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", g->mImpl->store),
                                                                       rendezvous.rank, rendezvous.worldSize, options);
    } catch (const std::exception &e) {
        throw Error("rank " + std::to_string(rendezvous.rank) + ": cannot connect to the other ranks (Gloo, rendezvous at " + where + "): " + e.what());
    }
    g->mImpl->store->setTimeout(rendezvous.timeout);
    g->mImpl->messages = c10::make_intrusive<c10d::PrefixStore>("plad", g->mImpl->store);
    g->mImpl->received.assign(static_cast<size_t>(rendezvous.worldSize), 0);
    g->mImpl->beats.assign(static_cast<size_t>(rendezvous.worldSize), 0);
    g->mImpl->beatSeen.assign(static_cast<size_t>(rendezvous.worldSize), std::chrono::steady_clock::now());
    if (rendezvous.rank != 0)
        g->mImpl->heartbeat = std::jthread([store = g->mImpl->messages, key = "alive/" + std::to_string(rendezvous.rank)](std::stop_token stop) {
            try {
                while (!stop.stop_requested()) {
                    store->add(key, 1);
                    for (int i = 0; i < 10 && !stop.stop_requested(); ++i)
                        std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
            } catch (const std::exception &) {
                // rank 0 is gone: this rank's next collective says so
            }
        });
    return g;
}

std::string RankGroup::describeFailure(const std::string &what) const
{
    return "rank " + std::to_string(rank()) + " of " + std::to_string(size()) + ": " + what
           + " failed (another rank stopped, or cannot be reached within " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(mRendezvous.timeout).count())
           + " s); what was saved is kept, resume the run to continue";
}

namespace {

/** Runs a c10d call, turning its failure into an Error that says what to do. */
template <typename F>
void collective(const RankGroup &group, const std::string &what, F &&call)
{
    try {
        call();
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(group.describeFailure(what) + ": " + e.what());
    }
}

} // namespace

std::string RankGroup::broadcast(const std::string &fromRoot)
{
    if (!isDistributed())
        return fromRoot;
    auto length = torch::tensor({static_cast<int64_t>(isRoot() ? fromRoot.size() : 0)}, torch::kInt64);
    std::vector<at::Tensor> one{length};
    collective(*this, "a broadcast", [&] { mImpl->group->broadcast(one)->wait(); });
    const int64_t n = length.item<int64_t>();
    if (n == 0)
        return {};
    auto bytes = isRoot() ? torch::from_blob(const_cast<char *>(fromRoot.data()), {n}, torch::kUInt8).clone() : torch::empty({n}, torch::kUInt8);
    std::vector<at::Tensor> data{bytes};
    collective(*this, "a broadcast", [&] { mImpl->group->broadcast(data)->wait(); });
    return isRoot() ? fromRoot : std::string(reinterpret_cast<const char *>(bytes.data_ptr<uint8_t>()), static_cast<size_t>(n));
}

nlohmann::json RankGroup::broadcastJson(const nlohmann::json &fromRoot)
{
    if (!isDistributed())
        return fromRoot;
    const std::string bytes = broadcast(isRoot() ? fromRoot.dump() : std::string());
    return isRoot() ? fromRoot : nlohmann::json::parse(bytes);
}

void RankGroup::broadcastTensors(std::vector<at::Tensor> &tensors)
{
    if (!isDistributed() || tensors.empty())
        return;
    collective(*this, "a broadcast", [&] {
        for (auto &t : tensors) {
            std::vector<at::Tensor> one{t};
            mImpl->group->broadcast(one)->wait();
        }
    });
}

void RankGroup::allreduceSum(std::vector<at::Tensor> &tensors)
{
    if (!isDistributed() || tensors.empty())
        return;
    collective(*this, "an allreduce", [&] {
        c10d::AllreduceOptions options;
        options.reduceOp = c10d::ReduceOp::SUM;
        for (auto &t : tensors) {
            std::vector<at::Tensor> one{t};
            mImpl->group->allreduce(one, options)->wait();
        }
    });
}

std::vector<double> RankGroup::allreduceSum(const std::vector<double> &values)
{
    if (!isDistributed() || values.empty())
        return values;
    auto t = torch::tensor(values, torch::kFloat64);
    std::vector<at::Tensor> one{t};
    allreduceSum(one);
    const auto *p = t.data_ptr<double>();
    return {p, p + values.size()};
}

void RankGroup::barrier()
{
    if (!isDistributed())
        return;
    collective(*this, "a barrier", [&] { mImpl->group->barrier()->wait(); });
}

void RankGroup::sendToRoot(const std::string &payload)
{
    if (isRoot())
        throw Error("rank 0 cannot send itself a message");
    collective(*this, "sending to rank 0", [&] {
        mImpl->messages->set(messageKey(rank(), mImpl->sent), std::vector<uint8_t>(payload.begin(), payload.end()));
    });
    ++mImpl->sent;
}

std::optional<RankMessage> RankGroup::receive(bool wait)
{
    if (!isRoot())
        throw Error("only rank 0 receives messages");
    if (!isDistributed())
        return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + mRendezvous.timeout;
    auto pause = std::chrono::microseconds(200);
    for (;;) {
        std::optional<RankMessage> found;
        collective(*this, "receiving from the other ranks", [&] {
            for (int n = 0; n < size() - 1 && !found; ++n) {
                const int from = mImpl->nextSender;
                mImpl->nextSender = mImpl->nextSender % (size() - 1) + 1;
                const std::string key = messageKey(from, mImpl->received[static_cast<size_t>(from)]);
                if (!mImpl->messages->check({key}))
                    continue;
                const auto bytes = mImpl->messages->get(key);
                mImpl->messages->deleteKey(key);
                ++mImpl->received[static_cast<size_t>(from)];
                found = RankMessage{from, std::string(bytes.begin(), bytes.end())};
            }
        });
        if (found || !wait)
            return found;
        checkHeartbeats();
        if (std::chrono::steady_clock::now() > deadline)
            throw Error(describeFailure("waiting for the other ranks' results") + ": nothing arrived");
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(20000));
    }
}

void RankGroup::raise(const std::string &flag)
{
    if (!isDistributed())
        return;
    collective(*this, "raising \"" + flag + "\"", [&] { mImpl->messages->set("flag/" + flag, std::vector<uint8_t>{1}); });
}

bool RankGroup::isRaised(const std::string &flag)
{
    if (!isDistributed())
        return false;
    bool raised = false;
    collective(*this, "checking \"" + flag + "\"", [&] { raised = mImpl->messages->check({"flag/" + flag}); });
    return raised;
}

void RankGroup::checkHeartbeats()
{
    const auto now = std::chrono::steady_clock::now();
    if (now - mImpl->lastCheck < std::chrono::seconds(2))
        return;
    mImpl->lastCheck = now;
    const auto silence = std::min<std::chrono::milliseconds>(mRendezvous.timeout, std::chrono::seconds(30));
    collective(*this, "checking the other ranks", [&] {
        for (int r = 1; r < size(); ++r) {
            const int64_t beats = mImpl->messages->add("alive/" + std::to_string(r), 0);
            auto &seen = mImpl->beatSeen[static_cast<size_t>(r)];
            if (beats != mImpl->beats[static_cast<size_t>(r)]) {
                mImpl->beats[static_cast<size_t>(r)] = beats;
                seen = now;
            } else if (now - seen > silence) {
                throw Error("rank " + std::to_string(r) + " of " + std::to_string(size()) + " stopped answering (no sign of life for "
                            + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(silence).count())
                            + " s: killed, or its machine is unreachable); what was saved is kept, resume the run to continue");
            }
        }
    });
}

c10d::ProcessGroup *RankGroup::processGroup() const
{
    return mImpl->group.get();
}

} // namespace plad
