#include "bg/MicroBatching.h"

#include <torch/torch.h>

#include <stdexcept>

namespace bg {

torch::Tensor backwardInChunks(int64_t batch, int64_t maxRows, const std::function<torch::Tensor(int64_t, int64_t)>& chunkLoss) {
    if (batch < 0 || maxRows < 0)
        throw std::invalid_argument("backwardInChunks: batch and maxRows must not be negative");
    const int64_t step = maxRows == 0 ? batch : maxRows;
    torch::Tensor total;
    for (int64_t start = 0; start < batch; start += step) {
        const int64_t length = std::min(step, batch - start);
        torch::Tensor loss = chunkLoss(start, length);
        if (loss.requires_grad())
            loss.backward();
        total = total.defined() ? total + loss.detach() : loss.detach();
    }
    return total;
}

} // namespace bg
