#include "bg/CouplingLayer.h"

#include "ModelConfigFields.h"

#include <torch/torch.h>

namespace bg {

CouplingLayerImpl::CouplingLayerImpl(const FlowConfig& config, bool swap)
        : config(config), splines(ProjectionSplines::fromConfig(config)), swap(swap) {
    config.validate();
    half = (config.numAugmented + 1) / 2;
    numInner = config.resolvedInnerTransforms();
    numRefs = numReferencePoints(config.projection, config.dimension);
    numParams = numProjectionParameters(config.projection, config.innerTransform, config.dimension, config.splineBins);
    egnn = register_module("egnn", EGNN(egnnSettingsFor(config, half, half * numInner * numRefs)));
    heads = register_module("heads", torch::nn::ModuleList());
    for (int i = 0; i < numInner; i++)
        heads->push_back(ConditionerHead(config.invariantFeatures, config.headWidths, half * numParams, config.identityInit));
}

static torch::Tensor centreOn(const torch::Tensor& z, int64_t slot) {
    // Subtract from every slot the centre of mass (mean over nodes) of one slot.
    return z - z.select(2, slot).mean(1, true).unsqueeze(2);
}

std::pair<torch::Tensor, torch::Tensor> CouplingLayerImpl::forward(const torch::Tensor& zIn, const torch::Tensor& nodeFeatures, bool inverse) {
    const int64_t batch = zIn.size(0), n = zIn.size(1), d = zIn.size(3);
    torch::Tensor z = swap ? centreOn(zIn, half) : zIn;
    torch::Tensor first = z.narrow(2, 0, half), second = z.narrow(2, half, half);
    torch::Tensor cond = swap ? second : first;
    torch::Tensor trans = swap ? first : second;

    auto [vectors, features] = egnn->forward(cond, nodeFeatures);
    // vectors [B, N, m*inner*refs, D]: reference points are offsets from the conditioning slot they pair with.
    torch::Tensor refs = cond.unsqueeze(3).unsqueeze(3) + vectors.view({batch, n, half, numInner, numRefs, d});

    torch::Tensor logDet = torch::zeros({batch}, z.options());
    for (int k = 0; k < numInner; k++) {
        int i = inverse ? numInner - 1 - k : k;
        torch::Tensor params = heads[i]->as<ConditionerHeadImpl>()->forward(features);
        torch::Tensor refsI = refs.select(3, i);                       // [B, N, m, refs, D]
        ProjectionResult result;
        if (config.projection == Projection::Vector) {
            result = vectorProjection(trans, refsI, params.view({batch, n, half, numParams}), splines, inverse);
        }
        else {
            torch::Tensor p = params.view({batch, n, half, d, numParams / d});
            if (config.projection == Projection::Cartesian)
                result = cartesianProjection(trans, refsI, p, config.innerTransform, splines, inverse);
            else
                result = sphericalProjection(trans, refsI, p, splines, inverse);
        }
        trans = result.points;
        logDet = logDet + result.logDet.sum({1, 2});
    }

    // Aux loss on the frame-defining vectors (3D spherical: the raw EGNN offsets 1 and 2; cartesian:
    // the basis candidates relative to the origin).
    if (d == 3 && config.projection != Projection::Vector) {
        torch::Tensor v = vectors.view({batch, n, half, numInner, numRefs, d});
        torch::Tensor v1 = v.select(4, 1), v2 = v.select(4, 2);
        if (config.projection == Projection::Cartesian) {
            v1 = v1 - v.select(4, 0);
            v2 = v2 - v.select(4, 0);
        }
        auxLoss = collinearityLoss(v1, v2);
    }
    else
        auxLoss = torch::zeros({}, z.options());

    torch::Tensor out = swap ? torch::cat({trans, cond}, 2) : torch::cat({cond, trans}, 2);
    if (swap)
        out = centreOn(out, 0);
    return {out, logDet};
}

} // namespace bg
