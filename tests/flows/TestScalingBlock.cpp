// The scaling block of model-spec 6: exact inverse, log-det against the autograd Jacobian,
// equivariance, identity at initialisation; in the E-ACF: one per block with the first block's
// weights, and flows saved before the setting existed. (The whole-flow tests of
// TestAugmentedCouplingFlow.cpp run with scaling blocks too.)

#include "FlowTestUtilities.h"
#include "TrainingTestUtilities.h"
#include "bg/AugmentedCouplingFlow.h"
#include "bg/ScalingBlock.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

using namespace bg;
using bgtest::f64;

namespace {

double maxAbs(const torch::Tensor& t) {
    return t.abs().max().item<double>();
}

/** A float64 block whose theta and head are clearly non-zero. */
ScalingBlock perturbedBlock(int numAugmented) {
    ScalingBlock block(numAugmented, true);
    block->to(torch::kFloat64);
    torch::NoGradGuard noGrad;
    for (auto& p : block->parameters())
        p.add_(0.3 * torch::randn_like(p));
    return block;
}

/** Random positions [B, N, K+1, D] whose clouds have centres of order 1 apart. */
torch::Tensor randomZ(int64_t batch, int64_t n, int numAugmented, int64_t d) {
    return torch::randn({batch, n, numAugmented + 1, d}, f64) + torch::randn({batch, 1, numAugmented + 1, d}, f64);
}

/** A small float64 E-ACF (5 particles in 3D, two blocks) with or without scaling blocks, non-trivial in every layer. */
AugmentedCouplingFlow perturbedFlow(bool scalingBlock) {
    FlowConfig config = bgtest::tinyFlowConfig(5, 3);
    config.numBlocks = 2;
    config.scalingBlock = scalingBlock;
    AugmentedCouplingFlow flow(config);
    torch::NoGradGuard noGrad;
    for (auto& p : flow->named_parameters())
        if (p.key().find("heads") != std::string::npos || p.key().rfind("scalings.", 0) == 0)
            p.value().add_(0.1 * torch::randn_like(p.value()));
    return flow;
}

} // namespace

TEST(ScalingBlock, InverseUndoesForward) {
    torch::manual_seed(1);
    for (int k : {1, 3}) {
        ScalingBlock block = perturbedBlock(k);
        torch::Tensor z = randomZ(6, 4, k, 3);
        auto [out, logDet] = block->forward(z, true);
        EXPECT_GT(maxAbs(out - z), 1e-2) << "K=" << k << ": not the identity";
        auto [back, backLogDet] = block->forward(out, false);
        EXPECT_LT(maxAbs(back - z), 1e-12) << "K=" << k;
        EXPECT_LT(maxAbs(logDet + backLogDet), 1e-12) << "K=" << k;
        // The centre of x stays where it is.
        EXPECT_LT(maxAbs(out.select(2, 0).mean(1) - z.select(2, 0).mean(1)), 1e-12) << "K=" << k;
    }
}

TEST(ScalingBlock, LogDetMatchesAutograd) {
    torch::manual_seed(2);
    for (int k : {1, 3})
        for (int d : {2, 3}) {
            ScalingBlock block = perturbedBlock(k);
            const int64_t batch = 3, n = 4;
            torch::Tensor z = randomZ(batch, n, k, d);
            for (bool inverse : {true, false}) {
                torch::Tensor logDet = block->forward(z, inverse).second;
                torch::Tensor expected = bgtest::autogradLogDet(
                        [&](const torch::Tensor& flat) { return block->forward(flat.view(z.sizes()), inverse).first.reshape({batch, -1}); },
                        z.reshape({batch, -1}));
                EXPECT_LT(maxAbs(logDet - expected), 1e-10) << "K=" << k << " D=" << d << (inverse ? " log_prob" : " sampling");
            }
        }
}

TEST(ScalingBlock, EquivariantToRotationTranslationAndPermutation) {
    torch::manual_seed(3);
    ScalingBlock block = perturbedBlock(1);
    torch::Tensor z = randomZ(5, 6, 1, 3);
    torch::Tensor rotation = bgtest::randomRotation(3), shift = torch::randn({3}, f64);
    torch::Tensor perm = torch::tensor({2, 5, 0, 1, 4, 3}, torch::kInt64);
    for (bool inverse : {true, false}) {
        auto [out, logDet] = block->forward(z, inverse);
        auto [moved, movedLogDet] = block->forward(torch::matmul(z, rotation.t()) + shift, inverse);
        EXPECT_LT(maxAbs(moved - (torch::matmul(out, rotation.t()) + shift)), 1e-12);
        EXPECT_LT(maxAbs(movedLogDet - logDet), 1e-12);
        auto [permuted, permutedLogDet] = block->forward(z.index_select(1, perm), inverse);
        EXPECT_LT(maxAbs(permuted - out.index_select(1, perm)), 1e-12);
        EXPECT_LT(maxAbs(permutedLogDet - logDet), 1e-12);
    }
}

TEST(ScalingBlock, ZeroInitialisedBlockIsTheIdentity) {
    torch::manual_seed(4);
    ScalingBlock block(1, true);
    block->to(torch::kFloat64);
    torch::Tensor z = randomZ(4, 5, 1, 3);
    for (bool inverse : {true, false}) {
        auto [out, logDet] = block->forward(z, inverse);
        EXPECT_LT(maxAbs(out - z), 1e-14);
        EXPECT_LT(maxAbs(logDet), 1e-14);
    }
    EXPECT_THROW(ScalingBlock(0, true), std::invalid_argument);
    EXPECT_THROW(block->forward(torch::zeros({1, 5, 3, 3}, f64), true), std::invalid_argument);
}

TEST(ScalingBlock, OnePerBlockStartingWithTheFirstBlocksWeights) {
    // model-spec 3.2: one block's parameters are initialised and copied to every block.
    FlowConfig config = bgtest::tinyFlowConfig(5, 3);
    config.numBlocks = 2;
    config.scalingBlock = true;
    AugmentedCouplingFlow flow(config);
    auto params = flow->named_parameters();
    ASSERT_TRUE(params.contains("scalings.1.comLogits"));
    EXPECT_FALSE(params.contains("scalings.2.comLogits"));
    int compared = 0;
    for (auto& p : params)
        if (p.key().rfind("scalings.0.", 0) == 0) {
            EXPECT_TRUE(torch::equal(p.value(), params["scalings.1." + p.key().substr(11)])) << p.key();
            EXPECT_EQ(p.value().dtype(), torch::kFloat64) << p.key();
            compared++;
        }
    EXPECT_GT(compared, 4);
    config.scalingBlock = false;
    EXPECT_FALSE(AugmentedCouplingFlow(config)->named_parameters().contains("scalings.0.comLogits"));
}

TEST(ScalingBlock, SaveLoadRoundTripAndFlowsSavedWithoutTheField) {
    torch::manual_seed(7);
    AugmentedCouplingFlow flow = perturbedFlow(true);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(8);
    FlowSample s = flow->sample(8, gen);
    AugmentedCouplingFlow copy = loadFlow(saveFlow(flow));
    EXPECT_TRUE(copy->getConfig().scalingBlock);
    EXPECT_TRUE(torch::equal(copy->logProb(s.x, s.a), flow->logProb(s.x, s.a)));
    // A configuration written before the field existed reads as scaling blocks off.
    AugmentedCouplingFlow old = perturbedFlow(false);
    std::string json = old->getConfig().toJson();
    const std::string line = "  \"scalingBlock\": false,\n";
    ASSERT_NE(json.find(line), std::string::npos);
    json.erase(json.find(line), line.size());
    EXPECT_EQ(json.find("scalingBlock"), std::string::npos);
    EXPECT_FALSE(FlowConfig::fromJson(json).scalingBlock);
    // ... and a saved flow of that time (version 1: no checksum) loads with its weights.
    const std::string bytes = saveFlow(old);
    const size_t headerEnd = bytes.find('\n', 8);
    const size_t configLength = std::stoull(bytes.substr(8, bytes.find(' ', 8) - 8));
    const std::string archive = bytes.substr(headerEnd + 1 + configLength);
    AugmentedCouplingFlow loaded = loadFlow("BGFLOW1\n" + std::to_string(json.size()) + "\n" + json + archive);
    EXPECT_FALSE(loaded->getConfig().scalingBlock);
    EXPECT_TRUE(torch::equal(loaded->logProb(s.x, s.a), old->logProb(s.x, s.a)));
}
