#include "bg/Projections.h"
#include "bg/EGNN.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

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

static torch::Tensor innerProduct(const torch::Tensor& a, const torch::Tensor& b) {
    return (a * b).sum(-1);
}

ProjectionResult vectorProjection(const torch::Tensor& points, const torch::Tensor& refs, const torch::Tensor& params,
                                  const ProjectionSplines& splines, bool inverse) {
    const int64_t d = points.size(-1);
    torch::Tensor centre = refs.select(-2, 0);
    torch::Tensor offset = points - centre;
    torch::Tensor r = safeNorm(offset);
    torch::Tensor direction = offset / r.unsqueeze(-1);
    ElementwiseResult radial = rationalQuadraticSpline(r, params, splines.radius, inverse);
    torch::Tensor logDet = (d - 1) * (radial.y.log() - r.log()) + radial.logDet;
    return {centre + radial.y.unsqueeze(-1) * direction, logDet};
}

// Orthonormal frame [..., D, D] whose rows are the axes, built from the reference points.
static torch::Tensor cartesianFrame(const torch::Tensor& refs, double eps) {
    const int64_t d = refs.size(-1);
    torch::Tensor origin = refs.select(-2, 0);
    torch::Tensor eye = torch::eye(d, refs.options());
    torch::Tensor first = refs.select(-2, 1) - origin + eps * eye[0];
    torch::Tensor zAxis = normalizeVector(first);
    if (d == 2) {
        torch::Tensor yAxis = torch::stack({-zAxis.select(-1, 1), zAxis.select(-1, 0)}, -1);
        return torch::stack({zAxis, yAxis}, -2);
    }
    torch::Tensor second = refs.select(-2, 2) - origin + eps * eye[1];
    torch::Tensor xTilde = normalizeVector(second);
    torch::Tensor xAxis = normalizeVector(xTilde - innerProduct(xTilde, zAxis).unsqueeze(-1) * zAxis);
    torch::Tensor yAxis = normalizeVector(torch::linalg_cross(zAxis, xAxis, -1));
    return torch::stack({zAxis, xAxis, yAxis}, -2);
}

ProjectionResult cartesianProjection(const torch::Tensor& points, const torch::Tensor& refs, const torch::Tensor& params,
                                     InnerTransform transform, const ProjectionSplines& splines, bool inverse) {
    torch::Tensor origin = refs.select(-2, 0);
    torch::Tensor frame = cartesianFrame(refs, splines.frameRegulariser);                                       // rows = axes
    torch::Tensor local = torch::matmul(frame, (points - origin).unsqueeze(-1)).squeeze(-1);   // R^T (p - o)
    ElementwiseResult inner = transform == InnerTransform::Affine ? affineTransform(local, params, inverse)
                                                                  : rationalQuadraticSpline(local, params, splines.cartesian, inverse);
    torch::Tensor back = torch::matmul(frame.transpose(-1, -2), inner.y.unsqueeze(-1)).squeeze(-1) + origin;
    return {back, inner.logDet.sum(-1)};
}

ProjectionResult sphericalProjection(const torch::Tensor& points, const torch::Tensor& refs, const torch::Tensor& params,
                                     const ProjectionSplines& splines, bool inverse) {
    const int64_t d = points.size(-1);
    torch::Tensor origin = refs.select(-2, 0);
    torch::Tensor offset = points - origin;
    torch::Tensor zAxis = normalizeVector(refs.select(-2, 1) - origin);
    if (d == 2) {
        torch::Tensor yAxis = torch::stack({-zAxis.select(-1, 1), zAxis.select(-1, 0)}, -1);
        torch::Tensor along = innerProduct(offset, zAxis), across = innerProduct(offset, yAxis);
        torch::Tensor r = safeNorm(offset);
        torch::Tensor theta = torch::atan2(across, along);
        ElementwiseResult radial = rationalQuadraticSpline(r, params.select(-2, 0), splines.radius, inverse);
        ElementwiseResult angular = rationalQuadraticSpline(theta, params.select(-2, 1), splines.azimuth, inverse);
        torch::Tensor rNew = radial.y, thetaNew = angular.y;
        torch::Tensor back = origin + rNew.unsqueeze(-1) * (thetaNew.cos().unsqueeze(-1) * zAxis + thetaNew.sin().unsqueeze(-1) * yAxis);
        torch::Tensor logDet = rNew.log() - r.log() + radial.logDet + angular.logDet;
        return {back, logDet};
    }
    torch::Tensor xTilde = refs.select(-2, 2) - origin;
    torch::Tensor xAxis = normalizeVector(xTilde - innerProduct(xTilde, zAxis).unsqueeze(-1) * zAxis);
    torch::Tensor yAxis = normalizeVector(torch::linalg_cross(xAxis, zAxis, -1));
    torch::Tensor u = innerProduct(offset, xAxis), v = innerProduct(offset, yAxis), w = innerProduct(offset, zAxis);
    torch::Tensor rho = torch::sqrt(u * u + v * v);   // distance from the z axis
    torch::Tensor r = safeNorm(offset);
    torch::Tensor theta = torch::atan2(rho, w);
    torch::Tensor phi = torch::atan2(v, u);
    ElementwiseResult radial = rationalQuadraticSpline(r, params.select(-2, 0), splines.radius, inverse);
    ElementwiseResult polar = rationalQuadraticSpline(theta, params.select(-2, 1), splines.polar, inverse);
    ElementwiseResult azimuthal = rationalQuadraticSpline(phi, params.select(-2, 2), splines.azimuth, inverse);
    torch::Tensor rNew = radial.y, thetaNew = polar.y, phiNew = azimuthal.y;
    torch::Tensor sinTheta = thetaNew.sin();
    torch::Tensor direction = thetaNew.cos().unsqueeze(-1) * zAxis +
                              sinTheta.unsqueeze(-1) * (phiNew.cos().unsqueeze(-1) * xAxis + phiNew.sin().unsqueeze(-1) * yAxis);
    torch::Tensor back = origin + rNew.unsqueeze(-1) * direction;
    // Cartesian -> spherical contributes -(2 log r + log sin theta); the way back +(2 log r' + log sin theta').
    torch::Tensor logDet = 2 * (rNew.log() - r.log()) + sinTheta.log() - (rho / r).log() + radial.logDet +
                           polar.logDet + azimuthal.logDet;
    return {back, logDet};
}

torch::Tensor collinearityLoss(const torch::Tensor& v1, const torch::Tensor& v2) {
    torch::Tensor cosine = innerProduct(v1, v2) / (safeNorm(v1) * safeNorm(v2));
    torch::Tensor b = 1 - cosine.abs();
    b = torch::where(b < 1e-4, torch::ones_like(b), b);
    return -b.log().mean();
}

} // namespace bg
