#include "bg/NpyIO.h"

#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace bg {

static void fail(const std::string& path, const std::string& message) {
    throw std::runtime_error("readNpy: " + path + ": " + message);
}

static bool littleEndianHost() {
    const uint16_t one = 1;
    uint8_t first;
    std::memcpy(&first, &one, 1);
    return first == 1;
}

torch::Tensor readNpy(const std::string& path, std::optional<torch::ScalarType> dtype) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(path, "cannot open the file");
    char magic[8];
    if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
        fail(path, "not a .npy file (bad magic string)");
    const int major = (unsigned char) magic[6];
    uint32_t headerLength = 0;
    if (major == 1) {
        unsigned char b[2];
        if (!in.read(reinterpret_cast<char*>(b), 2))
            fail(path, "truncated header");
        headerLength = b[0] | (b[1] << 8);
    }
    else if (major == 2 || major == 3) {
        unsigned char b[4];
        if (!in.read(reinterpret_cast<char*>(b), 4))
            fail(path, "truncated header");
        headerLength = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
    }
    else
        fail(path, "unsupported .npy format version " + std::to_string(major));
    std::string header(headerLength, '\0');
    if (!in.read(header.data(), headerLength))
        fail(path, "truncated header");
    std::smatch m;
    if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'")))
        fail(path, "header has no 'descr'");
    const std::string descr = m[1];
    torch::ScalarType stored;
    size_t itemSize;
    if (descr == "<f8" || (descr == "=f8" && littleEndianHost())) {
        stored = torch::kFloat64;
        itemSize = 8;
    }
    else if (descr == "<f4" || (descr == "=f4" && littleEndianHost())) {
        stored = torch::kFloat32;
        itemSize = 4;
    }
    else
        fail(path, "unsupported element type '" + descr + "' (expected little-endian float32 '<f4' or float64 '<f8')");
    if (!std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*(True|False)")))
        fail(path, "header has no 'fortran_order'");
    if (m[1] == "True")
        fail(path, "Fortran-ordered arrays are not supported (write the array in C order)");
    if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")))
        fail(path, "header has no 'shape'");
    std::vector<int64_t> shape;
    {
        std::string dims = m[1];
        std::stringstream ss(dims);
        std::string item;
        while (std::getline(ss, item, ',')) {
            size_t first = item.find_first_not_of(" \t");
            if (first == std::string::npos)
                continue;
            try {
                shape.push_back(std::stoll(item.substr(first)));
            }
            catch (const std::exception&) {
                fail(path, "malformed shape '(" + dims + ")'");
            }
        }
    }
    int64_t count = 1;
    for (int64_t s : shape) {
        if (s < 0)
            fail(path, "negative dimension in the shape");
        count *= s;
    }
    if (!littleEndianHost())
        fail(path, "big-endian hosts are not supported");
    torch::Tensor result = torch::empty(shape, torch::TensorOptions().dtype(stored));
    if (count > 0 && !in.read(static_cast<char*>(result.data_ptr()), std::streamsize(count * itemSize)))
        fail(path, "truncated data (expected " + std::to_string(count) + " values)");
    return result.to(dtype.value_or(torch::kFloat64));
}

void writeNpy(const std::string& path, const torch::Tensor& tensor) {
    const torch::ScalarType type = tensor.scalar_type();
    if (type != torch::kFloat32 && type != torch::kFloat64)
        throw std::runtime_error("writeNpy: " + path + ": only float32 and float64 tensors can be written");
    if (!littleEndianHost())
        throw std::runtime_error("writeNpy: " + path + ": big-endian hosts are not supported");
    torch::Tensor data = tensor.detach().to(torch::kCPU).contiguous();
    std::string shape = "(";
    for (int64_t i = 0; i < data.dim(); i++)
        shape += std::to_string(data.size(i)) + (data.dim() == 1 ? "," : (i + 1 < data.dim() ? ", " : ""));
    shape += ")";
    std::string header = std::string("{'descr': '") + (type == torch::kFloat64 ? "<f8" : "<f4") +
                         "', 'fortran_order': False, 'shape': " + shape + ", }";
    // Pad with spaces so that magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    const size_t total = 10 + header.size() + 1;
    header += std::string((64 - total % 64) % 64, ' ') + "\n";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out)
        throw std::runtime_error("writeNpy: " + path + ": cannot open the file for writing");
    const unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char) (header.size() & 0xff),
                                      (unsigned char) (header.size() >> 8)};
    out.write(reinterpret_cast<const char*>(prefix), 10);
    out.write(header.data(), header.size());
    out.write(static_cast<const char*>(data.data_ptr()), std::streamsize(data.numel() * data.element_size()));
    if (!out)
        throw std::runtime_error("writeNpy: " + path + ": write failed");
}

} // namespace bg
