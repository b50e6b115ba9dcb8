#include "bg/Checksum.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <stdexcept>

namespace bg {

uint32_t checksum(const void* data, size_t size) {
    // zlib takes lengths as uInt: feed large buffers in pieces.
    uLong crc = crc32(0L, Z_NULL, 0);
    const Bytef* bytes = static_cast<const Bytef*>(data);
    while (size > 0) {
        const uInt piece = (uInt) std::min<size_t>(size, UINT_MAX);
        crc = crc32(crc, bytes, piece);
        bytes += piece;
        size -= piece;
    }
    return (uint32_t) crc;
}

std::string checksumToHex(uint32_t value) {
    char buffer[9];
    std::snprintf(buffer, sizeof(buffer), "%08x", (unsigned) value);
    return buffer;
}

uint32_t checksumFromHex(const std::string& text) {
    if (text.size() != 8 || text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
        throw std::invalid_argument("checksumFromHex: '" + text + "' is not 8 hexadecimal digits");
    return (uint32_t) std::stoul(text, nullptr, 16);
}

} // namespace bg
