#ifndef BG_CHECKSUM_H_
#define BG_CHECKSUM_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace bg {

/**
 * The checksum openmm-bg stores with everything it writes (saved flows, the integrator's checkpoint
 * blocks, the training driver's checkpoint.pt), so that corrupted data is refused instead of loaded:
 * zlib's CRC-32 (the ISO-HDLC polynomial, as in gzip and PNG). It detects every single-byte change
 * and every burst of up to 32 bits; it is no protection against deliberate tampering.
 */
uint32_t checksum(const void* data, size_t size);

/** checksum() of the bytes of a string. Throws nothing. */
inline uint32_t checksum(const std::string& bytes) {
    return checksum(bytes.data(), bytes.size());
}

/** A checksum as 8 lower-case hexadecimal digits (for text headers). Throws nothing. */
std::string checksumToHex(uint32_t value);

/**
 * Parse checksumToHex() text. Throws std::invalid_argument if the text is not exactly 8
 * hexadecimal digits.
 */
uint32_t checksumFromHex(const std::string& text);

} // namespace bg

#endif
