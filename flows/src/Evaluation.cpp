#include "bg/Evaluation.h"

#include "bg/Metrics.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace bg {

NamedValues evaluateFlow(AugmentedCouplingFlow& flow, const torch::Tensor& testData, Target* target, const EvaluationOptions& options,
                         torch::Generator& generator, EvaluationSamples* samples) {
    torch::NoGradGuard noGrad;
    const FlowConfig& config = flow->getConfig();
    const auto dtype = config.dtype == "float64" ? torch::kFloat64 : torch::kFloat32;
    const int64_t chunk = std::max<int64_t>(1, options.batchSize);
    const ConditionalGaussian& pi = flow->augmentedTarget();
    NamedValues values;

    if (options.flowSamples > 0 && (target != nullptr || samples != nullptr)) {
        std::vector<torch::Tensor> xs, logQs, logWs;
        for (int64_t start = 0; start < options.flowSamples; start += chunk) {
            FlowSample s = flow->sample(std::min(chunk, options.flowSamples - start), generator);
            torch::Tensor logQ = s.logProb.to(torch::kCPU, torch::kFloat64);
            xs.push_back(s.x.to(torch::kCPU));
            logQs.push_back(logQ);
            if (target != nullptr) {
                EnergyEvaluation e = target->evaluate(s.x, false);
                torch::Tensor logW = -e.energy + pi.logProb(s.a, s.x).to(torch::kCPU, torch::kFloat64) - logQ;
                torch::Tensor ok = e.valid & torch::isfinite(logW);
                logWs.push_back(torch::where(ok, logW, torch::full_like(logW, -INFINITY)));
            }
        }
        torch::Tensor logW = target != nullptr ? torch::cat(logWs) : torch::Tensor();
        if (target != nullptr) {
            values.emplace_back("reverse_ess", reverseEss(logW));
            values.emplace_back("flow_invalid_fraction", (~torch::isfinite(logW)).to(torch::kFloat64).mean().item<double>());
        }
        if (samples != nullptr)
            *samples = {torch::cat(xs), torch::cat(logQs), logW};
    }

    if (testData.defined() && testData.numel() > 0) {
        int64_t n = testData.size(0);
        if (options.testSamples > 0)
            n = std::min(n, options.testSamples);
        torch::Tensor x = testData.narrow(0, 0, n).to(flow->device(), dtype);
        x = x - x.mean(1, true);
        std::vector<torch::Tensor> marginals, joints, forwardWs;
        const int64_t marginalChunk = std::max<int64_t>(1, chunk / options.marginalDraws);
        for (int64_t start = 0; start < n; start += marginalChunk)
            marginals.push_back(flow->marginalLogProb(x.narrow(0, start, std::min(marginalChunk, n - start)), options.marginalDraws, generator)
                                        .to(torch::kCPU, torch::kFloat64));
        for (int64_t start = 0; start < n; start += chunk) {
            torch::Tensor xc = x.narrow(0, start, std::min(chunk, n - start));
            torch::Tensor a = pi.sample(xc, config.numAugmented, generator);
            torch::Tensor logQ = flow->logProb(xc, a).to(torch::kCPU, torch::kFloat64);
            joints.push_back(logQ);
            if (target != nullptr) {
                EnergyEvaluation e = target->evaluate(xc, false);
                torch::Tensor logW = -e.energy - (logQ - pi.logProb(a, xc).to(torch::kCPU, torch::kFloat64));
                forwardWs.push_back(torch::where(e.valid, logW, torch::full_like(logW, NAN)));
            }
        }
        values.emplace_back("test_nll", -torch::cat(marginals).mean().item<double>());
        values.emplace_back("test_mean_log_q", torch::cat(joints).mean().item<double>());
        if (target != nullptr)
            values.emplace_back("test_forward_ess", forwardEss(torch::cat(forwardWs)));
    }
    return values;
}

} // namespace bg
