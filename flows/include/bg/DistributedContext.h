#ifndef BG_DISTRIBUTED_CONTEXT_H_
#define BG_DISTRIBUTED_CONTEXT_H_

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bg {

/** Where a data-parallel run meets and how long it waits for a peer. */
struct DistributedSettings {
    int rank = 0;                        ///< this process, 0 .. worldSize-1 (RANK)
    int worldSize = 1;                   ///< processes in the run (WORLD_SIZE)
    int localRank = 0;                   ///< index on this machine, picks the GPU (LOCAL_RANK)
    std::string masterAddress = "127.0.0.1";   ///< host of rank 0's rendezvous store (MASTER_ADDR)
    int masterPort = 29500;              ///< its TCP port (MASTER_PORT)
    /**
     * True when the launcher serves the rendezvous store on masterPort itself (torchrun sets
     * TORCHELASTIC_USE_AGENT_STORE=True): rank 0 then connects to it like the other ranks.
     */
    bool launcherServesStore = false;
    /** Seconds a collective (or the rendezvous) may wait for a peer before failing with an error. */
    double timeoutSeconds = 300.0;
    /**
     * Seconds the other ranks wait while rank 0 alone works (an evaluation, reading a checkpoint);
     * at least timeoutSeconds. (Writing a checkpoint is covered by timeoutSeconds: the other ranks
     * go on and wait for rank 0 in the next step's collectives.)
     */
    double mainRankTimeoutSeconds = 3600.0;
    /** Throws std::invalid_argument naming the field if a value is unusable. */
    void validate() const;
};

/**
 * Membership of a data-parallel training run on PyTorch's c10d: a TCPStore rendezvous at
 * masterAddress:masterPort (rank 0 serves it) and Gloo process groups over TCP. Rank r of W ranks.
 *
 * Two channels, each its own process group, so that collectives issued from two threads never
 * interleave: Channel::Main (the training loop's thread: gradients, loss statistics, checkpoints,
 * stop decisions) and Channel::Sampler (the AIS passes of FAB, which may run in a second thread).
 * Every rank must issue the same collectives in the same order on each channel.
 *
 * Gradients are reduced with Gloo on the CPU; for a flow on CUDA the flattened gradient is copied
 * to the host and back (the library links LibTorch's CPU side only, so NCCL is not used; see
 * docs/distributed.md).
 *
 * Faults: a collective that cannot complete within timeoutSeconds (a peer hung) or whose peer
 * closed its connection (a peer died) throws std::runtime_error "DistributedContext: rank r of W:
 * <what> failed ... (a peer rank died, hung or diverged)". Work that only rank 0 does is waited
 * for up to mainRankTimeoutSeconds.
 */
class DistributedContext {
public:
    enum class Channel { Main, Sampler };

    /** Communication counters of one channel, for benchmarks. */
    struct Traffic {
        int64_t collectives = 0;   ///< calls made
        int64_t bytes = 0;         ///< payload bytes sent into them (this rank's buffers)
        double seconds = 0.0;      ///< wall time spent waiting in them
    };

    /**
     * Join the run: connect to the rendezvous store and create the process groups. Blocks until all
     * worldSize ranks have joined or timeoutSeconds passed (then throws std::runtime_error).
     * Throws std::invalid_argument for unusable settings.
     */
    explicit DistributedContext(const DistributedSettings& settings);
    ~DistributedContext();
    DistributedContext(const DistributedContext&) = delete;
    DistributedContext& operator=(const DistributedContext&) = delete;

    /**
     * The settings of the launcher environment (torchrun, a batch system): RANK, WORLD_SIZE,
     * MASTER_ADDR, MASTER_PORT and LOCAL_RANK (LOCAL_RANK defaults to RANK, MASTER_ADDR to
     * 127.0.0.1, MASTER_PORT to 29500), and TORCHELASTIC_USE_AGENT_STORE (launcherServesStore). Throws std::invalid_argument naming the variable if RANK or
     * WORLD_SIZE is missing or a value is not a valid integer.
     */
    static DistributedSettings settingsFromEnvironment(double timeoutSeconds = 300.0);
    /** Join the run the launcher environment describes (settingsFromEnvironment()). */
    static std::shared_ptr<DistributedContext> fromEnvironment(double timeoutSeconds = 300.0);

    int rank() const {
        return settings.rank;
    }
    int worldSize() const {
        return settings.worldSize;
    }
    bool isMain() const {
        return settings.rank == 0;
    }
    const DistributedSettings& getSettings() const {
        return settings;
    }

    /**
     * Replace each gradient by its mean over the ranks: all gradients are flattened into one host
     * buffer of the parameters' type (float64 if types differ), summed in one all-reduce on
     * Channel::Main and divided by worldSize, so every rank ends
     * with bitwise identical gradients. An undefined gradient counts as zeros (and is defined
     * afterwards). Parameters must match in number and shape on every rank.
     */
    void averageGradients(const std::vector<torch::Tensor>& parameters);
    /** Element-wise sums over the ranks of `values` (same length on every rank). */
    std::vector<double> sum(const std::vector<double>& values, Channel channel = Channel::Main);
    /** True on every rank if `flag` is true on any rank. */
    bool any(bool flag, Channel channel = Channel::Main);
    /**
     * Rank 0's bytes on every rank (length first, then the data), on Channel::Main; the other ranks
     * wait up to mainRankTimeoutSeconds, so rank 0 may compute them first.
     */
    std::string broadcast(const std::string& bytes);
    /**
     * Every rank's bytes, in rank order, on rank 0 (an empty vector elsewhere), on Channel::Main,
     * waiting up to timeoutSeconds (the ranks are expected to arrive together).
     */
    std::vector<std::string> gather(const std::string& bytes);

    /** The counters of a channel since construction (or resetTraffic()). */
    Traffic traffic(Channel channel) const;
    void resetTraffic();

private:
    class Groups;
    DistributedSettings settings;
    std::unique_ptr<Groups> groups;
};

} // namespace bg

#endif
