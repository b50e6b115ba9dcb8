#ifndef BG_NPY_IO_H_
#define BG_NPY_IO_H_

#include <torch/types.h>

#include <optional>
#include <string>

namespace bg {

/**
 * Read a NumPy .npy file (format versions 1-3) holding little-endian float32 ('<f4') or float64
 * ('<f8') values in C order, of any rank, into a CPU tensor of the same shape.
 *
 * @param path   the file
 * @param dtype  the dtype of the returned tensor; float64 unless given
 * @throws std::runtime_error naming the file if it is missing, truncated, not .npy, Fortran-ordered
 *         or of an unsupported element type
 */
torch::Tensor readNpy(const std::string& path, std::optional<torch::ScalarType> dtype = std::nullopt);

/**
 * Write a floating-point tensor (float32 or float64; any rank, any device) to a .npy file
 * (version 1.0, little-endian, C order), keeping its element type.
 *
 * @throws std::runtime_error naming the file if the tensor is not float32/float64 or the file
 *         cannot be written
 */
void writeNpy(const std::string& path, const torch::Tensor& tensor);

} // namespace bg

#endif
