#include "bg/ConditionalGaussian.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace bg {

ConditionalGaussian::ConditionalGaussian(double eta) : eta(eta) {
    if (!(eta > 0) || !std::isfinite(eta))
        throw std::invalid_argument("ConditionalGaussian: eta must be positive and finite, got " + std::to_string(eta));
}

torch::Tensor ConditionalGaussian::sample(const torch::Tensor& x, int64_t numAugmented, std::optional<at::Generator> generator) const {
    if (x.dim() != 3)
        throw std::invalid_argument("ConditionalGaussian::sample: x must have shape [B, N, D]");
    std::vector<int64_t> shape = {x.size(0), numAugmented, x.size(1), x.size(2)};
    torch::Tensor eps = at::normal(0.0, 1.0, shape, generator, x.options().device(torch::kCPU)).to(x.device());
    return x.unsqueeze(1) + eta * eps;
}

torch::Tensor ConditionalGaussian::logProb(const torch::Tensor& a, const torch::Tensor& x) const {
    if (a.dim() != 4 || x.dim() != 3 || a.size(0) != x.size(0) || a.size(2) != x.size(1) || a.size(3) != x.size(2))
        throw std::invalid_argument("ConditionalGaussian::logProb: expected a [B, K, N, D] and x [B, N, D]");
    const int64_t k = a.size(1), n = a.size(2), d = a.size(3);
    double logNormaliser = -double(k * n * d) * (std::log(eta) + 0.5 * std::log(2.0 * M_PI));
    return -0.5 * (a - x.unsqueeze(1)).square().sum({1, 2, 3}) / (eta * eta) + logNormaliser;
}

} // namespace bg
