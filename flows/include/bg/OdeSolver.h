#ifndef BG_ODE_SOLVER_H_
#define BG_ODE_SOLVER_H_

#include "bg/CnfConfig.h"

#include <torch/types.h>

#include <cstdint>
#include <functional>

namespace bg {

/** The right-hand side dy/dt = f(t, y) of an ODE on a batch of states y [B, M]; returns [B, M]. */
using OdeFunction = std::function<torch::Tensor(double t, const torch::Tensor& y)>;

/** How to integrate (ecnf-spec 4: Dormand-Prince with rtol = atol = 1e-5, or fixed-step RK4). */
struct OdeOptions {
    OdeMethod method = OdeMethod::Dopri5;
    double rtol = 1e-5, atol = 1e-5;   ///< Dormand-Prince tolerances (per element: atol + rtol |y|)
    int maxSteps = 4096;               ///< accepted + rejected Dormand-Prince steps before failing
    int rk4Steps = 20;                 ///< RK4 steps over the whole interval
};

/** The end state of a solve and its cost. */
struct OdeResult {
    torch::Tensor y;          ///< [B, M] state at t1
    int64_t evaluations = 0;  ///< calls of f (NFE)
    int64_t accepted = 0;     ///< steps taken
    int64_t rejected = 0;     ///< Dormand-Prince steps rejected by the error test
};

/**
 * Integrate dy/dt = f(t, y) from t0 to t1 (t1 < t0 integrates backwards). Dormand-Prince 5(4)
 * with the standard tableau, first-same-as-last, Hairer's initial step, and one step size shared by
 * the whole batch: the error norm is the root-mean-square over a row of err / (atol + rtol
 * max(|y_n|, |y_n+1|)), maximised over the rows (so every row meets the tolerance), and the step
 * factor is 0.9 err^(-1/5) clamped to [0.2, 10]. RK4 takes options.rk4Steps equal steps.
 *
 * @param y0  [B, M] initial states (any floating dtype; f must keep it)
 * @throws std::runtime_error if Dormand-Prince exceeds options.maxSteps steps, the step size
 *         underflows (below 1e-12 |t1 - t0|), or f returns non-finite values or a wrong shape; it never
 *         falls back to another method silently (ecnf-spec 7)
 */
OdeResult integrateOde(const OdeFunction& f, const torch::Tensor& y0, double t0, double t1, const OdeOptions& options);

} // namespace bg

#endif
