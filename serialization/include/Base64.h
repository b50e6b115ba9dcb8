#ifndef OPENMM_BOLTZMANN_GENERATOR_BASE64_H_
#define OPENMM_BOLTZMANN_GENERATOR_BASE64_H_

#include <string>

namespace BoltzmannPlugin {

/** Encode arbitrary bytes as standard base64 text (RFC 4648 alphabet, '=' padding). */
std::string encodeBase64(const std::string& bytes);

/**
 * Decode standard base64 text. Whitespace is ignored.
 * @throws OpenMM::OpenMMException on characters outside the alphabet or a bad length
 */
std::string decodeBase64(const std::string& text);

} // namespace BoltzmannPlugin

#endif
