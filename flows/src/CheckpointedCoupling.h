#ifndef BG_CHECKPOINTED_COUPLING_H_
#define BG_CHECKPOINTED_COUPLING_H_

// Gradient checkpointing for one coupling layer (private to bgflows).

#include "bg/CouplingLayer.h"

#include <torch/types.h>

namespace bg {

/** What one coupling layer returns: the new state, its log-det and its aux loss. */
struct CouplingOutput {
    torch::Tensor z;        ///< [B, N, K+1, D]
    torch::Tensor logDet;   ///< [B]
    torch::Tensor auxLoss;  ///< scalar
};

/**
 * Apply `layer` to z like CouplingLayerImpl::forward, but keep none of its intermediate tensors
 * for the backward pass: only z is saved, and the backward pass runs the layer again with
 * gradients enabled and differentiates that recomputation. Gradients reach z and every parameter
 * of the layer. Peak memory of a training pass falls from "all layers' activations" to "one
 * layer's activations plus the inputs of every layer", at the price of a second forward pass of
 * each layer. The layer must be deterministic (it is: no dropout, no sampling).
 */
CouplingOutput checkpointedCoupling(CouplingLayerImpl& layer, const torch::Tensor& z, const torch::Tensor& nodeFeatures,
                                    bool inverse);

} // namespace bg

#endif
