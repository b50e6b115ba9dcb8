#include "ReferenceData.h"

#include "bg/NpyIO.h"

#include <torch/torch.h>

#include <filesystem>
#include <stdexcept>

namespace BoltzmannPlugin {
namespace cli {

namespace fs = std::filesystem;

std::string referenceFile(const std::string& dataDirectory, const std::string& set, const std::string& split) {
    return (fs::path(dataDirectory) / "reference" / (set + "-" + split + ".npy")).string();
}

torch::Tensor loadReferenceSplit(const std::string& dataDirectory, const std::string& set, const std::string& split, int numParticles,
                                 int dimension, bool required) {
    const std::string path = referenceFile(dataDirectory, set, split);
    if (set.empty() || !fs::exists(path)) {
        if (required)
            throw std::runtime_error("missing reference data " + (set.empty() ? std::string("(no reference set at this temperature)") : path));
        return torch::Tensor();
    }
    torch::Tensor x = bg::readNpy(path);
    if (x.dim() != 3 || x.size(1) != numParticles || x.size(2) != dimension)
        throw std::runtime_error(path + ": expected shape [n, " + std::to_string(numParticles) + ", " + std::to_string(dimension) + "], got " +
                                 c10::str(x.sizes()));
    return x;
}

} // namespace cli
} // namespace BoltzmannPlugin
