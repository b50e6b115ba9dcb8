#ifndef OPENMM_BOLTZMANN_GENERATOR_ARCHIVE_BLOCK_H_
#define OPENMM_BOLTZMANN_GENERATOR_ARCHIVE_BLOCK_H_

#include "internal/CheckpointBlock.h"
#include "openmm/OpenMMException.h"

#include <torch/serialize/archive.h>

#include <exception>
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

/**
 * Read the next checkpoint block of a stream (readCheckpointBlock(), which names `what` in its
 * errors), load the torch archive it holds and call read(archive, data) with it and the block's
 * bytes. An OpenMMException from read() passes through; any other exception (c10::Error from an
 * unreadable archive or a missing entry) becomes OpenMMException("BoltzmannGeneratorIntegrator:
 * cannot read the <what> of the checkpoint: ..."). @private
 */
template <class Read>
void readArchiveBlock(std::istream& stream, const std::string& what, Read read) {
    const std::string data = readCheckpointBlock(stream, what);
    try {
        torch::serialize::InputArchive archive;
        loadArchiveBytes(data, archive);
        read(archive, data);
    }
    catch (const OpenMM::OpenMMException&) {
        throw;
    }
    catch (const std::exception& e) {
        throw OpenMM::OpenMMException("BoltzmannGeneratorIntegrator: cannot read the " + what + " of the checkpoint: " + e.what());
    }
}

} // namespace BoltzmannPlugin

#endif
