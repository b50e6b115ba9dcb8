// evaluateFlow: ESS figures are exactly 1 when the flow equals the target, and every figure agrees
// with a direct computation from the flow's own densities and the same random draws.

#include "TrainingTestUtilities.h"
#include "bg/AugmentedCouplingFlow.h"
#include "bg/Evaluation.h"
#include "bg/Metrics.h"
#include "bg/ModelAdapters.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

using namespace bg;

namespace {

std::map<std::string, double> asMap(const NamedValues& values) {
    std::map<std::string, double> m;
    for (const auto& [k, v] : values)
        m[k] = v;
    return m;
}

torch::Generator makeGenerator(uint64_t seed) {
    return at::make_generator<at::CPUGeneratorImpl>(seed);
}

} // namespace

TEST(Evaluation, EssIsOneWhenTheFlowIsTheTarget) {
    torch::set_num_threads(1);
    torch::manual_seed(3);
    // An identity-initialised flow is its base: a zero-CoM unit Gaussian over x, and a|x ~ pi(a|x).
    // The harmonic target with k = 1 is the same density up to a constant, so every log-weight is equal.
    AugmentedCouplingFlow flow(bgtest::tinyFlowConfig(3, 2));
    bgtest::HarmonicTarget target(3, 2);
    torch::Generator g = makeGenerator(1);
    torch::Tensor test = torch::randn({50, 3, 2}, torch::kFloat64);
    EvaluationOptions options;
    options.flowSamples = 200;
    options.batchSize = 64;
    options.marginalDraws = 4;
    auto m = asMap(evaluateFlow(flow, test, &target, options, g));
    EXPECT_NEAR(m.at("reverse_ess"), 1.0, 1e-10);
    EXPECT_NEAR(m.at("test_forward_ess"), 1.0, 1e-10);
    EXPECT_EQ(m.at("flow_invalid_fraction"), 0.0);
    // The marginal of the identity flow is the base density: NLL = mean 0.5 |x - xbar|^2 + (N-1) D/2 log 2 pi.
    torch::Tensor centred = test - test.mean(1, true);
    double expected = (0.5 * centred.square().sum({1, 2})).mean().item<double>() + 0.5 * 4 * std::log(2 * M_PI);
    EXPECT_NEAR(m.at("test_nll"), expected, 1e-9);
}

TEST(Evaluation, FiguresMatchADirectComputation) {
    torch::set_num_threads(1);
    torch::manual_seed(5);
    AugmentedCouplingFlow flow(bgtest::randomTinyFlowConfig(3, 2));   // a flow that differs from the target
    bgtest::HarmonicTarget target(3, 2, 0.7);
    torch::Tensor test = torch::randn({30, 3, 2}, torch::kFloat64) * 1.3 + 0.4;
    EvaluationOptions options;
    options.flowSamples = 100;
    options.batchSize = 1000;   // one pass each, so the draws below come in the same order
    options.marginalDraws = 5;
    torch::Generator g = makeGenerator(17);
    EvaluationSamples samples;
    auto m = asMap(evaluateFlow(flow, test, &target, options, g, &samples));

    torch::NoGradGuard noGrad;
    torch::Generator h = makeGenerator(17);
    const ConditionalGaussian& pi = flow->augmentedTarget();
    // Reverse ESS from flow samples.
    FlowSample s = flow->sample(100, h);
    torch::Tensor logW = -target.evaluate(s.x, false).energy + pi.logProb(s.a, s.x) - s.logProb;
    EXPECT_TRUE(torch::allclose(samples.x, s.x));
    EXPECT_TRUE(torch::allclose(samples.logWeights, logW));
    EXPECT_NEAR(m.at("reverse_ess"), reverseEss(logW), 1e-12);
    EXPECT_LT(m.at("reverse_ess"), 0.999);
    // Marginal NLL by hand: a_m ~ pi(.|x) for m = 1..M, logsumexp_m [log q(x, a_m) - log pi(a_m|x)] - log M.
    torch::Tensor x = test - test.mean(1, true);
    const int M = 5;
    torch::Tensor xs = x.repeat({M, 1, 1});
    torch::Tensor a = pi.sample(xs, 1, h);
    torch::Tensor w = (flow->logProb(xs, a) - pi.logProb(a, xs)).view({M, 30});
    torch::Tensor marginal = torch::logsumexp(w, 0) - std::log(double(M));
    EXPECT_NEAR(m.at("test_nll"), -marginal.mean().item<double>(), 1e-10);
    // Joint log q and forward ESS with one draw per test point.
    torch::Tensor a1 = pi.sample(x, 1, h);
    torch::Tensor logQ = flow->logProb(x, a1);
    EXPECT_NEAR(m.at("test_mean_log_q"), logQ.mean().item<double>(), 1e-10);
    torch::Tensor forwardW = -target.evaluate(x, false).energy - (logQ - pi.logProb(a1, x));
    EXPECT_NEAR(m.at("test_forward_ess"), forwardEss(forwardW), 1e-12);
    EXPECT_LT(m.at("test_forward_ess"), 0.999);
}

TEST(Evaluation, MultiDrawWeightsMatchADirectComputation) {
    // weightDraws = 4: the joint reverse ESS as before, and reverse_ess_draws and the samples'
    // log-weights from multiDrawLogProposal() over the same draws (one pass, no test data).
    torch::set_num_threads(1);
    torch::manual_seed(5);
    AugmentedCouplingFlow flow(bgtest::randomTinyFlowConfig(3, 2));
    bgtest::HarmonicTarget target(3, 2, 0.7);
    EvaluationOptions options;
    options.flowSamples = 200;
    options.weightDraws = 4;
    torch::Generator g = makeGenerator(23);
    EvaluationSamples samples;
    auto m = asMap(evaluateFlow(flow, torch::Tensor(), &target, options, g, &samples));

    torch::NoGradGuard noGrad;
    torch::Generator h = makeGenerator(23);
    CouplingFlowModel model(flow);
    ModelSample s = model.sample(200, h);
    torch::Tensor u = target.evaluate(s.x, false).energy;
    torch::Tensor joint = -u - s.logProposal(), drawn = -u - multiDrawLogProposal(model, s, 4, h);
    EXPECT_NEAR(m.at("reverse_ess"), reverseEss(joint), 1e-12);
    EXPECT_NEAR(m.at("reverse_ess_draws"), reverseEss(drawn), 1e-12);
    EXPECT_TRUE(torch::allclose(samples.logWeights, drawn));
    EXPECT_GT(m.at("reverse_ess_draws"), m.at("reverse_ess"));
    options.weightDraws = 0;
    EXPECT_THROW(evaluateFlow(flow, torch::Tensor(), &target, options, g), std::invalid_argument);
}

TEST(Evaluation, WithoutTargetOrTestData) {
    torch::set_num_threads(1);
    AugmentedCouplingFlow flow(bgtest::tinyFlowConfig());
    torch::Generator g = makeGenerator(2);
    EvaluationOptions options;
    options.flowSamples = 10;
    NamedValues none = evaluateFlow(flow, torch::Tensor(), nullptr, options, g);
    EXPECT_TRUE(none.empty());
    auto m = asMap(evaluateFlow(flow, torch::randn({6, 2, 2}, torch::kFloat64), nullptr, options, g));
    EXPECT_EQ(m.count("test_nll"), 1u);
    EXPECT_EQ(m.count("test_forward_ess"), 0u);
    EXPECT_EQ(m.count("reverse_ess"), 0u);
}
