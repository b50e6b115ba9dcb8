#include "bg/Evaluation.h"

#include "bg/Metrics.h"
#include "bg/ModelAdapters.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace bg {

namespace {

torch::Tensor cpu64(const torch::Tensor& t) {
    return t.to(torch::kCPU, torch::kFloat64);
}

/** Log-weights with -inf where the target reports an invalid configuration or the weight is not finite. */
torch::Tensor validLogWeights(const torch::Tensor& logW, const torch::Tensor& valid) {
    return torch::where(valid & torch::isfinite(logW), logW, torch::full_like(logW, -INFINITY));
}

/** Flow samples and their reverse-ESS figures (see evaluateFlow()). */
void reverseFigures(GenerativeModel& model, Target* target, const EvaluationOptions& options, torch::Generator& generator,
                    NamedValues& values, EvaluationSamples* samples) {
    const int64_t chunk = std::max<int64_t>(1, options.batchSize);
    std::vector<torch::Tensor> xs, logQs, logWs, multiDrawLogWs;
    const bool multiDraw = options.weightDraws > 1 && model.augmented();
    int64_t evaluations = 0, solves = 0;
    double seconds = 0;
    for (int64_t start = 0; start < options.flowSamples; start += chunk) {
        const auto t0 = std::chrono::steady_clock::now();
        ModelSample s = model.sample(std::min(chunk, options.flowSamples - start), generator);
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        evaluations += s.evaluations;
        solves++;
        torch::Tensor logQ = cpu64(s.logQ);
        xs.push_back(s.x.to(torch::kCPU));
        logQs.push_back(logQ);
        if (target != nullptr) {
            EnergyEvaluation e = target->evaluate(s.x, false);
            // -u + log pi(a|x) - log q(x, a), in this order (the E-CNF has no log pi term).
            torch::Tensor logW = -e.energy;
            if (s.logAugmented.defined())
                logW = logW + cpu64(s.logAugmented);
            logW = logW - logQ;
            logWs.push_back(validLogWeights(logW, e.valid));
            if (multiDraw)
                multiDrawLogWs.push_back(validLogWeights(-e.energy - cpu64(multiDrawLogProposal(model, s, options.weightDraws, generator)), e.valid));
        }
    }
    torch::Tensor logW = target != nullptr ? torch::cat(logWs) : torch::Tensor();
    if (target != nullptr) {
        values.emplace_back("reverse_ess", reverseEss(logW));
        values.emplace_back("flow_invalid_fraction", (~torch::isfinite(logW)).to(torch::kFloat64).mean().item<double>());
    }
    if (multiDraw && target != nullptr) {
        logW = torch::cat(multiDrawLogWs);
        values.emplace_back("reverse_ess_draws", reverseEss(logW));
    }
    if (evaluations > 0) {   // an ODE model: the cost of sampling with densities
        values.emplace_back("sample_seconds_per_1024", seconds * 1024.0 / double(options.flowSamples));
        values.emplace_back("sample_nfe", double(evaluations) / double(solves));
    }
    if (samples != nullptr)
        *samples = {torch::cat(xs), torch::cat(logQs), logW};
}

/** Figures on the test configurations (see evaluateFlow()). */
void testFigures(GenerativeModel& model, const torch::Tensor& testData, Target* target, const EvaluationOptions& options,
                 torch::Generator& generator, NamedValues& values) {
    const int64_t chunk = std::max<int64_t>(1, options.batchSize);
    int64_t n = testData.size(0);
    if (options.testSamples > 0)
        n = std::min(n, options.testSamples);
    torch::Tensor x = testData.narrow(0, 0, n).to(model.device(), model.dtype());
    x = x - x.mean(1, true);
    // The E-ACF's marginal estimate takes M draws per row; an exact marginal is also the proposal density.
    const bool augmented = model.augmented();
    std::vector<torch::Tensor> marginals, joints, forwardWs;
    const int64_t marginalChunk = augmented ? std::max<int64_t>(1, chunk / options.marginalDraws) : chunk;
    for (int64_t start = 0; start < n; start += marginalChunk)
        marginals.push_back(
                cpu64(model.marginalLogProb(x.narrow(0, start, std::min(marginalChunk, n - start)), options.marginalDraws, generator)));
    for (int64_t start = 0, k = 0; start < n; start += chunk, k++) {
        torch::Tensor xc = x.narrow(0, start, std::min(chunk, n - start));
        ModelDensity d;
        if (augmented) {
            ModelDensity drawn = model.proposalLogProb(xc, generator);
            d = {cpu64(drawn.logQ), cpu64(drawn.logAugmented)};
        }
        else {
            d.logQ = marginals[size_t(k)];
        }
        joints.push_back(d.logQ);
        if (target != nullptr) {
            EnergyEvaluation e = target->evaluate(xc, false);
            torch::Tensor logW = -e.energy - d.logProposal();
            forwardWs.push_back(torch::where(e.valid, logW, torch::full_like(logW, NAN)));
        }
    }
    values.emplace_back("test_nll", -torch::cat(marginals).mean().item<double>());
    values.emplace_back("test_mean_log_q", torch::cat(joints).mean().item<double>());
    if (target != nullptr)
        values.emplace_back("test_forward_ess", forwardEss(torch::cat(forwardWs)));
}

} // namespace

NamedValues evaluateFlow(GenerativeModel& model, const torch::Tensor& testData, Target* target, const EvaluationOptions& options,
                         torch::Generator& generator, EvaluationSamples* samples) {
    if (options.weightDraws < 1)
        throw std::invalid_argument("evaluateFlow: weightDraws must be at least 1, got " + std::to_string(options.weightDraws));
    torch::NoGradGuard noGrad;
    NamedValues values;
    if (options.flowSamples > 0 && (target != nullptr || samples != nullptr))
        reverseFigures(model, target, options, generator, values, samples);
    if (testData.defined() && testData.numel() > 0)
        testFigures(model, testData, target, options, generator, values);
    return values;
}

NamedValues evaluateFlow(AugmentedCouplingFlow& flow, const torch::Tensor& testData, Target* target, const EvaluationOptions& options,
                         torch::Generator& generator, EvaluationSamples* samples) {
    CouplingFlowModel model(flow);
    return evaluateFlow(model, testData, target, options, generator, samples);
}

} // namespace bg
