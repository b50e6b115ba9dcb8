#ifndef OPENMM_BOLTZMANN_GENERATOR_CHECKPOINT_BLOCK_H_
#define OPENMM_BOLTZMANN_GENERATOR_CHECKPOINT_BLOCK_H_

#include "openmm/OpenMMException.h"

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>

namespace BoltzmannPlugin {

/** Write bytes to a checkpoint stream as one length-prefixed block. @private */
inline void writeCheckpointBlock(std::ostream& stream, const std::string& data) {
    const uint64_t size = data.size();
    stream.write((const char*) &size, sizeof(size));
    stream.write(data.data(), data.size());
}

/**
 * Read a block written by writeCheckpointBlock(); throws an OpenMMException naming `what` if the
 * stream ends early. @private
 */
inline std::string readCheckpointBlock(std::istream& stream, const std::string& what) {
    uint64_t size = 0;
    stream.read((char*) &size, sizeof(size));
    if (!stream || size > (uint64_t(1) << 40))
        throw OpenMM::OpenMMException("BoltzmannGeneratorIntegrator: the checkpoint is truncated or malformed (" + what + ")");
    std::string data(size, '\0');
    stream.read(&data[0], size);
    if (!stream)
        throw OpenMM::OpenMMException("BoltzmannGeneratorIntegrator: the checkpoint is truncated (" + what + ")");
    return data;
}

} // namespace BoltzmannPlugin

#endif
