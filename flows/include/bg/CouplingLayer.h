#ifndef BG_COUPLING_LAYER_H_
#define BG_COUPLING_LAYER_H_

#include "bg/EGNN.h"
#include "bg/FlowConfig.h"
#include "bg/Projections.h"
#include "bg/StableMlp.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <utility>

namespace bg {

/**
 * One equivariant projection coupling layer (model-spec 3.3-3.5). The multiplicity axis of
 * z [B, N, K+1, D] (slot 0 = x, slots 1..K = augmented sets) is split into group 1 = slots
 * [0, m) and group 2 = slots [m, K+1), m = (K+1)/2. Without swap, group 1 conditions and group 2
 * is transformed; with swap the roles exchange and the centre of mass is shifted before (onto
 * slot m) and after (onto slot 0), which keeps x at zero centre of mass.
 *
 * An EGNN on the conditioning group produces reference points and invariant features; per inner
 * transform a conditioner head maps the features to spline/affine parameters, and the projection
 * maps each transformed point through its local frame.
 */
class CouplingLayerImpl : public torch::nn::Module {
public:
    CouplingLayerImpl(const FlowConfig& config, bool swap);
    /**
     * Apply the layer in the sampling (forward) direction or its inverse.
     *
     * @param z             [B, N, K+1, D]
     * @param nodeFeatures  [N] int64 particle indices (for embedding tables)
     * @return (z', log|det dz'/dz| [B])
     */
    std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& z, const torch::Tensor& nodeFeatures, bool inverse);
    /** The collinearity aux loss of the last call (a scalar; 0 for 2D and vector projections). */
    const torch::Tensor& lastAuxLoss() const {
        return auxLoss;
    }

private:
    FlowConfig config;
    ProjectionSplines splines;
    bool swap;
    int half, numInner, numRefs, numParams;
    EGNN egnn{nullptr};
    torch::nn::ModuleList heads;
    torch::Tensor auxLoss;
};
TORCH_MODULE(CouplingLayer);

} // namespace bg

#endif
