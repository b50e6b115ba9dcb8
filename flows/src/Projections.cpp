// Shared pieces of the projection couplings: spline settings, sizes, frames helpers, the aux loss.
#include "bg/Projections.h"
#include "bg/EGNN.h"
#include "ProjectionUtilities.h"

#include <torch/torch.h>

#include <cmath>

namespace bg {

ProjectionSplines ProjectionSplines::fromConfig(const FlowConfig& config) {
    ProjectionSplines s;
    s.radius = {config.splineBins, 0.0, config.radiusMax, false};
    s.polar = {config.splineBins, 0.0, M_PI, false};
    s.azimuth = {config.splineBins, -M_PI, M_PI, true};
    s.cartesian = {config.splineBins, -config.cartesianRange, config.cartesianRange, false};
    s.frameRegulariser = config.frameRegulariser;
    return s;
}

int numReferencePoints(Projection projection, int dimension) {
    return projection == Projection::Vector ? 1 : dimension;
}

int numProjectionParameters(Projection projection, InnerTransform transform, int dimension, int splineBins) {
    int perCoordinate = transform == InnerTransform::Affine ? 2 : 3 * splineBins + 1;
    return projection == Projection::Vector ? perCoordinate : dimension * perCoordinate;
}

torch::Tensor normalizeVector(const torch::Tensor& v) {
    return v / safeNorm(v, true);
}

torch::Tensor collinearityLoss(const torch::Tensor& v1, const torch::Tensor& v2) {
    torch::Tensor cosine = innerProduct(v1, v2) / (safeNorm(v1) * safeNorm(v2));
    torch::Tensor b = 1 - cosine.abs();
    b = torch::where(b < 1e-4, torch::ones_like(b), b);
    return -b.log().mean();
}

} // namespace bg
