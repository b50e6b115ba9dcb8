// FlowConfig: JSON round trip and validation; the conditional Gaussian of the augmented variables.

#include "FlowTestUtilities.h"
#include "bg/ConditionalGaussian.h"
#include "bg/FlowConfig.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace bg;
using bgtest::f64;

TEST(FlowConfig, JsonRoundTripKeepsEveryField) {
    FlowConfig c;
    c.numParticles = 22;
    c.dimension = 3;
    c.numAugmented = 3;
    c.projection = Projection::Cartesian;
    c.innerTransform = InnerTransform::Affine;
    c.splineBins = 5;
    c.radiusMax = 7.5;
    c.cartesianRange = 4.0;
    c.numBlocks = 20;
    c.numInnerTransforms = 2;
    c.egnnLayers = 2;
    c.egnnWidth = 128;
    c.invariantFeatures = 32;
    c.headWidths = {16, 16, 16};
    c.eta = 0.5;
    c.auxLossWeight = 1.0;
    c.numEmbeddings = 22;
    c.embeddingDim = 8;
    c.particleTypes = std::vector<int>(22, 3);
    c.identityInit = false;
    c.dtype = "float64";
    FlowConfig d = FlowConfig::fromJson(c.toJson());
    EXPECT_EQ(d.toJson(), c.toJson());
    EXPECT_EQ(d.numParticles, 22);
    EXPECT_EQ(d.projection, Projection::Cartesian);
    EXPECT_EQ(d.innerTransform, InnerTransform::Affine);
    EXPECT_EQ(d.headWidths, (std::vector<int>{16, 16, 16}));
    EXPECT_DOUBLE_EQ(d.eta, 0.5);
    EXPECT_FALSE(d.identityInit);
    EXPECT_EQ(d.dtype, "float64");
}

TEST(FlowConfig, MissingKeysKeepDefaultsAndInnerTransformsResolve) {
    FlowConfig d = FlowConfig::fromJson(R"({"dimension": 3, "numParticles": 13, "projection": "vector"})");
    EXPECT_EQ(d.numBlocks, 12);
    EXPECT_EQ(d.resolvedInnerTransforms(), 3);
    d.projection = Projection::Spherical;
    EXPECT_EQ(d.resolvedInnerTransforms(), 1);
}

TEST(FlowConfig, RejectsBadConfigurations) {
    auto bad = [](auto change) {
        FlowConfig c;
        change(c);
        EXPECT_THROW(c.validate(), std::invalid_argument);
    };
    bad([](FlowConfig& c) { c.numAugmented = 2; });
    bad([](FlowConfig& c) { c.dimension = 4; });
    bad([](FlowConfig& c) { c.dimension = 1; });
    bad([](FlowConfig& c) { c.numParticles = 1; });
    bad([](FlowConfig& c) { c.splineBins = 1; });
    bad([](FlowConfig& c) { c.eta = 0; });
    bad([](FlowConfig& c) { c.innerTransform = InnerTransform::Affine; });   // spherical needs splines
    bad([](FlowConfig& c) { c.headWidths = {64, 32}; });
    bad([](FlowConfig& c) { c.dtype = "float16"; });
    bad([](FlowConfig& c) { c.numEmbeddings = 2; c.particleTypes = {0, 1, 2, 0}; });   // type out of range
    bad([](FlowConfig& c) { c.numEmbeddings = 2; c.particleTypes = {0, 1}; });         // wrong length
    EXPECT_THROW(FlowConfig::fromJson(R"({"numAugmented": 2})"), std::invalid_argument);
    EXPECT_THROW(FlowConfig::fromJson(R"({"unknownKey": 1})"), std::invalid_argument);
    EXPECT_THROW(FlowConfig::fromJson(R"({"projection": "polar"})"), std::invalid_argument);
    EXPECT_THROW(FlowConfig::fromJson("not json"), std::invalid_argument);
    try {
        FlowConfig::fromJson(R"({"numAugmented": 4})");
    }
    catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("numAugmented"), std::string::npos) << e.what();
    }
}

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
