#ifndef BG_DIVERGENCE_H_
#define BG_DIVERGENCE_H_

#include <torch/types.h>

#include <functional>
#include <utility>

namespace bg {

/**
 * A velocity field v(x, t): x [B, N, D], t [B] -> v [B, N, D], acting on each row independently
 * (as the E-CNF's EGNN does), so that the gradient of a sum over rows is each row's own gradient.
 */
using VelocityFunction = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t)>;

/**
 * How velocityAndExactDivergence differentiates: Automatic picks Replicated for B K D <= 64 rows times
 * directions and Sequential above; the others force one (benchmarks, tests). Same values to rounding.
 */
enum class ExactDivergenceStrategy { Automatic, Replicated, Sequential };

/**
 * Orthonormal basis of the zero-sum subspace of R^N (Helmert columns): [N, N-1], columns of unit
 * length, orthogonal to each other and to (1, ..., 1). With the D Cartesian axes it spans the
 * (N-1) D dimensional zero-CoM subspace. options: dtype and device of the result (default float64).
 * Throws std::invalid_argument for N < 2.
 */
torch::Tensor zeroCentreOfMassBasis(int64_t numParticles, const torch::TensorOptions& options = {});

/**
 * v(x, t) and its exact divergence by autograd (ecnf-spec 4): the trace of dv/dx on the span of
 * the directions q_k (x) e_d, q_k the columns of particleBasis [N, K] (orthonormal) and e_d the D
 * axes; undefined particleBasis means all N D coordinates (the full trace). For many rows (B K D > 64)
 * one forward pass of the B rows, then K D vector-Jacobian products through the same graph (each a
 * backward pass): about 1 + 2 K D forward passes, the memory of one; for few rows (flow moves) x is
 * replicated K D times and differentiated in one backward pass, which has less per-call overhead
 * there. Both give the same values to rounding. For a translation-
 * invariant field projected to zero CoM (the E-CNF's), the full trace equals the trace on the
 * zero-CoM subspace, so zeroCentreOfMassBasis(N) gives the same value with (N-1) D instead of N D
 * products. The rows must be independent (as the E-CNF's EGNN keeps them). On the CPU the sequential
 * path runs the rows in passes of at most 8192 / (N (N-1)) rows (LJ13: 52), since the cost per row
 * doubles once the graph kept for the backward passes outgrows the caches (docs/ecnf.md "Rows per
 * pass"). Gradient mode is switched on internally; must not be called under torch::InferenceMode.
 *
 * @param x  [B, N, D]; @param t  [B]; @param particleBasis  [N, K] or undefined
 * @param strategy  replicated rows or one backward pass per direction (default: by size, see above)
 * @param rowsPerPass  rows per pass of the sequential path; 0 (default): by the rule above on the
 *                     CPU, all rows in one pass on other devices
 * @return (v [B, N, D] detached, div [B] detached)
 * @throws std::invalid_argument if particleBasis is not [N, K] or rowsPerPass is negative
 */
std::pair<torch::Tensor, torch::Tensor> velocityAndExactDivergence(const VelocityFunction& f, const torch::Tensor& x, const torch::Tensor& t,
                                                                   const torch::Tensor& particleBasis = torch::Tensor(),
                                                                   ExactDivergenceStrategy strategy = ExactDivergenceStrategy::Automatic,
                                                                   int64_t rowsPerPass = 0);

/**
 * v(x, t) and the Hutchinson estimate eps^T (dv/dx) eps of its divergence (ecnf-spec 4), unbiased
 * when E[eps eps^T] is the identity on the subspace v lives in (e.g. eps ~ N(0, P), P the zero-CoM
 * projector). One vector-Jacobian product. Gradient mode is switched on internally.
 *
 * @param x  [B, N, D]; @param t  [B]; @param probe  eps [B, N, D]
 * @return (v [B, N, D] detached, estimate [B] detached)
 */
std::pair<torch::Tensor, torch::Tensor> velocityAndHutchinsonDivergence(const VelocityFunction& f, const torch::Tensor& x,
                                                                         const torch::Tensor& t, const torch::Tensor& probe);

} // namespace bg

#endif
