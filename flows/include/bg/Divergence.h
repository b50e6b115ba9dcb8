#ifndef BG_DIVERGENCE_H_
#define BG_DIVERGENCE_H_

#include <torch/types.h>

#include <functional>
#include <utility>

namespace bg {

/**
 * A velocity field v(x, t): x [B, N, D], t [B] -> v [B, N, D], acting on each row independently
 * (as the E-CNF's EGNN does), so that replicated rows give independent Jacobians.
 */
using VelocityFunction = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t)>;

/**
 * v(x, t) and its exact divergence tr(dv/dx) over all N D coordinates, by autograd (ecnf-spec 4):
 * x is replicated M = N D times, replica k's k-th output coordinate is differentiated with respect
 * to its own input in one backward pass (one forward of M B rows). For a translation-invariant field
 * projected to zero CoM this full trace is the divergence on the zero-CoM subspace (ecnf-spec 4).
 * Gradient mode is switched on internally; must not be called under torch::InferenceMode.
 *
 * @param x  [B, N, D]; @param t  [B]
 * @return (v [B, N, D] detached, div [B] detached)
 */
std::pair<torch::Tensor, torch::Tensor> velocityAndExactDivergence(const VelocityFunction& f, const torch::Tensor& x, const torch::Tensor& t);

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
