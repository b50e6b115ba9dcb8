#ifndef BG_EQUIVARIANT_ALIGNMENT_H_
#define BG_EQUIVARIANT_ALIGNMENT_H_

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <optional>
#include <utility>
#include <vector>

namespace bg {

/** Which symmetries the noise-data alignment uses (ecnf-spec 3.3-3.6). */
struct AlignmentOptions {
    bool permute = true;             ///< permute identical particles (Hungarian on squared distances)
    bool rotate = true;              ///< rotate (Kabsch)
    bool reflections = false;        ///< allow improper rotations (O(D) instead of SO(D))
    /**
     * Rounds of (permutation, then rotation): 1 is the single pass of Klein et al. (ecnf-spec 3.3);
     * more alternate as EquiFM's Algorithm 3 (ecnf-spec 3.4), stopping early once the cost no longer
     * drops by more than 1e-10 relative.
     */
    int iterations = 1;
    /**
     * Starting orientations of x0 (with rotate): 1 starts from x0 as it is (Klein's single pass);
     * k > 1 also starts from k - 1 fixed further rotations (evenly spaced angles in 2-D, a fixed
     * Haar sample in 3-D) and keeps the lowest cost, which guards against the local minima of the
     * alternation (e.g. a permuted, rotated copy is then recovered). Cost grows linearly in k.
     */
    int rotationStarts = 1;
    /** Type of each particle; only particles of equal type are permuted. Empty: all identical. */
    std::vector<int> particleTypes;
};

/**
 * The Kabsch rotation R [P, D, D] minimising |X R^T - Y|^2 over SO(D) (or O(D) with
 * allowReflections) for each pair of configurations (ecnf-spec 3.5): H = X^T Y = U S W^T,
 * R = W diag(1, .., 1, delta) U^T, delta = sign det(W U^T). X and Y are centred first.
 * @param X, Y  [P, N, D]
 * @return [P, D, D]; the aligned configuration is X R^T (each row x_a becomes R x_a)
 */
torch::Tensor kabschRotation(const torch::Tensor& X, const torch::Tensor& Y, bool allowReflections = false);

/**
 * Align each x0[p] to x1[p] under the group in options (ecnf-spec 3.3/3.4): both are centred;
 * with permute, Hungarian assignment of x0's particles to x1's within each particle type on squared
 * distances; with rotate, Kabsch on the permuted pair; repeated options.iterations times, from each
 * of options.rotationStarts starting orientations, keeping the best.
 * No gradients flow through the result.
 * @param x0, x1  [P, N, D] (nm)
 * @return (aligned copies of x0 [P, N, D] with zero centre of mass, squared distances to centred x1 [P])
 * @throws std::invalid_argument for mismatched shapes or particle types of the wrong length
 */
std::pair<torch::Tensor, torch::Tensor> alignPairs(const torch::Tensor& x0, const torch::Tensor& x1, const AlignmentOptions& options);

/**
 * The equivariant OT coupling of Klein et al. (ecnf-spec 3.3): for all B x B pairs the aligned
 * cost c_ij = |align(x0_i; x1_j) - x1_j|^2, then a Hungarian bijection on c.
 * @param x0  [B, N, D] noise; @param x1  [B, N, D] data
 * @return noise [B, N, D]: row j is the aligned copy of the noise sample assigned to x1[j]
 */
torch::Tensor equivariantOtCoupling(const torch::Tensor& x0, const torch::Tensor& x1, const AlignmentOptions& options);

/**
 * Minibatch OT without symmetries (ecnf-spec 3.2): Hungarian on C_ij = |x0_i - x1_j|^2 over the
 * flattened configurations.
 * @return noise [B, N, D] reordered so row j pairs with x1[j]
 */
torch::Tensor minibatchOtCoupling(const torch::Tensor& x0, const torch::Tensor& x1);

/**
 * n Haar-distributed rotations in SO(D) [n, D, D] (QR of a Gaussian matrix with the signs of R's
 * diagonal fixed, then the first column flipped where the determinant is -1), drawn on generator.
 * Used to orient training data uniformly before rotational alignment (ecnf-spec 3.6).
 */
torch::Tensor randomRotations(int64_t n, int dimension, const torch::TensorOptions& options,
                              std::optional<at::Generator> generator = std::nullopt);

} // namespace bg

#endif
