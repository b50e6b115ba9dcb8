#ifndef OPENMM_BOLTZMANN_GENERATOR_ARCHIVE_BLOCK_H_
#define OPENMM_BOLTZMANN_GENERATOR_ARCHIVE_BLOCK_H_

#include "internal/CheckpointBlock.h"

#include <torch/serialize/archive.h>

#include <istream>
#include <ostream>
#include <sstream>
#include <string>

namespace BoltzmannPlugin {

/**
 * Write a torch archive to a checkpoint stream as one checksummed block (writeCheckpointBlock()).
 * Throws what OutputArchive::save_to() throws (c10::Error). @private
 */
inline void writeArchiveBlock(std::ostream& stream, torch::serialize::OutputArchive& archive) {
    std::ostringstream bytes;
    archive.save_to(bytes);
    writeCheckpointBlock(stream, bytes.str());
}

/**
 * Load into archive the torch archive held in the bytes of a checkpoint block (what
 * readCheckpointBlock() returned). Throws c10::Error if the bytes are not a torch archive. @private
 */
inline void loadArchiveBytes(const std::string& data, torch::serialize::InputArchive& archive) {
    std::istringstream bytes(data);
    archive.load_from(bytes);
}

} // namespace BoltzmannPlugin

#endif
