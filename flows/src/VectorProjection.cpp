// Vector projection (model-spec 4.3).
#include "bg/Projections.h"
#include "bg/EGNN.h"
#include "ProjectionUtilities.h"

#include <torch/torch.h>

namespace bg {

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

} // namespace bg
