#ifndef BG_CNF_INTEGRATION_H_
#define BG_CNF_INTEGRATION_H_

#include "bg/Divergence.h"
#include "bg/OdeSolver.h"

#include <torch/types.h>

#include <cstdint>

namespace bg {

/** The end point of an ODE solve and the integral of the divergence along it. */
struct CnfTransform {
    torch::Tensor x;                    ///< [B, N, D] at t1
    torch::Tensor divergenceIntegral;   ///< [B] int_{t0}^{t1} div v(x(t), t) dt; undefined without densities
    int64_t evaluations = 0;            ///< velocity-field evaluations (NFE)
};

/**
 * Integrate dx/dt = v(x, t) from t0 to t1 (either direction), and with withDivergence also
 * l(t1) = int_{t0}^{t1} div v dt through the augmented state (x, l), so that
 * log q_{t1}(x(t1)) = log q_{t0}(x(t0)) - l(t1) (instantaneous change of variables, ecnf-spec 4).
 * The divergence is exact (velocityAndExactDivergence on the span of particleBasis, all coordinates
 * when that is undefined) when probe is undefined, else the Hutchinson
 * estimate with that probe, fixed for the whole trajectory (ecnf-spec 4, 7). The error control of
 * Dormand-Prince covers l as well. x is used as given (centre it first for a zero-CoM field).
 * No parameter gradients are kept.
 *
 * @param x      [B, N, D] start points
 * @param probe  [B, N, D] Hutchinson probe, or undefined for the exact divergence
 * @param particleBasis  [N, K] orthonormal, for the exact divergence (zeroCentreOfMassBasis(N) for a
 *                       zero-CoM translation-invariant field), or undefined for all N D coordinates
 * @throws std::runtime_error from integrateOde()
 */
CnfTransform integrateCnf(const VelocityFunction& f, const torch::Tensor& x, double t0, double t1, const OdeOptions& options,
                          bool withDivergence, const torch::Tensor& probe = torch::Tensor(),
                          const torch::Tensor& particleBasis = torch::Tensor());

} // namespace bg

#endif
