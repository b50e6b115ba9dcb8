// Cartesian projection (model-spec 4.1).
#include "bg/Projections.h"
#include "bg/EGNN.h"
#include "ProjectionUtilities.h"

#include <torch/torch.h>

namespace bg {

// Orthonormal frame [..., D, D] whose rows are the axes, built from the reference points.
static torch::Tensor cartesianFrame(const torch::Tensor& refs, double eps) {
    const int64_t d = refs.size(-1);
    torch::Tensor origin = refs.select(-2, 0);
    torch::Tensor eye = torch::eye(d, refs.options());
    torch::Tensor first = refs.select(-2, 1) - origin + eps * eye[0];
    torch::Tensor zAxis = normalizeVector(first);
    if (d == 2) {
        torch::Tensor yAxis = perpendicular2D(zAxis);
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

} // namespace bg
