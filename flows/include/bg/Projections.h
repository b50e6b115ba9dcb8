#ifndef BG_PROJECTIONS_H_
#define BG_PROJECTIONS_H_

#include "bg/FlowConfig.h"
#include "bg/RationalQuadraticSpline.h"

#include <torch/types.h>

namespace bg {

/**
 * The geometric part of the three projection couplings (model-spec section 4): each maps points
 * into a local frame built from reference points, applies an elementwise transform there and maps
 * back. They act on any leading shape [...] (batch, node, slot); the last dimension is D.
 */
struct ProjectionResult {
    torch::Tensor points;   ///< [..., D] transformed points
    torch::Tensor logDet;   ///< [...] log |det d points / d input| per point
};

/** The splines of one projection type, derived from the flow configuration. */
struct ProjectionSplines {
    SplineSettings radius;    ///< [0, radiusMax], unconstrained
    SplineSettings polar;     ///< [0, pi] (3D spherical theta)
    SplineSettings azimuth;   ///< [-pi, pi], circular (3D phi, 2D theta)
    SplineSettings cartesian; ///< [-range, range]
    double frameRegulariser = 0.0;  ///< eps added along e_k to Cartesian frame candidate k
    static ProjectionSplines fromConfig(const FlowConfig& config);
};

/** Number of reference points each projection needs per transformed point: 1 (vector) or D. */
int numReferencePoints(Projection projection, int dimension);
/** Number of inner-transform parameters per transformed point. */
int numProjectionParameters(Projection projection, InnerTransform transform, int dimension, int splineBins);

/**
 * Vector projection: with d = p - P, r = |d|, the radius is transformed by a spline and
 * p' = P + r' d/r. log-det = -(D-1) log r + log spline'(r) + (D-1) log r'.
 *
 * @param refs    [..., 1, D] the reference point P
 * @param params  [..., 3K+1]
 */
ProjectionResult vectorProjection(const torch::Tensor& points, const torch::Tensor& refs, const torch::Tensor& params,
                                  const ProjectionSplines& splines, bool inverse);

/**
 * Cartesian projection: origin o = refs[0], orthonormal frame R by Gram-Schmidt from refs[k] - o
 * (k = 1..D-1; in 2D the second axis is the first rotated by +90 degrees), with
 * splines.frameRegulariser * e_k added to candidate k (0 keeps exact equivariance).
 * u = R^T (p - o) is transformed elementwise and p' = R u' + o.
 *
 * @param refs    [..., D, D]
 * @param params  [..., D, 2] (affine) or [..., D, 3K+1] (spline)
 */
ProjectionResult cartesianProjection(const torch::Tensor& points, const torch::Tensor& refs, const torch::Tensor& params,
                                     InnerTransform transform, const ProjectionSplines& splines, bool inverse);

/**
 * Spherical projection. 3D: origin o = refs[0], z axis towards refs[1], x axis from refs[2]
 * orthogonalised, y = x cross z; coordinates (r, theta, phi) with splines on [0, radiusMax],
 * [0, pi] and circular [-pi, pi]. 2D: polar (r, theta) with theta the signed angle from
 * refs[1] - o, circular spline on theta. log-det includes -(2 log r + log sin theta) on the way in
 * and +(2 log r' + log sin theta') on the way out (3D; in 2D -log r and +log r').
 *
 * @param refs    [..., D, D]
 * @param params  [..., D, 3K+1]  (3D: r, theta, phi; 2D: r, theta)
 */
ProjectionResult sphericalProjection(const torch::Tensor& points, const torch::Tensor& refs, const torch::Tensor& params,
                                     const ProjectionSplines& splines, bool inverse);

/**
 * Collinearity auxiliary loss of one coupling (model-spec section 8): for frame-defining vectors
 * v1, v2 [..., D], the mean of -log(1 - |cos angle(v1, v2)|), with no penalty where 1 - |cos| < 1e-4.
 */
torch::Tensor collinearityLoss(const torch::Tensor& v1, const torch::Tensor& v2);

/** v / |v| with the safe norm (a zero vector stays zero). */
torch::Tensor normalizeVector(const torch::Tensor& v);

} // namespace bg

#endif
