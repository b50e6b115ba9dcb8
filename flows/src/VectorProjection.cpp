// Vector projection (model-spec 4.3).
#include "bg/Projections.h"
#include "bg/EGNN.h"
#include "ProjectionUtilities.h"

#include <torch/torch.h>

namespace bg {

ProjectionResult vectorProjection(const torch::Tensor& points, const torch::Tensor& refs, const torch::Tensor& params,
                                  const ProjectionSplines& splines, bool inverse) {
    torch::Tensor centre = refs.select(-2, 0);
    torch::Tensor offset = points - centre;
    torch::Tensor r = safeNorm(offset);
    torch::Tensor direction = offset / r.unsqueeze(-1);
    RadialTransform radial = radialTransform(r, points.size(-1), params, splines.radius, inverse);
    return {centre + radial.spline.y.unsqueeze(-1) * direction, radial.sphereLogDet + radial.spline.logDet};
}

} // namespace bg
