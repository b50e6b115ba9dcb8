#ifndef BG_SAVED_FLOW_H_
#define BG_SAVED_FLOW_H_

// The byte format of saveFlow()/loadFlow() (bg/AugmentedCouplingFlow.h), and reading its header.
//
// Version 2, written by saveFlow(): "BGFLOW2\n" <config length> " " <payload length> " " <CRC-32 of
// the payload as 8 hex digits (bg/Checksum.h)> "\n" payload, where payload = the configuration JSON
// followed by the torch archive of the module. loadFlow() verifies lengths and checksum before
// reading anything and throws std::invalid_argument ("loadFlow: checksum mismatch: the data is
// corrupted", or "loadFlow: truncated data ...") for corrupted, truncated or extended data.
// Version 1 (older files, still read, nothing to verify): "BGFLOW1\n" <config length> "\n" payload.
// loadFlow() throws std::invalid_argument for data that is not a saved flow, a malformed header, an
// invalid configuration or unreadable weights; saveFlowToFile()/loadFlowFromFile() also for files
// that cannot be opened or written.

#include "bg/FlowConfig.h"

#include <string>

namespace bg {

/**
 * The configuration stored in saveFlow() bytes, read from the header without building the model
 * (the checksum of version-2 data is verified; the torch archive is not read). Throws
 * std::invalid_argument as loadFlow() does for data that is not a saved flow, a malformed or
 * truncated header, corrupted data or an invalid configuration.
 */
FlowConfig readFlowConfig(const std::string& bytes);

} // namespace bg

#endif
