#include "bg/JointDensity.h"

#include <torch/torch.h>

#include <stdexcept>

namespace bg {

FlowTargetDensity::FlowTargetDensity(AugmentedCouplingFlow flow, Target& target, int64_t maxBatch)
        : flow(flow), target(target), maxBatch(maxBatch) {
    const FlowConfig& c = flow->getConfig();
    if (target.numParticles() != c.numParticles || target.dimension() != c.dimension)
        throw std::invalid_argument("FlowTargetDensity: the target has " + std::to_string(target.numParticles()) + " particles in " +
                                    std::to_string(target.dimension()) + "D but the flow models " + std::to_string(c.numParticles) +
                                    " in " + std::to_string(c.dimension) + "D");
    if (maxBatch < 0)
        throw std::invalid_argument("FlowTargetDensity: maxBatch must not be negative");
}

int64_t FlowTargetDensity::dimension() const {
    const FlowConfig& c = flow->getConfig();
    return int64_t(c.numParticles) * c.dimension * (c.numAugmented + 1);
}

torch::Tensor FlowTargetDensity::flatten(const torch::Tensor& x, const torch::Tensor& a) {
    const int64_t b = x.size(0);
    return torch::cat({x.reshape({b, -1}), a.reshape({b, -1})}, 1).to(torch::kCPU, torch::kFloat64);
}

std::pair<torch::Tensor, torch::Tensor> FlowTargetDensity::unflatten(const torch::Tensor& z) const {
    const FlowConfig& c = flow->getConfig();
    const int64_t b = z.size(0), nd = int64_t(c.numParticles) * c.dimension;
    const auto dtype = c.dtype == "float64" ? torch::kFloat64 : torch::kFloat32;
    const torch::Device device = flow->device();
    torch::Tensor x = z.narrow(1, 0, nd).reshape({b, c.numParticles, c.dimension}).to(device, dtype);
    torch::Tensor a = z.narrow(1, nd, z.size(1) - nd).reshape({b, c.numAugmented, c.numParticles, c.dimension}).to(device, dtype);
    return {x, a};
}

std::pair<torch::Tensor, torch::Tensor> FlowTargetDensity::sample(int64_t n, at::Generator& generator) {
    torch::NoGradGuard noGrad;
    FlowSample s = flow->sample(n, generator);
    return {flatten(s.x, s.a), s.logProb.to(torch::kCPU, torch::kFloat64)};
}

JointEvaluation FlowTargetDensity::evaluate(const torch::Tensor& z, bool computeGradients) {
    if (z.dim() != 2 || z.size(1) != dimension())
        throw std::invalid_argument("FlowTargetDensity::evaluate: z must have shape [B, " + std::to_string(dimension()) + "]");
    const int64_t b = z.size(0);
    if (maxBatch == 0 || b <= maxBatch)
        return evaluateChunk(z, computeGradients);
    std::vector<JointEvaluation> parts;
    for (int64_t start = 0; start < b; start += maxBatch)
        parts.push_back(evaluateChunk(z.narrow(0, start, std::min(maxBatch, b - start)), computeGradients));
    auto gather = [&](torch::Tensor JointEvaluation::*field) {
        std::vector<torch::Tensor> pieces;
        for (auto& p : parts)
            pieces.push_back(p.*field);
        return torch::cat(pieces);
    };
    JointEvaluation all;
    all.logQ = gather(&JointEvaluation::logQ);
    all.logP = gather(&JointEvaluation::logP);
    all.valid = gather(&JointEvaluation::valid);
    if (computeGradients) {
        all.gradLogQ = gather(&JointEvaluation::gradLogQ);
        all.gradLogP = gather(&JointEvaluation::gradLogP);
    }
    return all;
}

JointEvaluation FlowTargetDensity::evaluateChunk(const torch::Tensor& z, bool computeGradients) {
    JointEvaluation result;
    auto [x, a] = unflatten(z.detach());
    const int64_t b = z.size(0);
    // Target: -u(x) and its forces, outside autograd; then log pi(a|x) in closed form.
    EnergyEvaluation energy = target.evaluate(x, computeGradients);
    torch::Tensor x64 = x.to(torch::kCPU, torch::kFloat64), a64 = a.to(torch::kCPU, torch::kFloat64);
    const double eta = flow->augmentedTarget().getEta();
    torch::Tensor logPi = flow->augmentedTarget().logProb(a64, x64);
    result.logP = -energy.energy.to(torch::kFloat64) + logPi;
    if (computeGradients) {
        // d log pi / da = -(a - x)/eta^2; d log pi / dx = sum_k (a_k - x)/eta^2.
        torch::Tensor diff = (a64 - x64.unsqueeze(1)) / (eta * eta);
        torch::Tensor gradX = energy.forces.to(torch::kFloat64) + diff.sum(1);
        result.gradLogP = torch::cat({gradX.reshape({b, -1}), (-diff).reshape({b, -1})}, 1);
        // Flow: autograd with respect to the inputs only.
        torch::AutoGradMode enable(true);
        torch::Tensor xg = x.detach().requires_grad_(true), ag = a.detach().requires_grad_(true);
        torch::Tensor logQ = flow->logProb(xg, ag);
        auto grads = torch::autograd::grad({logQ.sum()}, {xg, ag}, {}, false, false, true);
        torch::Tensor gx = grads[0].defined() ? grads[0] : torch::zeros_like(xg);
        torch::Tensor ga = grads[1].defined() ? grads[1] : torch::zeros_like(ag);
        result.gradLogQ = torch::cat({gx.reshape({b, -1}), ga.reshape({b, -1})}, 1).to(torch::kCPU, torch::kFloat64);
        result.logQ = logQ.detach().to(torch::kCPU, torch::kFloat64);
    }
    else {
        torch::NoGradGuard noGrad;
        result.logQ = flow->logProb(x, a).to(torch::kCPU, torch::kFloat64);
    }
    torch::Tensor valid = energy.valid.to(torch::kBool) & torch::isfinite(result.logQ) & torch::isfinite(result.logP);
    if (computeGradients) {
        valid = valid & torch::isfinite(result.gradLogQ).all(1) & torch::isfinite(result.gradLogP).all(1);
        // Invalid rows carry zero gradients so that nothing non-finite leaks into later arithmetic.
        result.gradLogQ = torch::where(valid.unsqueeze(1), result.gradLogQ, torch::zeros_like(result.gradLogQ));
        result.gradLogP = torch::where(valid.unsqueeze(1), result.gradLogP, torch::zeros_like(result.gradLogP));
    }
    result.valid = valid;
    return result;
}

} // namespace bg
