// Memory controls of the E-ACF: gradient checkpointing per coupling layer (same values and gradients,
// far fewer saved activations) and chunked inference (same results in bounded batches).

#include "FlowTestUtilities.h"
#include "bg/AugmentedCouplingFlow.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <unordered_set>
#include <vector>

using namespace bg;
using bgtest::f64;

namespace {

using Case = bgtest::ProjectionCase;

FlowConfig memoryConfig(const Case& c) {
    FlowConfig config;
    config.numParticles = 5;
    config.dimension = c.dimension;
    config.projection = c.projection;
    config.innerTransform = c.transform;
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

// Training-style loss with the aux term, so its gradient path is covered too.
torch::Tensor trainingLoss(AugmentedCouplingFlow& flow, const FlowSample& data) {
    torch::Tensor logProb = flow->logProb(data.x, data.a);   // first: auxLoss() belongs to this pass
    return -logProb.mean() + 0.7 * flow->auxLoss();
}

std::vector<torch::Tensor> gradients(AugmentedCouplingFlow& flow, const FlowSample& data) {
    flow->zero_grad();
    trainingLoss(flow, data).backward();
    std::vector<torch::Tensor> grads;
    for (auto& p : flow->parameters())
        grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    return grads;
}

// Number of distinct autograd operation nodes reachable from a tensor (each may hold saved
// activations); the parameters' gradient accumulators are not counted.
size_t graphSize(const torch::Tensor& t) {
    std::unordered_set<torch::autograd::Node*> seen;
    size_t operations = 0;
    std::vector<torch::autograd::Node*> stack = {t.grad_fn().get()};
    while (!stack.empty()) {
        torch::autograd::Node* node = stack.back();
        stack.pop_back();
        if (node == nullptr || !seen.insert(node).second)
            continue;
        if (node->name().find("AccumulateGrad") == std::string::npos)
            operations++;
        for (const auto& edge : node->next_edges())
            stack.push_back(edge.function.get());
    }
    return operations;
}

class FlowMemoryTest : public ::testing::TestWithParam<Case> {};

} // namespace

TEST_P(FlowMemoryTest, CheckpointingGivesTheSameValuesAndGradients) {
    torch::manual_seed(5);
    AugmentedCouplingFlow flow(memoryConfig(GetParam()));
    FlowSample data;
    {
        torch::NoGradGuard noGrad;
        data = flow->sample(6);
    }
    torch::Tensor plainLogProb = flow->logProb(data.x, data.a).detach();
    std::vector<torch::Tensor> plain = gradients(flow, data);
    flow->setGradientCheckpointing(true);
    EXPECT_TRUE(flow->getGradientCheckpointing());
    torch::Tensor checkpointedLogProb = flow->logProb(data.x, data.a).detach();
    std::vector<torch::Tensor> checkpointed = gradients(flow, data);
    EXPECT_LT((plainLogProb - checkpointedLogProb).abs().max().item<double>(), 1e-12);
    ASSERT_EQ(plain.size(), checkpointed.size());
    double worst = 0.0, largest = 0.0;
    for (size_t i = 0; i < plain.size(); i++) {
        worst = std::max(worst, (plain[i] - checkpointed[i]).abs().max().item<double>());
        largest = std::max(largest, plain[i].abs().max().item<double>());
    }
    EXPECT_GT(largest, 1e-6);   // the comparison is not between zeros
    EXPECT_LT(worst, 1e-10 * std::max(1.0, largest));
}

TEST_P(FlowMemoryTest, CheckpointingKeepsFarFewerNodes) {
    torch::manual_seed(6);
    AugmentedCouplingFlow flow(memoryConfig(GetParam()));
    FlowSample data;
    {
        torch::NoGradGuard noGrad;
        data = flow->sample(4);
    }
    size_t plain = graphSize(trainingLoss(flow, data));
    flow->setGradientCheckpointing(true);
    size_t checkpointed = graphSize(trainingLoss(flow, data));
    // Without checkpointing every op of every EGNN layer is a node; with it, one node per coupling
    // layer plus the few ops around them.
    EXPECT_GT(plain, 200u);
    EXPECT_LT(10 * checkpointed, plain) << "plain " << plain << ", checkpointed " << checkpointed;
}

INSTANTIATE_TEST_SUITE_P(AllProjections, FlowMemoryTest,
                         ::testing::Values(Case{Projection::Spherical, InnerTransform::Spline, 3},
                                           Case{Projection::Cartesian, InnerTransform::Affine, 3},
                                           Case{Projection::Vector, InnerTransform::Spline, 2}),
                         [](const ::testing::TestParamInfo<Case>& info) { return bgtest::caseName(info.param); });

TEST(FlowMemory, ChunkedInferenceMatchesOnePass) {
    torch::manual_seed(7);
    AugmentedCouplingFlow flow(memoryConfig({Projection::Spherical, InnerTransform::Spline, 3}));
    torch::NoGradGuard noGrad;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
    FlowSample s = flow->sample(23, gen);
    torch::Tensor whole = flow->logProb(s.x, s.a);
    at::Generator genWhole = at::make_generator<at::CPUGeneratorImpl>(9);
    torch::Tensor marginalWhole = flow->marginalLogProb(s.x, 4, genWhole);

    flow->setInferenceBatchSize(5);
    EXPECT_EQ(flow->getInferenceBatchSize(), 5);
    FlowSample chunked = flow->sample(23, gen);
    EXPECT_EQ(chunked.x.sizes(), s.x.sizes());
    EXPECT_EQ(chunked.a.sizes(), s.a.sizes());
    EXPECT_LT(chunked.x.mean(1).abs().max().item<double>(), 1e-12);   // zero CoM in every chunk
    EXPECT_LT((flow->logProb(chunked.x, chunked.a) - chunked.logProb).abs().max().item<double>(), 1e-10);
    // Passes of 5 rows against one of 23: the same values up to the rounding of batch-size dependent
    // matrix kernels (1.8e-12 on an AMD EPYC, values of order 10; not bitwise).
    EXPECT_LT((flow->logProb(s.x, s.a) - whole).abs().max().item<double>(), 1e-10);
    at::Generator genChunked = at::make_generator<at::CPUGeneratorImpl>(9);
    EXPECT_LT((flow->marginalLogProb(s.x, 4, genChunked) - marginalWhole).abs().max().item<double>(), 1e-10);
    EXPECT_THROW(flow->setInferenceBatchSize(-1), std::invalid_argument);
}

TEST(FlowMemory, ChunkingDoesNotApplyWithGradients) {
    torch::manual_seed(8);
    AugmentedCouplingFlow flow(memoryConfig({Projection::Vector, InnerTransform::Spline, 3}));
    flow->setInferenceBatchSize(2);
    FlowSample s = flow->sample(6);
    // One differentiable pass: the gradient of the summed log q reaches the weights.
    s.logProb.sum().backward();
    double total = 0.0;
    for (auto& p : flow->parameters())
        if (p.grad().defined())
            total += p.grad().abs().sum().item<double>();
    EXPECT_GT(total, 0.0);
    EXPECT_EQ(s.x.size(0), 6);
}
