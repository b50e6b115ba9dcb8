// Spherical projection (model-spec 4.2).
#include "bg/Projections.h"
#include "bg/EGNN.h"
#include "ProjectionUtilities.h"

#include <torch/torch.h>

#include <cmath>

namespace bg {

ProjectionResult sphericalProjection(const torch::Tensor& points, const torch::Tensor& refs, const torch::Tensor& params,
                                     const ProjectionSplines& splines, bool inverse) {
    const int64_t d = points.size(-1);
    torch::Tensor origin = refs.select(-2, 0);
    torch::Tensor offset = points - origin;
    torch::Tensor zAxis = normalizeVector(refs.select(-2, 1) - origin);
    if (d == 2) {
        torch::Tensor yAxis = perpendicular2D(zAxis);
        torch::Tensor along = innerProduct(offset, zAxis), across = innerProduct(offset, yAxis);
        torch::Tensor r = safeNorm(offset);
        torch::Tensor theta = torch::atan2(across, along);
        RadialTransform radial = radialTransform(r, d, params.select(-2, 0), splines.radius, inverse);
        ElementwiseResult angular = rationalQuadraticSpline(theta, params.select(-2, 1), splines.azimuth, inverse);
        torch::Tensor rNew = radial.spline.y, thetaNew = angular.y;
        torch::Tensor back = origin + rNew.unsqueeze(-1) * (thetaNew.cos().unsqueeze(-1) * zAxis + thetaNew.sin().unsqueeze(-1) * yAxis);
        torch::Tensor logDet = radial.sphereLogDet + radial.spline.logDet + angular.logDet;
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
    RadialTransform radial = radialTransform(r, d, params.select(-2, 0), splines.radius, inverse);
    ElementwiseResult polar = rationalQuadraticSpline(theta, params.select(-2, 1), splines.polar, inverse);
    ElementwiseResult azimuthal = rationalQuadraticSpline(phi, params.select(-2, 2), splines.azimuth, inverse);
    torch::Tensor rNew = radial.spline.y, thetaNew = polar.y, phiNew = azimuthal.y;
    torch::Tensor sinTheta = thetaNew.sin();
    torch::Tensor direction = thetaNew.cos().unsqueeze(-1) * zAxis +
                              sinTheta.unsqueeze(-1) * (phiNew.cos().unsqueeze(-1) * xAxis + phiNew.sin().unsqueeze(-1) * yAxis);
    torch::Tensor back = origin + rNew.unsqueeze(-1) * direction;
    // Cartesian -> spherical contributes -(2 log r + log sin theta); the way back +(2 log r' + log sin theta').
    torch::Tensor logDet = radial.sphereLogDet + sinTheta.log() - (rho / r).log() + radial.spline.logDet + polar.logDet +
                           azimuthal.logDet;
    return {back, logDet};
}

} // namespace bg
