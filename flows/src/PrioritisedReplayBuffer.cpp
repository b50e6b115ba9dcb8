#include "bg/PrioritisedReplayBuffer.h"

#include <torch/torch.h>

#include <stdexcept>

namespace bg {

PrioritisedReplayBuffer::PrioritisedReplayBuffer(int64_t dimension, int64_t capacity, int64_t minimum)
        : dim(dimension), cap(capacity), minLength(minimum) {
    if (dimension < 1 || capacity < 1 || minimum < 1 || minimum > capacity)
        throw std::invalid_argument("PrioritisedReplayBuffer: need dimension >= 1 and 1 <= minLength <= capacity");
    auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    points = torch::zeros({cap, dim}, f64);
    logW = torch::full({cap}, -INFINITY, f64);
    logQOld = torch::zeros({cap}, f64);
}

int64_t PrioritisedReplayBuffer::add(const torch::Tensor& z, const torch::Tensor& w, const torch::Tensor& q) {
    if (z.dim() != 2 || z.size(1) != dim || w.dim() != 1 || q.dim() != 1 || w.size(0) != z.size(0) || q.size(0) != z.size(0))
        throw std::invalid_argument("PrioritisedReplayBuffer::add: expected z [B, " + std::to_string(dim) + "], log w [B], log q [B]");
    torch::Tensor z64 = z.to(torch::kFloat64), w64 = w.to(torch::kFloat64), q64 = q.to(torch::kFloat64);
    torch::Tensor keep = torch::isfinite(z64).all(1) & torch::isfinite(w64) & torch::isfinite(q64);
    torch::Tensor rows = keep.nonzero().view(-1);
    const int64_t count = rows.numel();
    if (count == 0)
        return 0;
    // Only the last `cap` rows can survive a single add.
    if (count > cap)
        rows = rows.narrow(0, count - cap, cap);
    const int64_t written = rows.numel();
    torch::Tensor slots = (torch::arange(written, torch::kInt64) + next).remainder(cap);
    points.index_copy_(0, slots, z64.index_select(0, rows));
    logW.index_copy_(0, slots, w64.index_select(0, rows));
    logQOld.index_copy_(0, slots, q64.index_select(0, rows));
    next = (next + written) % cap;
    length = std::min(cap, length + written);
    return written;
}

std::vector<BufferBatch> PrioritisedReplayBuffer::sample(int64_t numBatches, int64_t batchSize, at::Generator& generator) const {
    if (!ready())
        throw std::runtime_error("PrioritisedReplayBuffer::sample: the buffer holds " + std::to_string(length) + " entries, fewer than its minimum " +
                                 std::to_string(minLength));
    const int64_t total = numBatches * batchSize;
    torch::Tensor w = logW.narrow(0, 0, length);
    const int64_t available = torch::isfinite(w).sum().item<int64_t>();
    if (total > available)
        throw std::runtime_error("PrioritisedReplayBuffer::sample: asked for " + std::to_string(total) + " entries but only " +
                                 std::to_string(available) + " have a finite weight");
    // Gumbel top-k: the k largest of log w + Gumbel noise are a draw without replacement with
    // probabilities proportional to w.
    torch::Tensor u = torch::rand({length}, generator, torch::TensorOptions().dtype(torch::kFloat64)).clamp_min(1e-300);
    torch::Tensor keys = w - torch::log(-torch::log(u));
    torch::Tensor chosen = std::get<1>(torch::topk(keys, total));
    chosen = chosen.index_select(0, torch::randperm(total, generator, torch::TensorOptions().dtype(torch::kInt64)));
    std::vector<BufferBatch> batches;
    for (int64_t b = 0; b < numBatches; b++) {
        torch::Tensor idx = chosen.narrow(0, b * batchSize, batchSize);
        batches.push_back({points.index_select(0, idx), logQOld.index_select(0, idx), idx});
    }
    return batches;
}

void PrioritisedReplayBuffer::adjust(const torch::Tensor& indices, const torch::Tensor& delta, const torch::Tensor& logQNew) {
    torch::Tensor idx = indices.to(torch::kInt64);
    torch::Tensor d = delta.to(torch::kFloat64), q = logQNew.to(torch::kFloat64);
    if (idx.numel() == 0)
        return;
    if ((idx < 0).any().item<bool>() || (idx >= length).any().item<bool>())
        throw std::invalid_argument("PrioritisedReplayBuffer::adjust: index out of range");
    torch::Tensor ok = torch::isfinite(d) & torch::isfinite(q);
    torch::Tensor newW = torch::where(ok, logW.index_select(0, idx) + d, torch::full_like(d, -INFINITY));
    torch::Tensor newQ = torch::where(ok, q, torch::zeros_like(q));
    logW.index_copy_(0, idx, newW);
    logQOld.index_copy_(0, idx, newQ);
}

void PrioritisedReplayBuffer::save(torch::serialize::OutputArchive& archive) const {
    archive.write("bufferPoints", points.narrow(0, 0, length).clone());
    archive.write("bufferLogW", logW.narrow(0, 0, length).clone());
    archive.write("bufferLogQ", logQOld.narrow(0, 0, length).clone());
    archive.write("bufferState", torch::tensor({length, next, cap, dim}, torch::kInt64));
}

void PrioritisedReplayBuffer::load(torch::serialize::InputArchive& archive) {
    torch::Tensor state, p, w, q;
    archive.read("bufferState", state);
    if (state.numel() != 4 || state[2].item<int64_t>() != cap || state[3].item<int64_t>() != dim)
        throw std::runtime_error("PrioritisedReplayBuffer::load: the checkpoint's buffer has a different capacity or dimension");
    archive.read("bufferPoints", p);
    archive.read("bufferLogW", w);
    archive.read("bufferLogQ", q);
    length = state[0].item<int64_t>();
    next = state[1].item<int64_t>();
    points.narrow(0, 0, length).copy_(p);
    logW.fill_(-INFINITY);
    logW.narrow(0, 0, length).copy_(w);
    logQOld.zero_();
    logQOld.narrow(0, 0, length).copy_(q);
}

} // namespace bg
