#ifndef BG_PRIORITISED_REPLAY_BUFFER_H_
#define BG_PRIORITISED_REPLAY_BUFFER_H_

#include <ATen/core/Generator.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

namespace bg {

/** Minibatches drawn from a PrioritisedReplayBuffer. */
struct BufferBatch {
    torch::Tensor z;        ///< [b, M] float64 flat joint points
    torch::Tensor logQOld;  ///< [b] float64 log q of the points when they were last evaluated
    torch::Tensor indices;  ///< [b] int64 buffer slots, for adjust()
};

/**
 * The prioritised replay buffer of FAB (model-spec 11.4): a circular FIFO of flat joint points
 * z [M] with their AIS log-weights log w and the log q under which log w was last computed.
 * Sampling draws indices without replacement with probability proportional to w (Gumbel top-k);
 * adjust() re-weights sampled entries after the flow changed. Entries with log w = -inf are never
 * drawn; non-finite entries are never written by add().
 */
class PrioritisedReplayBuffer {
public:
    /**
     * @param dimension  M, the length of a flat point
     * @param capacity   the maximum number of entries (older ones are overwritten)
     * @param minLength  the number of entries needed before sampling is allowed
     */
    PrioritisedReplayBuffer(int64_t dimension, int64_t capacity, int64_t minLength);
    /** Append points (rows with non-finite z, log w or log q are skipped); returns how many were written. */
    int64_t add(const torch::Tensor& z, const torch::Tensor& logW, const torch::Tensor& logQ);
    /** Entries currently held (at most the capacity). */
    int64_t size() const {
        return length;
    }
    /** Whether size() >= minLength. */
    bool ready() const {
        return length >= minLength;
    }
    int64_t capacity() const {
        return cap;
    }
    /**
     * Draw numBatches * batchSize distinct entries with probability proportional to exp(log w),
     * shuffled and split into numBatches minibatches. Throws std::runtime_error if the buffer is not
     * ready or holds fewer entries with finite weight than requested.
     */
    std::vector<BufferBatch> sample(int64_t numBatches, int64_t batchSize, at::Generator& generator) const;
    /**
     * After a gradient step: log w[i] += delta[i] and log q_old[i] = logQNew[i]; a non-finite
     * delta or logQNew sets log w[i] = -inf (never drawn again) and log q_old[i] = 0.
     */
    void adjust(const torch::Tensor& indices, const torch::Tensor& delta, const torch::Tensor& logQNew);
    /** Current log-weights of the held entries, [size()] float64 (for diagnostics and tests). */
    torch::Tensor logWeights() const {
        return logW.narrow(0, 0, length);
    }
    void save(torch::serialize::OutputArchive& archive) const;
    void load(torch::serialize::InputArchive& archive);

private:
    int64_t dim, cap, minLength, length = 0, next = 0;
    torch::Tensor points, logW, logQOld;
};

} // namespace bg

#endif
