#ifndef OPENMM_BG_CLI_REFERENCE_DATA_H_
#define OPENMM_BG_CLI_REFERENCE_DATA_H_

#include <torch/types.h>

#include <string>

namespace BoltzmannPlugin {
namespace cli {

/**
 * The data directory of openmm-bg: `requested` if not empty, else the environment variable
 * OPENMMBG_DATA_DIR, else the repository's data/ found relative to the running executable
 * (build/bin/../../data, ../data, ../share/openmm-bg/data) or the source tree this was built from.
 *
 * @throws std::runtime_error listing the places tried if none exists
 */
std::string findDataDirectory(const std::string& requested);

/**
 * The reference sample set of a system at a temperature: "dw4", "lj13", "aldp800" (800 K) or
 * "aldp300" (300 K); empty if there is none (alanine dipeptide at other temperatures).
 */
std::string referenceSetName(const std::string& system, double temperature);

/** The path <dataDirectory>/reference/<set>-<split>.npy. */
std::string referenceFile(const std::string& dataDirectory, const std::string& set, const std::string& split);

/**
 * Read a reference split ([n, N, D] float64, nm) and check its shape; an undefined tensor if the
 * file does not exist and `required` is false.
 *
 * @throws std::runtime_error naming the file if it is required and missing, unreadable, or of the
 *         wrong shape
 */
torch::Tensor loadReferenceSplit(const std::string& dataDirectory, const std::string& set, const std::string& split, int numParticles,
                                 int dimension, bool required);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
