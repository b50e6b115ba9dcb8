#ifndef OPENMM_BOLTZMANN_GENERATOR_CHECKPOINT_BLOCK_H_
#define OPENMM_BOLTZMANN_GENERATOR_CHECKPOINT_BLOCK_H_

#include "bg/Checksum.h"
#include "openmm/OpenMMException.h"

#include <algorithm>
#include <cstdint>
#include <istream>
#include <ostream>
#include <string>

namespace BoltzmannPlugin {

/**
 * Write bytes to a checkpoint stream as one block: the length (uint64), the CRC-32 checksum of
 * the bytes (uint32, bg::checksum()), then the bytes. Throws nothing; stream errors are left in
 * the stream's state. @private
 */
inline void writeCheckpointBlock(std::ostream& stream, const std::string& data) {
    const uint64_t size = data.size();
    const uint32_t sum = bg::checksum(data);
    stream.write((const char*) &size, sizeof(size));
    stream.write((const char*) &sum, sizeof(sum));
    stream.write(data.data(), data.size());
}

/**
 * Read a block written by writeCheckpointBlock(). Throws an OpenMMException naming `what` if the
 * stream ends early ("... the checkpoint is truncated ...") or the bytes do not match their
 * checksum ("BoltzmannGeneratorIntegrator: the checkpoint is corrupted (<what>)"). @private
 */
inline std::string readCheckpointBlock(std::istream& stream, const std::string& what) {
    uint64_t size = 0;
    uint32_t sum = 0;
    stream.read((char*) &size, sizeof(size));
    if (stream)
        stream.read((char*) &sum, sizeof(sum));
    if (!stream || size > (uint64_t(1) << 40))
        throw OpenMM::OpenMMException("BoltzmannGeneratorIntegrator: the checkpoint is truncated or malformed (" + what + ")");
    // Read in pieces, so that a corrupted length fails at the end of the stream instead of
    // allocating up to a terabyte first.
    std::string data;
    const uint64_t piece = uint64_t(1) << 20;
    while (stream && data.size() < size) {
        const size_t start = data.size();
        const size_t count = (size_t) std::min<uint64_t>(piece, size - start);
        data.resize(start + count);
        stream.read(&data[start], count);
    }
    if (!stream)
        throw OpenMM::OpenMMException("BoltzmannGeneratorIntegrator: the checkpoint is truncated (" + what + ")");
    if (bg::checksum(data) != sum)
        throw OpenMM::OpenMMException("BoltzmannGeneratorIntegrator: the checkpoint is corrupted (" + what + ")");
    return data;
}

} // namespace BoltzmannPlugin

#endif
