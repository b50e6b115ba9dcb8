// The FAB replay buffer: draws proportional to weight (chi-squared), without replacement, adjusted
// weights, invalid entries never drawn or written, FIFO overwrite, checkpoint round trip.

#include "bg/PrioritisedReplayBuffer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <set>
#include <sstream>

using namespace bg;

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

PrioritisedReplayBuffer makeBuffer(const std::vector<double>& weights) {
    const int64_t n = weights.size();
    PrioritisedReplayBuffer buffer(3, n, 1);
    torch::Tensor z = torch::arange(3 * n, f64).view({n, 3});
    torch::Tensor w = torch::log(torch::tensor(weights, f64));
    buffer.add(z, w, torch::zeros({n}, f64));
    return buffer;
}

} // namespace

TEST(PrioritisedReplayBuffer, SingleDrawsAreProportionalToWeights) {
    const std::vector<double> weights = {1.0, 2.0, 4.0, 0.5, 2.5};
    PrioritisedReplayBuffer buffer = makeBuffer(weights);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
    const int draws = 20000;
    std::vector<double> counts(weights.size(), 0.0);
    for (int i = 0; i < draws; i++)
        counts[buffer.sample(1, 1, gen)[0].indices.item<int64_t>()] += 1;
    double total = 0.0, chi2 = 0.0;
    for (double w : weights)
        total += w;
    for (size_t i = 0; i < weights.size(); i++) {
        const double expected = draws * weights[i] / total;
        chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
    }
    // 4 degrees of freedom: P(chi2 > 18.47) = 0.001.
    EXPECT_LT(chi2, 18.47);
}

TEST(PrioritisedReplayBuffer, DrawsWithoutReplacementInMinibatches) {
    PrioritisedReplayBuffer buffer = makeBuffer(std::vector<double>(40, 1.0));
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(4);
    std::vector<BufferBatch> batches = buffer.sample(4, 8, gen);
    ASSERT_EQ(batches.size(), 4u);
    std::set<int64_t> seen;
    for (auto& b : batches) {
        EXPECT_EQ(b.z.sizes(), (std::vector<int64_t>{8, 3}));
        for (int64_t i = 0; i < 8; i++) {
            const int64_t index = b.indices[i].item<int64_t>();
            seen.insert(index);
            EXPECT_DOUBLE_EQ(b.z[i][0].item<double>(), 3.0 * index);   // the point belongs to its slot
        }
    }
    EXPECT_EQ(seen.size(), 32u);
    EXPECT_THROW(buffer.sample(5, 9, gen), std::runtime_error);   // more than the 40 entries
}

TEST(PrioritisedReplayBuffer, AdjustAndInvalidEntries) {
    PrioritisedReplayBuffer buffer = makeBuffer({1.0, 1.0, 1.0, 1.0});
    buffer.adjust(torch::tensor({1, 2}, torch::kInt64), torch::tensor({0.5, std::nan("")}, f64), torch::tensor({-3.0, -4.0}, f64));
    torch::Tensor w = buffer.logWeights();
    EXPECT_NEAR(w[1].item<double>(), 0.5, 1e-15);
    EXPECT_TRUE(std::isinf(w[2].item<double>()));
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
    for (int i = 0; i < 200; i++) {
        auto batch = buffer.sample(1, 3, gen)[0];
        EXPECT_FALSE((batch.indices == 2).any().item<bool>());
        // The log q_old of slot 1 was replaced by the new value.
        for (int64_t k = 0; k < 3; k++)
            if (batch.indices[k].item<int64_t>() == 1)
                EXPECT_DOUBLE_EQ(batch.logQOld[k].item<double>(), -3.0);
    }
    EXPECT_THROW(buffer.sample(1, 4, gen), std::runtime_error);   // only 3 finite weights remain
}

TEST(PrioritisedReplayBuffer, SkipsNonFiniteRowsAndOverwritesOldest) {
    PrioritisedReplayBuffer buffer(2, 4, 3);
    torch::Tensor z = torch::ones({3, 2}, f64);
    z[1][0] = NAN;
    EXPECT_EQ(buffer.add(z, torch::zeros({3}, f64), torch::zeros({3}, f64)), 2);
    EXPECT_FALSE(buffer.ready());
    EXPECT_EQ(buffer.add(torch::ones({1, 2}, f64), torch::tensor({-std::numeric_limits<double>::infinity()}, f64), torch::zeros({1}, f64)), 0);
    buffer.add(2 * torch::ones({3, 2}, f64), torch::full({3}, 1.0, f64), torch::zeros({3}, f64));
    EXPECT_EQ(buffer.size(), 4);
    EXPECT_TRUE(buffer.ready());
    // Slots 0 and 1 held the first two rows; five rows were written, so slot 0 was overwritten.
    torch::Tensor w = buffer.logWeights();
    EXPECT_DOUBLE_EQ(w[0].item<double>(), 1.0);
    EXPECT_DOUBLE_EQ(w[1].item<double>(), 0.0);
    EXPECT_THROW(buffer.add(torch::ones({1, 3}, f64), torch::zeros({1}, f64), torch::zeros({1}, f64)), std::invalid_argument);
}

TEST(PrioritisedReplayBuffer, CheckpointRoundTrip) {
    PrioritisedReplayBuffer buffer = makeBuffer({1.0, 3.0, 2.0});
    torch::serialize::OutputArchive out;
    buffer.save(out);
    std::ostringstream bytes;
    out.save_to(bytes);
    PrioritisedReplayBuffer restored(3, 3, 1);
    torch::serialize::InputArchive in;
    std::istringstream source(bytes.str());
    in.load_from(source);
    restored.load(in);
    EXPECT_TRUE(torch::equal(restored.logWeights(), buffer.logWeights()));
    at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(9), g2 = at::make_generator<at::CPUGeneratorImpl>(9);
    EXPECT_TRUE(torch::equal(buffer.sample(1, 2, g1)[0].z, restored.sample(1, 2, g2)[0].z));
}
