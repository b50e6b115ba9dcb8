// The conditional Gaussian of the augmented variables, a ~ N(x, eta^2 I) (base and target).

#include "FlowTestUtilities.h"
#include "bg/ConditionalGaussian.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace bg;
using bgtest::f64;

TEST(ConditionalGaussian, MatchesTheClosedFormAndIsNormalised) {
    ConditionalGaussian g(0.3);
    torch::manual_seed(5);
    torch::Tensor x = torch::randn({4, 3, 2}, f64);
    torch::Tensor a = torch::randn({4, 2, 3, 2}, f64);
    // Independent Gaussians in all K*N*D = 12 coordinates.
    torch::Tensor expected = (-0.5 * (a - x.unsqueeze(1)).square() / 0.09 - std::log(0.3) - 0.5 * std::log(2 * M_PI)).sum({1, 2, 3});
    EXPECT_TRUE(torch::allclose(g.logProb(a, x), expected, 0, 1e-12));
    // One coordinate's density integrates to 1 (grid over +-10 eta).
    ConditionalGaussian one(0.3);
    torch::Tensor grid = torch::linspace(-3.0, 3.0, 6001, f64).view({-1, 1, 1, 1});
    torch::Tensor zero = torch::zeros({6001, 1, 1}, f64);
    double integral = one.logProb(grid, zero).exp().sum().item<double>() * (6.0 / 6000);
    EXPECT_NEAR(integral, 1.0, 1e-10);
}

TEST(ConditionalGaussian, SamplesHaveTheRightMeanAndSpread) {
    ConditionalGaussian g(0.1);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(9);
    torch::Tensor x = torch::randn({2000, 4, 3}, f64);
    torch::Tensor a = g.sample(x, 3, gen);
    ASSERT_EQ(a.sizes(), (std::vector<int64_t>{2000, 3, 4, 3}));
    torch::Tensor noise = a - x.unsqueeze(1);
    EXPECT_NEAR(noise.mean().item<double>(), 0.0, 0.002);       // 72000 draws: std of the mean 0.0004
    EXPECT_NEAR(noise.std().item<double>(), 0.1, 0.002);
    EXPECT_THROW(ConditionalGaussian(-1.0), std::invalid_argument);
}
