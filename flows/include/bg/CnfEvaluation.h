#ifndef BG_CNF_EVALUATION_H_
#define BG_CNF_EVALUATION_H_

#include "bg/EquivariantCnf.h"
#include "bg/Target.h"
#include "bg/TrainingMethod.h"

#include <torch/types.h>

#include <cstdint>

namespace bg {

/** Sizes of an E-CNF evaluation. */
struct CnfEvaluationOptions {
    int64_t flowSamples = 10000;   ///< flow samples for the reverse ESS (0 = none; needs a target)
    int64_t testSamples = 0;       ///< leading test configurations used (0 = all)
    int64_t batchSize = 1000;      ///< rows per ODE solve
};

/**
 * Evaluate an E-CNF as evaluateFlow() does the E-ACF (model-spec 13, ecnf-spec 4), with the model's
 * divergence method and solver:
 *  - "test_nll": mean -log q(x) over the test configurations (centred; no augmented variables, so
 *    no marginal estimate is involved), and with a target "test_forward_ess" from
 *    log w = -u(x) - log q(x);
 *  - with a target and options.flowSamples > 0: "reverse_ess" from log w = -u(x) - log q(x) of flow
 *    samples (weight 0 where the target reports an invalid configuration), "flow_invalid_fraction";
 *  - "sample_seconds_per_1024" (wall time of sampling with densities, scaled to 1024 samples) and
 *    "sample_nfe" (mean velocity evaluations per ODE solve) when samples were drawn.
 * Log densities in nats per nm^((N-1)D), ESS as fractions in [0, 1].
 *
 * @param testData  [n, N, D] (nm) or undefined; @param target  nullptr for no ESS figures
 * @param samples   if not null, receives the flow samples ([n, N, D]) and their log-weights ([n])
 * @throws std::runtime_error from the ODE solver (step limit, non-finite field)
 */
NamedValues evaluateCnf(EquivariantCnf& cnf, const torch::Tensor& testData, Target* target, const CnfEvaluationOptions& options,
                        torch::Generator& generator, torch::Tensor* samples = nullptr, torch::Tensor* logWeights = nullptr);

} // namespace bg

#endif
