// Maximum-likelihood training: it fits a toy data set, and masked samples contribute nothing while
// the loss keeps the full batch size as its denominator.

#include "TrainingTestUtilities.h"
#include "bg/AugmentedCouplingFlow.h"
#include "bg/MaximumLikelihoodMethod.h"
#include "bg/Optimizer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

using namespace bg;

namespace {

torch::Generator makeGenerator(uint64_t seed) {
    return at::make_generator<at::CPUGeneratorImpl>(seed);
}

double heldOutNll(AugmentedCouplingFlow& flow, const torch::Tensor& x, uint64_t seed) {
    torch::Generator g = makeGenerator(seed);
    return -flow->marginalLogProb(x, 8, g).mean().item<double>();
}

} // namespace

TEST(MaximumLikelihood, FitsADimerAndLowersTheNll) {
    torch::set_num_threads(1);
    torch::manual_seed(1);
    torch::Generator dataGenerator = makeGenerator(7);
    // A dimer at distance 2 +- 0.1: far from the base (unit Gaussian), so an untrained flow is poor.
    torch::Tensor train = bgtest::dimerData(256, 2.0, 0.1, dataGenerator);
    torch::Tensor test = bgtest::dimerData(256, 2.0, 0.1, dataGenerator);
    // Two blocks of width 16: the smallest flow that learns this in a few hundred steps.
    bg::FlowConfig fc = bgtest::tinyFlowConfig();
    fc.numBlocks = 2;
    fc.egnnWidth = fc.invariantFeatures = 16;
    fc.headWidths = {16, 16};
    AugmentedCouplingFlow flow(fc);
    TrainingConfig config;
    config.batchSize = 32;
    MaximumLikelihoodMethod method(train, config, 0.0);
    EXPECT_EQ(method.callsPerEpoch(), 8);
    const double lr0 = 3e-3;
    WarmupCosineSchedule schedule{lr0, lr0, lr0, 0, 1000};
    SkipClipAdam optimizer(flow->parameters(), schedule);
    const double before = heldOutNll(flow, test, 3);
    torch::Generator generator = makeGenerator(11);
    double firstLoss = 0, lastLoss = 0;
    const int steps = 240;
    for (int i = 0; i < steps; i++) {
        StepStats s = method.step(flow, optimizer, generator);
        ASSERT_TRUE(std::isfinite(s.loss));
        EXPECT_EQ(s.updates, 1);
        EXPECT_EQ(s.samples, 32);
        EXPECT_EQ(s.masked, 0);
        if (i < 40)
            firstLoss += s.loss / 40;
        if (i >= steps - 40)
            lastLoss += s.loss / 40;
    }
    const double after = heldOutNll(flow, test, 3);
    std::cout << "training loss " << firstLoss << " -> " << lastLoss << ", held-out NLL " << before << " -> " << after << std::endl;
    EXPECT_LT(lastLoss, firstLoss - 0.1);   // the joint loss is noisy (it includes the draw of a)
    EXPECT_LT(after, before - 0.5) << "NLL before " << before << ", after " << after;
}

TEST(MaximumLikelihood, DataAreCentred) {
    torch::Tensor x = torch::randn({8, 3, 2}, torch::kFloat64) + 5.0;
    TrainingConfig config;
    config.batchSize = 4;
    MaximumLikelihoodMethod method(x, config, 0.0);
    EXPECT_LT(method.getData().mean(1).abs().max().item<double>(), 1e-12);
    EXPECT_THROW(MaximumLikelihoodMethod(x.narrow(0, 0, 3), config, 0.0), std::invalid_argument);
}

TEST(MaximumLikelihood, MaskedSamplesContributeNothingAndTheDenominatorIsTheBatch) {
    torch::set_num_threads(1);
    torch::manual_seed(2);
    torch::Generator dataGenerator = makeGenerator(5);
    const int64_t batch = 8;
    torch::Tensor data = bgtest::dimerData(batch, 1.0, 0.1, dataGenerator);
    data[1] = NAN;                    // non-finite log q
    data[5][0][0] = 1e6;              // log q far below maskLogProbBelow
    AugmentedCouplingFlow flow(bgtest::tinyFlowConfig());
    TrainingConfig config;
    config.batchSize = batch;
    MaximumLikelihoodMethod method(data, config, 0.0);
    // A zero learning rate leaves the parameters where they are, so the gradient can be checked.
    SkipClipAdam optimizer(flow->parameters(), WarmupCosineSchedule{0.0, 0.0, 0.0, 0, 1});
    torch::Generator generator = makeGenerator(21);
    torch::Generator replay = makeGenerator(21);
    StepStats stats = method.step(flow, optimizer, generator);
    EXPECT_EQ(stats.masked, 2);
    EXPECT_EQ(stats.samples, batch - 2);
    EXPECT_FALSE(std::isnan(stats.gradNorm));
    std::vector<torch::Tensor> grads;
    for (auto& p : flow->parameters()) {
        ASSERT_TRUE(torch::isfinite(p).all().item<bool>());
        grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    }
    // The same draws by hand: permutation, then one a per x.
    torch::Tensor perm = torch::randperm(batch, replay, torch::TensorOptions().dtype(torch::kInt64));
    torch::Tensor x = method.getData().index_select(0, perm);
    torch::Tensor a = flow->augmentedTarget().sample(x, 1, replay);
    torch::Tensor keep = torch::ones({batch}, torch::kBool);
    for (int64_t i = 0; i < batch; i++) {
        int64_t original = perm[i].item<int64_t>();
        if (original == 1 || original == 5)
            keep[i] = false;
    }
    torch::Tensor rows = keep.nonzero().squeeze(1);
    for (auto& p : flow->parameters())
        if (p.grad().defined())
            p.grad().zero_();
    torch::Tensor logQ = flow->logProb(x.index_select(0, rows), a.index_select(0, rows));
    torch::Tensor loss = -logQ.sum() / double(batch);
    loss.backward();
    EXPECT_NEAR(stats.loss, loss.item<double>(), 1e-10);
    size_t i = 0;
    for (auto& p : flow->parameters()) {
        torch::Tensor expected = p.grad().defined() ? p.grad() : torch::zeros_like(p);
        EXPECT_TRUE(torch::allclose(grads[i], expected, 1e-9, 1e-12)) << "parameter " << i;
        i++;
    }
}

TEST(MaximumLikelihood, GradientAccumulationMatchesOnePass) {
    torch::set_num_threads(1);
    torch::Generator dataGenerator = makeGenerator(9);
    torch::Tensor data = bgtest::dimerData(16, 1.5, 0.2, dataGenerator);
    auto gradientsWith = [&](int64_t maxRows) {
        torch::manual_seed(4);
        AugmentedCouplingFlow flow(bgtest::tinyFlowConfig());
        TrainingConfig config;
        config.batchSize = 16;
        config.maxRowsPerPass = maxRows;
        MaximumLikelihoodMethod method(data, config, 0.0);
        SkipClipAdam optimizer(flow->parameters(), WarmupCosineSchedule{0.0, 0.0, 0.0, 0, 1});
        torch::Generator g = makeGenerator(3);
        StepStats s = method.step(flow, optimizer, g);
        std::vector<torch::Tensor> grads;
        for (auto& p : flow->parameters())
            grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
        return std::make_pair(s.loss, grads);
    };
    auto [lossWhole, whole] = gradientsWith(0);
    auto [lossChunked, chunked] = gradientsWith(5);
    EXPECT_NEAR(lossWhole, lossChunked, 1e-10);
    for (size_t i = 0; i < whole.size(); i++)
        EXPECT_TRUE(torch::allclose(whole[i], chunked[i], 1e-9, 1e-12));
}
