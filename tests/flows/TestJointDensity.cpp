// FlowTargetDensity: the joint (x, a) densities AIS moves between, with their gradients.

#include "bg/JointDensity.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace bg;

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

// u(x) = 0.5 k sum_i |x_i - xbar|^2 in closed form, with its reduced force.
class HarmonicTarget : public Target {
public:
    HarmonicTarget(int n, int d, double k) : n(n), d(d), k(k) {}
    int numParticles() const override {
        return n;
    }
    int dimension() const override {
        return d;
    }
    EnergyEvaluation evaluate(const torch::Tensor& x, bool forces) override {
        torch::Tensor x64 = x.to(torch::kFloat64);
        torch::Tensor centred = x64 - x64.mean(1, true);
        EnergyEvaluation e;
        e.valid = torch::isfinite(x64).all(2).all(1);
        e.energy = torch::where(e.valid, 0.5 * k * centred.square().sum({1, 2}), torch::full({x.size(0)}, INFINITY, f64));
        if (forces)
            e.forces = torch::where(e.valid.view({-1, 1, 1}), -k * centred, torch::zeros_like(centred));
        return e;
    }

private:
    int n, d;
    double k;
};

AugmentedCouplingFlow smallFlow() {
    FlowConfig c;
    c.numParticles = 4;
    c.dimension = 3;
    c.numBlocks = 2;
    c.egnnLayers = 1;
    c.egnnWidth = 16;
    c.invariantFeatures = 8;
    c.headWidths = {16};
    c.identityInit = false;
    c.dtype = "float64";
    c.eta = 0.4;
    torch::manual_seed(3);
    return AugmentedCouplingFlow(c);
}

} // namespace

TEST(FlowTargetDensity, ValuesAndGradientsMatchAutograd) {
    AugmentedCouplingFlow flow = smallFlow();
    HarmonicTarget target(4, 3, 2.0);
    FlowTargetDensity density(flow, target);
    EXPECT_EQ(density.dimension(), 4 * 3 * 2);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(4);
    auto [z, logQ] = density.sample(5, gen);
    JointEvaluation e = density.evaluate(z, true);
    EXPECT_TRUE(e.valid.all().item<bool>());
    EXPECT_LT((e.logQ - logQ).abs().max().item<double>(), 1e-10);
    // Reference: everything by autograd on the flat point.
    torch::Tensor zg = z.clone().requires_grad_(true);
    auto [x, a] = density.unflatten(zg);
    torch::Tensor refQ = flow->logProb(x, a);
    torch::Tensor centred = x - x.mean(1, true);
    torch::Tensor refP = -0.5 * 2.0 * centred.square().sum({1, 2}) + flow->augmentedTarget().logProb(a, x);
    torch::Tensor gradQ = torch::autograd::grad({refQ.sum()}, {zg}, {}, true)[0];
    torch::Tensor gradP = torch::autograd::grad({refP.sum()}, {zg})[0];
    EXPECT_LT((e.logP - refP.detach()).abs().max().item<double>(), 1e-10);
    EXPECT_LT((e.gradLogQ - gradQ).abs().max().item<double>(), 1e-9);
    EXPECT_LT((e.gradLogP - gradP).abs().max().item<double>(), 1e-9);
    // The flow's parameter gradients are not touched by the input gradients.
    for (auto& p : flow->parameters())
        EXPECT_FALSE(p.grad().defined() && p.grad().abs().sum().item<double>() > 0);
}

TEST(FlowTargetDensity, ChunkedEvaluationAndInvalidRows) {
    AugmentedCouplingFlow flow = smallFlow();
    HarmonicTarget target(4, 3, 1.0);
    FlowTargetDensity whole(flow, target), chunked(flow, target, 3);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
    auto [z, logQ] = whole.sample(8, gen);
    z[2][5] = std::nan("");
    JointEvaluation a = whole.evaluate(z, true), b = chunked.evaluate(z, true);
    EXPECT_FALSE(a.valid[2].item<bool>());
    EXPECT_EQ(a.valid.sum().item<int64_t>(), 7);
    EXPECT_TRUE(torch::equal(a.valid, b.valid));
    EXPECT_TRUE(torch::isfinite(a.gradLogQ).all().item<bool>());
    EXPECT_EQ(a.gradLogP[2].abs().sum().item<double>(), 0.0);
    torch::Tensor ok = a.valid;
    EXPECT_LT((a.logQ.masked_select(ok) - b.logQ.masked_select(ok)).abs().max().item<double>(), 1e-10);   // float64; chunk size changes the summation order
    EXPECT_LT((a.gradLogQ - b.gradLogQ).abs().max().item<double>(), 1e-9);   // other batch shapes, other summation order
    HarmonicTarget wrong(5, 3, 1.0);
    EXPECT_THROW(FlowTargetDensity(flow, wrong), std::invalid_argument);
    EXPECT_THROW(whole.evaluate(torch::zeros({2, 5}, f64), false), std::invalid_argument);
}
