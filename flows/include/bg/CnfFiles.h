#ifndef BG_CNF_FILES_H_
#define BG_CNF_FILES_H_

// Saving and loading an EquivariantCnf as one byte string (files, XML embedding).
//
// Format, version 1: "BGCNF1\n" <config length> " " <payload length> " " <CRC-32 of the payload as
// 8 hex digits (bg/Checksum.h)> "\n" payload, where payload = CnfConfig::toJson() followed by the
// torch archive of the module: the layout of the E-ACF's saveFlow() version 2 (bg/SavedFlow.h)
// under its own magic, so neither loader accepts the other's model by mistake.

#include "bg/CnfConfig.h"
#include "bg/EquivariantCnf.h"

#include <string>

namespace bg {

/** Serialise configuration and weights; throws nothing beyond LibTorch's own errors. */
std::string saveCnf(EquivariantCnf& cnf);
/**
 * Rebuild an E-CNF from saveCnf() bytes. Throws std::invalid_argument for data that is not a saved
 * E-CNF, a malformed or truncated header ("loadCnf: truncated data ..."), a checksum mismatch
 * ("loadCnf: checksum mismatch: the data is corrupted"), an invalid configuration or unreadable weights.
 */
EquivariantCnf loadCnf(const std::string& bytes);
/** The configuration stored in saveCnf() bytes (checksum verified, weights not read); throws as loadCnf(). */
CnfConfig readCnfConfig(const std::string& bytes);
/** Write saveCnf() bytes to a file; throws std::invalid_argument if it cannot be written. */
void saveCnfToFile(EquivariantCnf& cnf, const std::string& path);
/** Read a file written by saveCnfToFile(); throws std::invalid_argument as loadCnf() or if unreadable. */
EquivariantCnf loadCnfFromFile(const std::string& path);
/**
 * The model kind of saved bytes: "ecnf" (saveCnf), "eacf" (saveFlow, bg/SavedFlow.h) or "" (neither),
 * from the magic alone. Throws nothing.
 */
std::string savedModelKind(const std::string& bytes);

} // namespace bg

#endif
