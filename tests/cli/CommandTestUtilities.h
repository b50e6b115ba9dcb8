#ifndef OPENMM_BG_TESTS_COMMAND_TEST_UTILITIES_H_
#define OPENMM_BG_TESTS_COMMAND_TEST_UTILITIES_H_

// What the tests of the openmm-bg command line share: synthetic DW4 reference data, fresh output
// directories, and running the command line in-process.

#include "CommandLine.h"
#include "bg/NpyIO.h"

#include <torch/torch.h>

#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace clitest {

/** A temporary data directory with reference/dw4-{train,test}.npy of the real contract: [n, 4, 2] float64, zero CoM. */
inline std::string syntheticDataDirectory() {
    static std::string dir = [] {
        namespace fs = std::filesystem;
        fs::path root = fs::temp_directory_path() / ("openmmbg-traincmd-data-" + std::to_string(::getpid()));
        fs::remove_all(root);
        fs::create_directories(root / "reference");
        torch::manual_seed(0);
        for (auto [split, n] : {std::pair<const char*, int64_t>{"train", 64}, {"test", 16}}) {
            torch::Tensor x = 2.0 * torch::randn({n, 4, 2}, torch::kFloat64);
            bg::writeNpy((root / "reference" / (std::string("dw4-") + split + ".npy")).string(), x - x.mean(1, true));
        }
        return root.string();
    }();
    return dir;
}

/** A path for a run's output under the temporary directory, removed if it exists. */
inline std::string freshOut(const std::string& name) {
    std::filesystem::path p = std::filesystem::temp_directory_path() / ("openmmbg-traincmd-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(p);
    return p.string();
}

/** What a command line run returned and printed. */
struct Outcome {
    int code;
    std::string out, err;
};

inline Outcome run(std::vector<std::string> args) {
    std::ostringstream out, err;
    int code = BoltzmannPlugin::cli::runCommandLine(args, out, err);
    return {code, out.str(), err.str()};
}

} // namespace clitest

#endif
