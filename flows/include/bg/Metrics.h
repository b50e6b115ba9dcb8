#ifndef BG_METRICS_H_
#define BG_METRICS_H_

#include <torch/types.h>

namespace bg {

/**
 * Reverse (flow-sample) effective sample size as a fraction in (0, 1] (model-spec 13):
 * 1 / (n * sum_i softmax(log w)_i^2) for importance log-weights log w = log p~(x) - log q(x) of n
 * samples drawn from the flow. Non-finite log-weights count as weight zero (they stay in n).
 */
double reverseEss(const torch::Tensor& logWeights);

/**
 * Forward (data) effective sample size as a fraction: 1 / (mean(w) * mean(1/w)) for log-weights
 * log w = log p~(x) - log q(x) of samples x from the target, computed in log space. Entries
 * that are not finite are left out.
 */
double forwardEss(const torch::Tensor& logWeights);

} // namespace bg

#endif
