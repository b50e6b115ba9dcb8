// The whole E-ACF: exact invertibility, invariance of log q, sampling equivariance, identity at
// initialisation, coupling log-dets against autograd, marginal likelihood, save/load; each with
// and without the scaling blocks of model-spec 6 (whose own tests are in TestScalingBlock.cpp).

#include "FlowTestUtilities.h"
#include "bg/AugmentedCouplingFlow.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>

using namespace bg;
using bgtest::f64;

namespace {

using Case = bgtest::ProjectionCase;
using bgtest::caseName;

// A small float64 flow whose heads are not zero, so every layer does something.
FlowConfig smallConfig(const Case& c, int numAugmented = 1) {
    FlowConfig config;
    config.numParticles = 5;
    config.dimension = c.dimension;
    config.numAugmented = numAugmented;
    config.projection = c.projection;
    config.innerTransform = c.transform;
    config.scalingBlock = c.scalingBlock;
    config.numBlocks = 2;
    config.egnnLayers = 2;
    config.egnnWidth = 16;
    config.invariantFeatures = 16;
    config.headWidths = {16, 16};
    config.identityInit = false;
    config.dtype = "float64";
    config.eta = 0.3;
    return config;
}

// Make the randomly initialised flow clearly non-trivial (the heads start with scale 0.1, the
// scaling blocks, if any, as the identity).
void perturb(AugmentedCouplingFlow& flow, double scale) {
    torch::NoGradGuard noGrad;
    for (auto& p : flow->named_parameters())
        if (p.key().find("heads") != std::string::npos || p.key().rfind("scalings.", 0) == 0)
            p.value().add_(scale * torch::randn_like(p.value()));
}

double maxAbs(const torch::Tensor& t) {
    return t.abs().max().item<double>();
}

class FlowTest : public ::testing::TestWithParam<Case> {
protected:
    void SetUp() override {
        torch::manual_seed(42);
        flow = AugmentedCouplingFlow(smallConfig(GetParam()));
        perturb(flow, 0.05);
    }
    AugmentedCouplingFlow flow{nullptr};
};

} // namespace

TEST_P(FlowTest, SampleThenLogProbIsExact) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
    FlowSample s = flow->sample(32, gen);
    ASSERT_EQ(s.x.sizes(), (std::vector<int64_t>{32, 5, GetParam().dimension}));
    EXPECT_LT(maxAbs(s.x.mean(1)), 1e-12);                       // zero centre of mass
    EXPECT_TRUE(torch::isfinite(s.logProb).all().item<bool>());
    torch::Tensor logProb = flow->logProb(s.x, s.a);
    EXPECT_LT(maxAbs(logProb - s.logProb), 1e-10);
}

TEST_P(FlowTest, InverseUndoesForward) {
    ZeroCoMGaussian base(5, GetParam().dimension);
    torch::Tensor x0 = base.sample(16, f64);
    torch::Tensor a0 = flow->augmentedTarget().sample(x0, 1);
    FlowTransform out = flow->forward(x0, a0);
    EXPECT_GT(maxAbs(out.x - x0), 1e-3);                          // not the identity
    FlowTransform back = flow->inverse(out.x, out.a);
    EXPECT_LT(maxAbs(back.x - x0), 1e-10);
    EXPECT_LT(maxAbs(back.a - a0), 1e-10);
    EXPECT_LT(maxAbs(back.logDet + out.logDet), 1e-9);
}

TEST_P(FlowTest, LogProbIsInvariant) {
    const int d = GetParam().dimension;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(4);
    FlowSample s = flow->sample(16, gen);
    torch::NoGradGuard noGrad;
    torch::Tensor reference = flow->logProb(s.x, s.a);
    torch::Tensor rotation = bgtest::randomRotation(d);
    torch::Tensor shift = 3.0 * torch::randn({d}, f64);
    torch::Tensor xr = torch::matmul(s.x, rotation.t()) + shift, ar = torch::matmul(s.a, rotation.t()) + shift;
    EXPECT_LT(maxAbs(flow->logProb(xr, ar) - reference), 1e-9) << "rotation + translation";
    torch::Tensor perm = torch::tensor({3, 0, 4, 1, 2}, torch::kInt64);
    EXPECT_LT(maxAbs(flow->logProb(s.x.index_select(1, perm), s.a.index_select(2, perm)) - reference), 1e-9) << "permutation";
}

TEST_P(FlowTest, OnlyTheVectorProjectionIsBlindToReflections) {
    // A reflection is an isometry but not a rotation. The EGNN and the radial-only vector projection
    // are E(n)-equivariant, so log q of mirror images agrees; the Cartesian and spherical frames take
    // their last axis from a cross product (2D: a quarter turn), which a reflection reverses, so
    // log q tells the two enantiomers apart and a flow can learn a chirality (README, ALDP).
    const int d = GetParam().dimension;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(6);
    FlowSample s = flow->sample(16, gen);
    torch::NoGradGuard noGrad;
    torch::Tensor mirror = torch::ones({d}, f64);
    mirror[0] = -1.0;
    torch::Tensor difference = (flow->logProb(s.x * mirror, s.a * mirror) - flow->logProb(s.x, s.a)).abs();
    if (GetParam().projection == Projection::Vector)
        EXPECT_LT(difference.max().item<double>(), 1e-9);
    else
        EXPECT_GT(difference.median().item<double>(), 1e-3);
}

TEST_P(FlowTest, SamplingIsEquivariant) {
    // Rotating the base sample rotates the flow's output and leaves log q unchanged.
    const int d = GetParam().dimension;
    ZeroCoMGaussian base(5, d);
    torch::Tensor x0 = base.sample(8, f64);
    torch::Tensor a0 = flow->augmentedTarget().sample(x0, 1);
    torch::Tensor rotation = bgtest::randomRotation(d);
    torch::NoGradGuard noGrad;
    FlowTransform plain = flow->forward(x0, a0);
    FlowTransform rotated = flow->forward(torch::matmul(x0, rotation.t()), torch::matmul(a0, rotation.t()));
    EXPECT_LT(maxAbs(rotated.x - torch::matmul(plain.x, rotation.t())), 1e-9);
    EXPECT_LT(maxAbs(rotated.a - torch::matmul(plain.a, rotation.t())), 1e-9);
    EXPECT_LT(maxAbs(rotated.logDet - plain.logDet), 1e-9);
}

TEST_P(FlowTest, CouplingLogDetMatchesAutograd) {
    // The swap=false coupling leaves the conditioning slots unchanged, so the log|det| of its full
    // Jacobian over z equals that of the transformed group; compare with autograd. With three
    // augmented sets both groups have two slots.
    for (int numAugmented : {1, 3}) {
        FlowConfig config = smallConfig(GetParam(), numAugmented);
        torch::manual_seed(7);
        CouplingLayer layer(config, false);
        {
            torch::NoGradGuard noGrad;
            for (auto& p : layer->named_parameters())
                if (p.key().find("heads") != std::string::npos)
                    p.value().add_(0.05 * torch::randn_like(p.value()));
        }
        layer->to(torch::kFloat64);
        const int64_t n = 5, slots = numAugmented + 1, d = GetParam().dimension;
        torch::Tensor z = torch::randn({4, n, slots, d}, f64);
        torch::Tensor features = torch::arange(n, torch::kInt64);
        for (bool inverse : {false, true}) {
            auto [out, logDet] = layer->forward(z, features, inverse);
            torch::Tensor expected = bgtest::autogradLogDet(
                    [&](const torch::Tensor& flat) { return layer->forward(flat.view({4, n, slots, d}), features, inverse).first.reshape({4, -1}); },
                    z.reshape({4, -1}));
            EXPECT_LT(maxAbs(logDet - expected), 1e-8) << "K=" << numAugmented << (inverse ? " inverse" : " forward");
        }
    }
}

TEST_P(FlowTest, IdentityAtInitialisation) {
    FlowConfig config = smallConfig(GetParam());
    config.identityInit = true;
    AugmentedCouplingFlow identity(config);
    ZeroCoMGaussian base(5, config.dimension);
    torch::Tensor x0 = base.sample(8, f64);
    torch::Tensor a0 = identity->augmentedTarget().sample(x0, 1);
    FlowTransform out = identity->forward(x0, a0);
    EXPECT_LT(maxAbs(out.x - x0), 1e-12);
    EXPECT_LT(maxAbs(out.a - a0), 1e-12);
    EXPECT_LT(maxAbs(out.logDet), 1e-12);
    // Then q(x, a) = q0(x) pi(a|x), and the marginal estimate is exactly log q0(x) for any M.
    torch::Tensor marginal = identity->marginalLogProb(x0, 5);
    EXPECT_LT(maxAbs(marginal - base.logProb(x0)), 1e-10);
}

TEST_P(FlowTest, SaveAndLoadReproduceLogProb) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
    FlowSample s = flow->sample(8, gen);
    std::string bytes = saveFlow(flow);
    AugmentedCouplingFlow copy = loadFlow(bytes);
    EXPECT_EQ(copy->getConfig().toJson(), flow->getConfig().toJson());
    EXPECT_TRUE(torch::equal(copy->logProb(s.x, s.a), flow->logProb(s.x, s.a)));
    std::string path = ::testing::TempDir() + "/flow_" + caseName(GetParam()) + ".bgflow";
    saveFlowToFile(flow, path);
    AugmentedCouplingFlow fromFile = loadFlowFromFile(path);
    EXPECT_TRUE(torch::equal(fromFile->logProb(s.x, s.a), flow->logProb(s.x, s.a)));
    std::remove(path.c_str());
    EXPECT_THROW(loadFlow("not a flow"), std::invalid_argument);
    EXPECT_THROW(loadFlow(bytes.substr(0, bytes.size() / 2)), std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(AllProjections, FlowTest,
                         ::testing::Values(Case{Projection::Vector, InnerTransform::Spline, 2},
                                           Case{Projection::Vector, InnerTransform::Spline, 3},
                                           Case{Projection::Cartesian, InnerTransform::Affine, 2},
                                           Case{Projection::Cartesian, InnerTransform::Affine, 3},
                                           Case{Projection::Cartesian, InnerTransform::Spline, 3},
                                           Case{Projection::Spherical, InnerTransform::Spline, 2},
                                           Case{Projection::Spherical, InnerTransform::Spline, 3},
                                           Case{Projection::Spherical, InnerTransform::Spline, 3, true},
                                           Case{Projection::Vector, InnerTransform::Spline, 2, true}),
                         [](const ::testing::TestParamInfo<Case>& info) { return caseName(info.param); });

TEST(AugmentedCouplingFlow, MultipleAugmentedSetsAndFloat32) {
    FlowConfig config = smallConfig({Projection::Spherical, InnerTransform::Spline, 3}, 3);
    config.dtype = "float32";
    torch::manual_seed(11);
    AugmentedCouplingFlow flow(config);
    FlowSample s = flow->sample(16);
    EXPECT_EQ(s.x.dtype(), torch::kFloat32);
    EXPECT_EQ(s.a.sizes(), (std::vector<int64_t>{16, 3, 5, 3}));
    EXPECT_LT((flow->logProb(s.x, s.a) - s.logProb).abs().max().item<double>(), 1e-3);
    EXPECT_GE(flow->auxLoss().item<double>(), 0.0);
}

TEST(AugmentedCouplingFlow, Float64WithParticleEmbeddings) {
    // Per-atom embeddings index a table with integer node features; converting the module to
    // float64 (at construction or by the caller) must leave them usable.
    FlowConfig config = smallConfig({Projection::Spherical, InnerTransform::Spline, 3});
    config.numEmbeddings = 3;
    config.embeddingDim = 4;
    config.particleTypes = {0, 1, 2, 1, 0};
    torch::manual_seed(12);
    AugmentedCouplingFlow flow(config);
    perturb(flow, 0.05);
    FlowSample s = flow->sample(8);
    EXPECT_EQ(s.x.dtype(), torch::kFloat64);
    EXPECT_LT((flow->logProb(s.x, s.a) - s.logProb).abs().max().item<double>(), 1e-10);
    flow->to(torch::kFloat64);
    EXPECT_LT((flow->logProb(s.x, s.a) - s.logProb).abs().max().item<double>(), 1e-10);
}

TEST(AugmentedCouplingFlow, BlocksStartWithIdenticalWeights) {
    FlowConfig config = smallConfig({Projection::Vector, InnerTransform::Spline, 2});
    config.numBlocks = 3;
    AugmentedCouplingFlow flow(config);
    auto params = flow->named_parameters();
    for (auto& p : params) {
        std::string key = p.key();
        if (key.rfind("layers.0.", 0) != 0)
            continue;
        std::string rest = key.substr(std::string("layers.0.").size());
        EXPECT_TRUE(torch::equal(p.value(), params["layers.4." + rest])) << key;
    }
}

TEST(AugmentedCouplingFlow, RejectsWrongShapes) {
    AugmentedCouplingFlow flow(smallConfig({Projection::Vector, InnerTransform::Spline, 2}));
    EXPECT_THROW(flow->logProb(torch::zeros({2, 4, 2}, f64), torch::zeros({2, 1, 4, 2}, f64)), std::invalid_argument);
    EXPECT_THROW(flow->logProb(torch::zeros({2, 5, 2}, f64), torch::zeros({2, 2, 5, 2}, f64)), std::invalid_argument);
}
