#include "bg/ScalingBlock.h"

#include "bg/EGNN.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace bg {

namespace {

/** softplus(v + softplus^-1(1)): 1 at v = 0 (model-spec 6). */
torch::Tensor unitSoftplus(const torch::Tensor& v) {
    return torch::softplus(v + std::log(std::expm1(1.0)));
}

} // namespace

ScalingBlockImpl::ScalingBlockImpl(int numAugmented, bool identityInit) : numAugmented(numAugmented) {
    if (numAugmented < 1)
        throw std::invalid_argument("ScalingBlock: numAugmented must be positive, got " + std::to_string(numAugmented));
    comLogits = register_parameter("comLogits", torch::zeros({numAugmented}));
    shrinkHead = register_module("shrinkHead", ConditionerHead(numAugmented, std::vector<int>{16, 16}, numAugmented + 1, identityInit));
}

std::pair<torch::Tensor, torch::Tensor> ScalingBlockImpl::forward(const torch::Tensor& z, bool inverse) {
    if (z.dim() != 4 || z.size(2) != numAugmented + 1)
        throw std::invalid_argument("ScalingBlock: z must have shape [B, N, " + std::to_string(numAugmented + 1) + ", D]");
    const int64_t n = z.size(1), d = z.size(3);
    torch::Tensor centres = z.mean(1);                                     // [B, K+1, D]
    torch::Tensor origin = centres.narrow(1, 0, 1);                        // centre of x [B, 1, D]
    torch::Tensor clouds = z - centres.unsqueeze(1);                       // zero-mean point clouds
    torch::Tensor offsets = centres.narrow(1, 1, numAugmented) - origin;   // c_k [B, K, D]
    torch::Tensor logS = torch::log(unitSoftplus(comLogits.to(z.dtype())));   // [K]
    // The shrink is conditioned on the centres on the base side of the CoM-scale: the output of
    // the CoM-scale in the log_prob direction, the input in the sampling direction.
    if (inverse)
        offsets = offsets * logS.exp().view({1, -1, 1});
    torch::Tensor logSigma = torch::log(unitSoftplus(shrinkHead->forward(safeNorm(offsets))));   // [B, K+1]
    if (!inverse) {
        logSigma = -logSigma;
        offsets = offsets * (-logS).exp().view({1, -1, 1});
    }
    clouds = clouds * logSigma.exp().view({-1, 1, numAugmented + 1, 1});
    torch::Tensor newCentres = torch::cat({origin, origin + offsets}, 1);
    torch::Tensor logDet = double(d) * logS.sum() * (inverse ? 1.0 : -1.0) + double((n - 1) * d) * logSigma.sum(1);
    return {clouds + newCentres.unsqueeze(1), logDet};
}

} // namespace bg
