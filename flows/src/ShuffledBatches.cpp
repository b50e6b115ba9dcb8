#include "bg/ShuffledBatches.h"

#include <torch/torch.h>

#include <stdexcept>

namespace bg {

torch::Tensor ShuffledBatches::next(torch::Generator& generator) {
    if (!permutation.defined() || position >= batchesPerEpoch()) {
        if (permutation.defined())
            epoch++;
        permutation = torch::randperm(numRows, generator, torch::TensorOptions().dtype(torch::kInt64));
        position = 0;
    }
    return permutation.narrow(0, position++ * batchSize, batchSize);
}

void ShuffledBatches::save(torch::serialize::OutputArchive& archive, const std::string& prefix) const {
    archive.write(prefix + "_permutation", permutation.defined() ? permutation : torch::empty({0}, torch::kInt64));
    archive.write(prefix + "_counters", torch::tensor({position, epoch, int64_t(permutation.defined() ? 1 : 0)}, torch::kInt64));
}

void ShuffledBatches::load(torch::serialize::InputArchive& archive, const std::string& prefix, const std::string& owner) {
    torch::Tensor saved, counters;
    archive.read(prefix + "_permutation", saved);
    archive.read(prefix + "_counters", counters);
    const bool hasPermutation = counters[2].item<int64_t>() != 0;
    if (hasPermutation && saved.numel() != numRows)
        throw std::runtime_error(owner + ": the checkpoint was written for " + std::to_string(saved.numel()) + " training samples, not " +
                                 std::to_string(numRows));
    position = counters[0].item<int64_t>();
    epoch = counters[1].item<int64_t>();
    permutation = hasPermutation ? saved.clone() : torch::Tensor();
}

} // namespace bg
