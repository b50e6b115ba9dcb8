#include "ReferenceData.h"

#include "bg/NpyIO.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace BoltzmannPlugin {
namespace cli {

namespace fs = std::filesystem;

std::string findDataDirectory(const std::string& requested) {
    if (!requested.empty()) {
        if (!fs::is_directory(requested))
            throw std::runtime_error("the data directory " + requested + " does not exist");
        return requested;
    }
    std::vector<fs::path> candidates;
    if (const char* env = std::getenv("OPENMMBG_DATA_DIR"))
        candidates.emplace_back(env);
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        fs::path dir = exe.parent_path();
        candidates.push_back(dir / ".." / ".." / "data");
        candidates.push_back(dir / ".." / "data");
        candidates.push_back(dir / ".." / "share" / "openmm-bg" / "data");
    }
#ifdef OPENMMBG_SOURCE_DATA_DIR
    candidates.emplace_back(OPENMMBG_SOURCE_DATA_DIR);
#endif
    std::string tried;
    for (const fs::path& c : candidates) {
        if (fs::is_directory(c / "reference") || fs::exists(c / "alanine-dipeptide.pdb"))
            return fs::weakly_canonical(c).string();
        tried += "\n  " + c.string();
    }
    throw std::runtime_error("cannot find the openmm-bg data directory; pass --data-dir or set OPENMMBG_DATA_DIR. Tried:" + tried);
}

std::string referenceSetName(const std::string& system, double temperature) {
    if (system == "dw4" || system == "lj13")
        return system;
    if (system == "aldp") {
        if (std::abs(temperature - 800.0) < 1e-9)
            return "aldp800";
        if (std::abs(temperature - 300.0) < 1e-9)
            return "aldp300";
    }
    return "";
}

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
