#include "bg/CnfEvaluation.h"

#include "bg/Metrics.h"

#include <torch/torch.h>

#include <chrono>
#include <limits>
#include <vector>

namespace bg {

namespace {

/** -u(x) - logQ in float64, -inf where the target reports an invalid configuration or log q is not finite. */
torch::Tensor logWeightsOf(Target& target, const torch::Tensor& x, const torch::Tensor& logQ) {
    EnergyEvaluation e = target.evaluate(x.detach().to(torch::kCPU, torch::kFloat64), false);
    torch::Tensor w = -e.energy - logQ.detach().to(torch::kCPU, torch::kFloat64);
    torch::Tensor ok = e.valid & torch::isfinite(w);
    return torch::where(ok, w, torch::full_like(w, -std::numeric_limits<double>::infinity()));
}

} // namespace

NamedValues evaluateCnf(EquivariantCnf& cnf, const torch::Tensor& testData, Target* target, const CnfEvaluationOptions& options,
                        torch::Generator& generator, torch::Tensor* samples, torch::Tensor* logWeights) {
    NamedValues values;
    const int64_t chunk = std::max<int64_t>(1, options.batchSize);
    if (target != nullptr && options.flowSamples > 0) {
        std::vector<torch::Tensor> xs, ws;
        int64_t evaluations = 0, solves = 0;
        const auto start = std::chrono::steady_clock::now();
        for (int64_t done = 0; done < options.flowSamples; done += chunk) {
            CnfSample s = cnf->sample(std::min(chunk, options.flowSamples - done), generator, true);
            xs.push_back(s.x.detach());
            ws.push_back(s.logProb.detach());
            evaluations += s.evaluations;
            solves++;
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        torch::Tensor x = torch::cat(xs), w = logWeightsOf(*target, x, torch::cat(ws));
        values.emplace_back("reverse_ess", reverseEss(w));
        values.emplace_back("flow_invalid_fraction", torch::isinf(w).to(torch::kFloat64).mean().item<double>());
        values.emplace_back("sample_seconds_per_1024", seconds * 1024.0 / options.flowSamples);
        values.emplace_back("sample_nfe", double(evaluations) / solves);
        if (samples != nullptr)
            *samples = x;
        if (logWeights != nullptr)
            *logWeights = w;
    }
    if (testData.defined() && testData.numel() > 0) {
        torch::Tensor test = options.testSamples > 0 ? testData.narrow(0, 0, std::min(options.testSamples, testData.size(0))) : testData;
        std::vector<torch::Tensor> logQs;
        for (int64_t start = 0; start < test.size(0); start += chunk)
            logQs.push_back(cnf->logProb(test.narrow(0, start, std::min(chunk, test.size(0) - start)), generator).detach());
        torch::Tensor logQ = torch::cat(logQs).to(torch::kCPU, torch::kFloat64);
        values.emplace_back("test_nll", -logQ.mean().item<double>());
        if (target != nullptr)
            values.emplace_back("test_forward_ess", forwardEss(logWeightsOf(*target, test, logQ)));
    }
    return values;
}

} // namespace bg
