// ShuffledBatches: the minibatch order of maximum likelihood and flow matching. Every epoch is a
// fresh permutation cut into floor(n / B) disjoint batches; a saved state resumes the same order.

#include "bg/ShuffledBatches.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace bg;

namespace {

std::vector<int64_t> rows(const torch::Tensor& t) {
    return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

} // namespace

TEST(ShuffledBatches, EachEpochIsAFreshPermutationInDisjointBatches) {
    torch::Generator g = at::make_generator<at::CPUGeneratorImpl>(3);
    ShuffledBatches order(10, 3);
    ASSERT_EQ(order.batchesPerEpoch(), 3);
    std::vector<std::vector<int64_t>> epochs;
    for (int e = 0; e < 4; e++) {
        std::vector<int64_t> seen;
        for (int b = 0; b < 3; b++) {
            std::vector<int64_t> batch = rows(order.next(g));
            ASSERT_EQ(batch.size(), 3u);
            seen.insert(seen.end(), batch.begin(), batch.end());
        }
        std::set<int64_t> distinct(seen.begin(), seen.end());
        EXPECT_EQ(distinct.size(), 9u);   // one row of the 10 is left out of each epoch
        EXPECT_TRUE(*distinct.begin() >= 0 && *distinct.rbegin() < 10);
        epochs.push_back(seen);
    }
    EXPECT_NE(epochs[0], epochs[1]);
    EXPECT_NE(epochs[1], epochs[2]);
}

TEST(ShuffledBatches, ASavedStateResumesTheSameBatches) {
    for (int drawn : {0, 2, 4}) {
        SCOPED_TRACE("batches drawn before saving: " + std::to_string(drawn));
        torch::Generator g = at::make_generator<at::CPUGeneratorImpl>(7);
        ShuffledBatches order(8, 2);
        for (int b = 0; b < drawn; b++)
            order.next(g);
        torch::serialize::OutputArchive out;
        order.save(out, "xx");
        std::ostringstream bytes;
        out.save_to(bytes);
        torch::Generator resumedGenerator = g.clone();

        std::istringstream in(bytes.str());
        torch::serialize::InputArchive archive;
        archive.load_from(in);
        ShuffledBatches resumed(8, 2);
        resumed.load(archive, "xx", "Owner");
        for (int b = 0; b < 9; b++)
            EXPECT_EQ(rows(resumed.next(resumedGenerator)), rows(order.next(g))) << "batch " << b;

        std::istringstream again(bytes.str());
        torch::serialize::InputArchive other;
        other.load_from(again);
        ShuffledBatches wrongSize(12, 2);
        if (drawn == 0) {
            EXPECT_NO_THROW(wrongSize.load(other, "xx", "Owner"));   // no permutation yet: nothing to mismatch
        }
        else {
            try {
                wrongSize.load(other, "xx", "Owner");
                ADD_FAILURE() << "expected an error";
            }
            catch (const std::runtime_error& e) {
                EXPECT_EQ(std::string(e.what()), "Owner: the checkpoint was written for 8 training samples, not 12");
            }
        }
    }
}
