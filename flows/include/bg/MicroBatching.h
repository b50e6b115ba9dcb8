#ifndef BG_MICRO_BATCHING_H_
#define BG_MICRO_BATCHING_H_

#include <torch/types.h>

#include <cstdint>
#include <functional>

namespace bg {

/**
 * Back-propagate a loss that is a sum over the rows of a batch, a few rows at a time: for each
 * chunk [start, start + length) of at most maxRows rows (all rows at once if maxRows is 0),
 * chunkLoss(start, length) must return that chunk's share of the loss (a scalar, already scaled as
 * it enters the total, e.g. by 1/B for a batch mean); its gradient is accumulated into the
 * parameters' .grad. The parameter gradients equal those of the whole loss (up to summation order),
 * while only one chunk's autograd graph is alive at a time. Returns the total loss (a detached
 * scalar), or an undefined tensor if batch is 0.
 */
torch::Tensor backwardInChunks(int64_t batch, int64_t maxRows, const std::function<torch::Tensor(int64_t start, int64_t length)>& chunkLoss);

} // namespace bg

#endif
