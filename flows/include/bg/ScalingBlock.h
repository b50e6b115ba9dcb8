#ifndef BG_SCALING_BLOCK_H_
#define BG_SCALING_BLOCK_H_

#include "bg/StableMlp.h"

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <utility>

namespace bg {

/**
 * The scaling block of the alanine dipeptide E-ACF (model-spec 6): two equivariant rescalings of
 * the multiplicity axis of z [B, N, K+1, D] (slot 0 = x, slots 1..K = augmented sets), written in
 * the log_prob (data -> base, `inverse`) direction:
 *
 *  1. CoM-scale: the centres c_k = mean_n(a_k) - mean_n(x) of the augmented sets become s_k c_k,
 *     s = softplus(theta + softplus^-1(1)), theta [K] trainable and initialised to 0;
 *     log-det D * sum_k log s_k.
 *  2. Shrink: every point cloud about its own centre (x and each a_k) is scaled isotropically by
 *     sigma_i, i = 0..K, sigma = softplus(h + softplus^-1(1)) with h = ConditionerHead(|c'_k|)
 *     (widths 16, 16; K inputs, the norms of the rescaled centres; K+1 outputs), whose final
 *     layer starts at zero; log-det (N-1) * D * sum_i log sigma_i.
 *
 * The sampling (forward) direction applies the inverses in reverse order (Shrink^-1, then
 * CoM-scale^-1); the shrink is conditioned on the rescaled centres, which it leaves unchanged,
 * so both directions are exact inverses. The centre of x is left where it is, which makes the
 * block equivariant to rotations, translations and permutations of the particles. With a zero
 * head and theta = 0 the block is the identity.
 */
class ScalingBlockImpl : public torch::nn::Module {
public:
    /**
     * @param numAugmented  K >= 1
     * @param identityInit  zero final head layer (true, model-spec 6) or VarianceScaling(0.1) as the coupling heads
     * @throws std::invalid_argument for K < 1
     */
    ScalingBlockImpl(int numAugmented, bool identityInit);
    /**
     * Apply the block (inverse = true: the log_prob direction above) or its inverse.
     *
     * @param z  [B, N, K+1, D] positions (nm)
     * @return (z', log|det dz'/dz| [B]) over the full (N (K+1) D)-dimensional space
     * @throws std::invalid_argument if z's multiplicity axis is not K+1
     */
    std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& z, bool inverse);

private:
    int numAugmented;
    torch::Tensor comLogits;                 // theta [K]
    ConditionerHead shrinkHead{nullptr};     // |c'_k| [.., K] -> h [.., K+1]
};
TORCH_MODULE(ScalingBlock);

} // namespace bg

#endif
