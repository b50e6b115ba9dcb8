#ifndef BG_FILE_BYTES_H_
#define BG_FILE_BYTES_H_

// Private helpers of the save/load-to-file functions in flows/ (flows and E-CNFs): whole files as bytes.

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace bg {

/** The whole content of a file, as bytes. Throws std::invalid_argument("<owner>: cannot open <path>"). */
inline std::string readFileBytes(const std::string& path, const std::string& owner) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::invalid_argument(owner + ": cannot open " + path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

/**
 * Replace a file's content with bytes. Throws std::invalid_argument("<owner>: cannot open <path>")
 * if it cannot be created, ("<owner>: cannot write <path>") if writing fails.
 */
inline void writeFileBytes(const std::string& path, const std::string& bytes, const std::string& owner) {
    std::ofstream out(path, std::ios::binary);
    if (!out)
        throw std::invalid_argument(owner + ": cannot open " + path);
    if (!out.write(bytes.data(), bytes.size()))
        throw std::invalid_argument(owner + ": cannot write " + path);
}

} // namespace bg

#endif
