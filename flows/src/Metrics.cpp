#include "bg/Metrics.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace bg {

double reverseEss(const torch::Tensor& logWeights) {
    if (logWeights.dim() != 1 || logWeights.size(0) == 0)
        throw std::invalid_argument("reverseEss: expected a non-empty 1-D tensor of log-weights");
    torch::Tensor w = logWeights.to(torch::kFloat64);
    w = torch::where(torch::isfinite(w), w, torch::full_like(w, -INFINITY));
    if (!torch::isfinite(w).any().item<bool>())
        return 0.0;
    // sum softmax^2 = exp(logsumexp(2 w) - 2 logsumexp(w)).
    double logSumSquares = torch::logsumexp(2 * w, 0).item<double>() - 2 * torch::logsumexp(w, 0).item<double>();
    return std::exp(-logSumSquares) / double(w.size(0));
}

double forwardEss(const torch::Tensor& logWeights) {
    if (logWeights.dim() != 1 || logWeights.size(0) == 0)
        throw std::invalid_argument("forwardEss: expected a non-empty 1-D tensor of log-weights");
    torch::Tensor w = logWeights.to(torch::kFloat64);
    w = w.masked_select(torch::isfinite(w));
    if (w.numel() == 0)
        return 0.0;
    double logN = std::log(double(w.numel()));
    double logMeanW = torch::logsumexp(w, 0).item<double>() - logN;
    double logMeanInverse = torch::logsumexp(-w, 0).item<double>() - logN;
    return std::exp(-(logMeanW + logMeanInverse));
}

} // namespace bg
