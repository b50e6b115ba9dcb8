#include "SavedModelFormat.h"

#include "bg/Checksum.h"

#include <cstdint>
#include <sstream>
#include <stdexcept>

namespace bg {

std::string packSavedModel(const std::string& magic, const std::string& configJson, torch::serialize::OutputArchive& archive) {
    std::ostringstream weights;
    archive.save_to(weights);
    const std::string payload = configJson + weights.str();
    return magic + std::to_string(configJson.size()) + " " + std::to_string(payload.size()) + " " + checksumToHex(checksum(payload)) +
           "\n" + payload;
}

size_t parseHeaderLength(const std::string& text, const std::string& owner) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 18)
        throw std::invalid_argument(owner + ": malformed header");
    return std::stoull(text);
}

SavedModelLayout unpackSavedModel(const std::string& bytes, const std::string& header, size_t lineEnd, const std::string& owner) {
    std::istringstream fields(header);
    std::string configText, payloadText, checksumText, extra;
    if (!(fields >> configText >> payloadText >> checksumText) || (fields >> extra))
        throw std::invalid_argument(owner + ": malformed header");
    const size_t configLength = parseHeaderLength(configText, owner), payloadLength = parseHeaderLength(payloadText, owner);
    uint32_t expected = 0;
    try {
        expected = checksumFromHex(checksumText);
    }
    catch (const std::invalid_argument&) {
        throw std::invalid_argument(owner + ": malformed header");
    }
    const size_t available = bytes.size() - (lineEnd + 1);
    if (available < payloadLength)
        throw std::invalid_argument(owner + ": truncated data (" + std::to_string(available) + " of " + std::to_string(payloadLength) +
                                    " bytes): the data is corrupted");
    if (available > payloadLength || configLength > payloadLength || checksum(bytes.data() + lineEnd + 1, payloadLength) != expected)
        throw std::invalid_argument(owner + ": checksum mismatch: the data is corrupted");
    return {bytes.substr(lineEnd + 1, configLength), lineEnd + 1 + configLength};
}

} // namespace bg
