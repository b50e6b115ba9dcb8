#ifndef BG_PROJECTION_UTILITIES_H_
#define BG_PROJECTION_UTILITIES_H_

// Internal helpers of the projection couplings (not part of bgflows' public headers).

#include "bg/EGNN.h"
#include "bg/RationalQuadraticSpline.h"

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

/** The radial part of the vector and spherical projections (radialTransform()). */
struct RadialTransform {
    ElementwiseResult spline;     ///< r' = spline.y and log |dr'/dr| = spline.logDet, [...]
    torch::Tensor sphereLogDet;   ///< [...] (D - 1)(log r' - log r): the sphere of radius r scaled to r'
};

/**
 * Transform the distances r [...] of points from a centre in D dimensions by the radial spline
 * with its parameters: the part the vector and spherical projections share (model-spec 4.2, 4.3).
 * The log-det of the whole radial map is sphereLogDet + spline.logDet; the two are kept apart so
 * that each projection sums its terms in its own order.
 */
inline RadialTransform radialTransform(const torch::Tensor& r, int64_t dimension, const torch::Tensor& params, const SplineSettings& spline,
                                       bool inverse) {
    ElementwiseResult radial = rationalQuadraticSpline(r, params, spline, inverse);
    torch::Tensor sphereLogDet = (dimension - 1) * (radial.y.log() - r.log());
    return {radial, sphereLogDet};
}

} // namespace bg

#endif
