#ifndef BG_SHUFFLED_BATCHES_H_
#define BG_SHUFFLED_BATCHES_H_

#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace bg {

/**
 * The order in which a training method visits a data set of n rows in minibatches of B rows: each
 * epoch draws a fresh random permutation of the rows and takes floor(n / B) batches from it in
 * turn (the last n mod B rows of the permutation are left out of that epoch). The state (current
 * permutation, position, completed epochs) is saved and restored so that a resumed run draws the
 * same batches.
 */
class ShuffledBatches {
public:
    /** numRows n >= 0 and batchSize B >= 1 (checked by the owning method). */
    ShuffledBatches(int64_t numRows = 0, int64_t batchSize = 1) : numRows(numRows), batchSize(batchSize) {
    }
    /** Batches per epoch, floor(n / B). */
    int64_t batchesPerEpoch() const {
        return numRows / batchSize;
    }
    /**
     * Row indices (int64 [B], on the CPU) of the next batch; at the start of an epoch a new
     * permutation is drawn with torch::randperm on generator.
     */
    torch::Tensor next(torch::Generator& generator);
    /**
     * Write the state as "<prefix>_permutation" (int64 [n], or [0] before the first batch) and
     * "<prefix>_counters" (int64 [3]: position, completed epochs, whether a permutation exists).
     */
    void save(torch::serialize::OutputArchive& archive, const std::string& prefix) const;
    /**
     * Read what save() wrote. Throws std::runtime_error("<owner>: the checkpoint was written for k
     * training samples, not n") if its permutation has another length.
     */
    void load(torch::serialize::InputArchive& archive, const std::string& prefix, const std::string& owner);

private:
    int64_t numRows, batchSize;
    torch::Tensor permutation;   // order of the current epoch (undefined before the first batch)
    int64_t position = 0;        // next batch of the current epoch
    int64_t epoch = 0;           // completed epochs
};

} // namespace bg

#endif
