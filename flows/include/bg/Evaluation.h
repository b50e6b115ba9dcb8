#ifndef BG_EVALUATION_H_
#define BG_EVALUATION_H_

#include "bg/AugmentedCouplingFlow.h"
#include "bg/Target.h"
#include "bg/TrainingMethod.h"

#include <torch/types.h>

#include <cstdint>

namespace bg {

/** Sizes of an evaluation (model-spec 13). */
struct EvaluationOptions {
    int64_t flowSamples = 10000;   ///< flow samples for the reverse ESS (0 = none)
    int64_t testSamples = 0;       ///< leading test configurations used (0 = all)
    int64_t batchSize = 1000;      ///< rows per flow pass
    int marginalDraws = 20;        ///< M, augmented draws per test point for the marginal NLL
};

/** The flow samples an evaluation drew, for callers that compute further figures from them. */
struct EvaluationSamples {
    torch::Tensor x;            ///< [n, N, D] in nm, flow dtype
    torch::Tensor logQ;         ///< [n] float64, log q(x, a)
    torch::Tensor logWeights;   ///< [n] float64, -u(x) + log pi(a|x) - log q(x, a) (-inf where invalid); undefined without a target
};

/**
 * Evaluate a flow under torch::NoGradGuard, in passes of at most options.batchSize rows:
 *  - from options.flowSamples flow samples (x, a) ~ q, if a target is given: the importance
 *    log-weights log w = -u(x) + log pi(a|x) - log q(x, a), with weight 0 where the target
 *    reports an invalid configuration or log q is not finite; "reverse_ess" (fraction in [0, 1])
 *    and "flow_invalid_fraction";
 *  - from the test configurations (centred first; if any): "test_nll", the mean of
 *    -log q^(x) with the importance-weighted marginal log q^(x) = logsumexp_m[log q(x, a_m) -
 *    log pi(a_m|x)] - log M over M = options.marginalDraws draws a_m ~ pi(.|x); "test_mean_log_q",
 *    the mean joint log q(x, a) for one draw a ~ pi(.|x); and, with a target, "test_forward_ess"
 *    from log w = -u(x) - [log q(x, a) - log pi(a|x)] with that draw.
 * Log densities are in the flow's reduced units (nats).
 *
 * @param testData  test configurations [n, N, D] in nm, or an undefined/empty tensor
 * @param target    the target density, or nullptr (then no ESS figures)
 * @param generator the random generator all draws come from
 * @param samples   if not null, receives the flow samples and their log-weights
 */
NamedValues evaluateFlow(AugmentedCouplingFlow& flow, const torch::Tensor& testData, Target* target, const EvaluationOptions& options,
                         torch::Generator& generator, EvaluationSamples* samples = nullptr);

} // namespace bg

#endif
