#ifndef OPENMM_BG_CLI_REFERENCE_DATA_H_
#define OPENMM_BG_CLI_REFERENCE_DATA_H_

#include <torch/types.h>

#include <string>

namespace BoltzmannPlugin {
namespace cli {

/** The path <dataDirectory>/reference/<set>-<split>.npy. */
std::string referenceFile(const std::string& dataDirectory, const std::string& set, const std::string& split);

/**
 * Read a reference split ([n, N, D] float64, nm) and check its shape; an undefined tensor if the
 * set is "" (none at this temperature) or the file does not exist, and `required` is false.
 *
 * @throws std::runtime_error naming the file if it is required and missing, unreadable, or of the
 *         wrong shape
 */
torch::Tensor loadReferenceSplit(const std::string& dataDirectory, const std::string& set, const std::string& split, int numParticles,
                                 int dimension, bool required);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
