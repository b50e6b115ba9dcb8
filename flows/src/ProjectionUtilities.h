#ifndef BG_PROJECTION_UTILITIES_H_
#define BG_PROJECTION_UTILITIES_H_

// Internal helpers of the projection couplings (not part of bgflows' public headers).

#include <torch/torch.h>

namespace bg {

/** Dot product over the last dimension. */
inline torch::Tensor innerProduct(const torch::Tensor& a, const torch::Tensor& b) {
    return (a * b).sum(-1);
}

/** The in-plane axis at +90 degrees from a 2D unit vector [..., 2]. */
inline torch::Tensor perpendicular2D(const torch::Tensor& axis) {
    return torch::stack({-axis.select(-1, 1), axis.select(-1, 0)}, -1);
}

} // namespace bg

#endif
