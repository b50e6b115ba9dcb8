// The zero-centre-of-mass Gaussian base distribution of the flow.

#include "bg/ZeroCoMGaussian.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace bg;

namespace {
const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
}

TEST(ZeroCoMGaussian, SamplesHaveZeroCentreOfMass) {
    ZeroCoMGaussian base(5, 3);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
    torch::Tensor x = base.sample(64, f64, gen);
    ASSERT_EQ(x.sizes(), (std::vector<int64_t>{64, 5, 3}));
    EXPECT_LT(x.mean(1).abs().max().item<double>(), 1e-14);
}

TEST(ZeroCoMGaussian, IsNormalisedOnTheZeroCoMSubspace) {
    // N = 2, D = 2: the subspace is x = (u, -u)/sqrt(2) with u in R^2 and |x|^2 = |u|^2.
    // Integrate exp(log q0) over u on a grid; a normaliser counting N*D instead of (N-1)*D
    // dimensions would give 1/(2 pi).
    ZeroCoMGaussian base(2, 2);
    const int m = 321;
    const double h = 16.0 / (m - 1);
    torch::Tensor grid = torch::linspace(-8.0, 8.0, m, f64);
    std::vector<torch::Tensor> mesh = torch::meshgrid({grid, grid}, "ij");
    torch::Tensor u = torch::stack({mesh[0].flatten(), mesh[1].flatten()}, 1);   // [m*m, 2]
    torch::Tensor x = torch::stack({u / std::sqrt(2.0), -u / std::sqrt(2.0)}, 1);   // [m*m, 2, 2]
    double integral = base.logProb(x).exp().sum().item<double>() * h * h;
    EXPECT_NEAR(integral, 1.0, 1e-8);
}

TEST(ZeroCoMGaussian, LogProbMatchesTheClosedFormAndIgnoresTranslations) {
    ZeroCoMGaussian base(4, 3);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
    torch::Tensor x = base.sample(8, f64, gen);
    torch::Tensor expected = -0.5 * x.square().sum({1, 2}) - 0.5 * 9 * std::log(2 * M_PI);
    EXPECT_TRUE(torch::allclose(base.logProb(x), expected, 0, 1e-12));
    torch::Tensor shifted = x + torch::tensor({1.5, -2.0, 0.25}, f64);
    EXPECT_TRUE(torch::allclose(base.logProb(shifted), expected, 0, 1e-12));
}

TEST(ZeroCoMGaussian, SecondMomentEqualsTheDegreesOfFreedom) {
    // E|x|^2 = (N-1)*D for the projected standard Gaussian; 20000 samples give a relative
    // standard error of about sqrt(2/((N-1)D*20000)) = 0.3%.
    ZeroCoMGaussian base(13, 3);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
    torch::Tensor x = base.sample(20000, f64, gen);
    double meanSquare = x.square().sum({1, 2}).mean().item<double>();
    EXPECT_NEAR(meanSquare / base.getDegreesOfFreedom(), 1.0, 0.015);
}

TEST(ZeroCoMGaussian, RejectsBadShapes) {
    EXPECT_THROW(ZeroCoMGaussian(1, 3), std::invalid_argument);
    EXPECT_THROW(ZeroCoMGaussian(4, 4), std::invalid_argument);
    ZeroCoMGaussian base(4, 2);
    EXPECT_THROW(base.logProb(torch::zeros({3, 4, 3}, f64)), std::invalid_argument);
}
