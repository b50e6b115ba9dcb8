// Gradient accumulation over chunks of a batch gives the gradient of the whole batch.

#include "bg/AugmentedCouplingFlow.h"
#include "bg/MicroBatching.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace bg;

TEST(MicroBatching, ChunkedGradientEqualsWholeBatchGradient) {
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
    torch::manual_seed(2);
    AugmentedCouplingFlow flow(c);
    FlowSample data;
    {
        torch::NoGradGuard noGrad;
        data = flow->sample(11);
    }
    torch::Tensor weights = torch::rand({11}, torch::kFloat64);
    auto chunkLoss = [&](int64_t start, int64_t length) {
        torch::Tensor logQ = flow->logProb(data.x.narrow(0, start, length), data.a.narrow(0, start, length));
        return -(weights.narrow(0, start, length) * logQ).sum() / 11.0;
    };
    flow->zero_grad();
    torch::Tensor whole = backwardInChunks(11, 0, chunkLoss);
    std::vector<torch::Tensor> reference;
    for (auto& p : flow->parameters())
        reference.push_back(p.grad().clone());
    flow->zero_grad();
    torch::Tensor chunked = backwardInChunks(11, 4, chunkLoss);
    EXPECT_NEAR(whole.item<double>(), chunked.item<double>(), 1e-12);
    size_t i = 0;
    double largest = 0.0;
    for (auto& p : flow->parameters()) {
        EXPECT_LT((p.grad() - reference[i]).abs().max().item<double>(), 1e-12) << i;
        largest = std::max(largest, reference[i].abs().max().item<double>());
        i++;
    }
    EXPECT_GT(largest, 1e-6);
    EXPECT_FALSE(backwardInChunks(0, 4, chunkLoss).defined());
    EXPECT_THROW(backwardInChunks(3, -1, chunkLoss), std::invalid_argument);
}
