#ifndef BG_EVALUATION_H_
#define BG_EVALUATION_H_

#include "bg/AugmentedCouplingFlow.h"
#include "bg/GenerativeModel.h"
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
    int marginalDraws = 20;        ///< M, augmented draws per test point for the E-ACF's marginal NLL
    /**
     * M, augmented draws behind the E-ACF's reverse-ESS weights (multiDrawLogProposal(): 1 = the
     * joint weight of model-spec 13; more draws bring the weights towards the marginal's)
     */
    int weightDraws = 1;
};

/** The flow samples an evaluation drew, for callers that compute further figures from them. */
struct EvaluationSamples {
    torch::Tensor x;            ///< [n, N, D] in nm, model dtype, on the CPU
    torch::Tensor logQ;         ///< [n] float64, log q(x, a) (E-ACF) or log q(x) (E-CNF)
    torch::Tensor logWeights;   ///< [n] float64, -u(x) - log proposal (ModelDensity::logProposal(), or multiDrawLogProposal() with EvaluationOptions::weightDraws > 1; -inf where invalid); undefined without a target
};

/**
 * Evaluate a model of either kind under torch::NoGradGuard, in passes of at most options.batchSize
 * rows (model-spec 13, ecnf-spec 4); the same figures for both kinds:
 *  - from options.flowSamples samples ~ q, if a target is given: the importance log-weights
 *    log w = -u(x) - log proposal, i.e. -u(x) + log pi(a|x) - log q(x, a) for the E-ACF's (x, a)
 *    and -u(x) - log q(x) for the E-CNF, with weight 0 where the target reports an invalid
 *    configuration or log q is not finite; "reverse_ess" (fraction in [0, 1]) and
 *    "flow_invalid_fraction"; for the E-ACF with options.weightDraws = M > 1 also
 *    "reverse_ess_draws", the reverse ESS of the weights -u(x) - multiDrawLogProposal() over M
 *    draws (then also the log-weights given back in `samples`); for a model that samples by an ODE (the E-CNF) also
 *    "sample_seconds_per_1024" (wall time of sampling with densities, scaled to 1024 samples) and
 *    "sample_nfe" (mean velocity evaluations per solve);
 *  - from the test configurations (centred first; if any): "test_nll", the mean of -log q(x) with
 *    the model's marginal (GenerativeModel::marginalLogProb: the E-ACF's importance-weighted estimate
 *    over M = options.marginalDraws draws a_m ~ pi(.|x), logsumexp_m[log q(x, a_m) - log pi(a_m|x)]
 *    - log M; the E-CNF's exact log q(x)); "test_mean_log_q", the mean log q of
 *    GenerativeModel::proposalLogProb (the E-ACF's joint log q(x, a) for one draw a ~ pi(.|x); the
 *    E-CNF's log q(x), without a second solve); and, with a target, "test_forward_ess" from
 *    log w = -u(x) - log proposal at those densities.
 * Log densities are in nats per nm^((N-1)D).
 *
 * @param testData  test configurations [n, N, D] in nm, or an undefined/empty tensor
 * @param target    the target density, or nullptr (then no ESS figures)
 * @param generator the random generator all draws come from
 * @param samples   if not null, receives the flow samples and their log-weights
 * @throws std::runtime_error from the E-CNF's ODE solver (step limit, non-finite field)
 */
NamedValues evaluateFlow(GenerativeModel& model, const torch::Tensor& testData, Target* target, const EvaluationOptions& options,
                         torch::Generator& generator, EvaluationSamples* samples = nullptr);

/** evaluateFlow() of an E-ACF (wrapped in a CouplingFlowModel). */
NamedValues evaluateFlow(AugmentedCouplingFlow& flow, const torch::Tensor& testData, Target* target, const EvaluationOptions& options,
                         torch::Generator& generator, EvaluationSamples* samples = nullptr);

} // namespace bg

#endif
