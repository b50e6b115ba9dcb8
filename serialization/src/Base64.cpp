#include "Base64.h"
#include "openmm/OpenMMException.h"

#include <array>
#include <cstdint>

using namespace std;

namespace BoltzmannPlugin {

static const char* const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

string encodeBase64(const string& bytes) {
    string out;
    out.reserve(4 * ((bytes.size() + 2) / 3));
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        uint32_t v = (uint8_t) bytes[i] << 16 | (uint8_t) bytes[i + 1] << 8 | (uint8_t) bytes[i + 2];
        out += alphabet[v >> 18];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    size_t rest = bytes.size() - i;
    if (rest > 0) {
        uint32_t v = (uint8_t) bytes[i] << 16 | (rest == 2 ? (uint8_t) bytes[i + 1] << 8 : 0);
        out += alphabet[v >> 18];
        out += alphabet[(v >> 12) & 63];
        out += (rest == 2 ? alphabet[(v >> 6) & 63] : '=');
        out += '=';
    }
    return out;
}

string decodeBase64(const string& text) {
    array<int, 256> value;
    value.fill(-1);
    for (int k = 0; k < 64; k++)
        value[(uint8_t) alphabet[k]] = k;
    string symbols;
    symbols.reserve(text.size());
    for (char c : text)
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            symbols += c;
    if (symbols.size() % 4 != 0)
        throw OpenMM::OpenMMException("BoltzmannGeneratorForce: base64 text has a length that is not a multiple of 4");
    string out;
    out.reserve(3 * symbols.size() / 4);
    for (size_t i = 0; i < symbols.size(); i += 4) {
        int padding = 0;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            char c = symbols[i + k];
            int d;
            if (c == '=' && i + 4 == symbols.size() && k >= 2) {
                padding++;
                d = 0;
            }
            else {
                d = value[(uint8_t) c];
                if (d < 0 || padding > 0)
                    throw OpenMM::OpenMMException("BoltzmannGeneratorForce: invalid character in base64 text");
            }
            v = (v << 6) | d;
        }
        out += (char) (v >> 16);
        if (padding < 2)
            out += (char) ((v >> 8) & 255);
        if (padding < 1)
            out += (char) (v & 255);
    }
    return out;
}

} // namespace BoltzmannPlugin
