// The warm-up/cosine learning-rate schedule and the median-window skip/clip Adam.

#include "FlowTestUtilities.h"
#include "bg/Optimizer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>

using namespace bg;
using bgtest::f64;

TEST(WarmupCosineSchedule, FollowsItsClosedForm) {
    WarmupCosineSchedule s{2e-5, 2e-4, 2e-5, 10, 110};
    EXPECT_DOUBLE_EQ(s.learningRate(0), 2e-5);
    EXPECT_DOUBLE_EQ(s.learningRate(5), 2e-5 + 0.5 * 1.8e-4);
    EXPECT_DOUBLE_EQ(s.learningRate(10), 2e-4);
    EXPECT_NEAR(s.learningRate(60), 2e-5 + 0.5 * 1.8e-4, 1e-18);   // half way through the decay
    EXPECT_DOUBLE_EQ(s.learningRate(110), 2e-5);
    EXPECT_DOUBLE_EQ(s.learningRate(500), 2e-5);
}

namespace {

// One parameter vector whose gradient we set by hand.
struct GuardedParameter {
    torch::Tensor p = torch::zeros({4}, f64).requires_grad_(true);
    SkipClipAdam optimizer{{p}, WarmupCosineSchedule{1e-2, 1e-2, 1e-2, 0, 1}, 2.0, 10.0, 9};
    StepReport stepWith(double value) {
        optimizer.zeroGrad();
        p.mutable_grad() = torch::full({4}, value, f64);
        return optimizer.step();
    }
};

} // namespace

TEST(SkipClipAdam, ClipsAndSkipsRelativeToTheMedianNorm) {
    GuardedParameter s;
    // Window of 9 starts with 6 entries at 1e30: early steps are neither clipped nor skipped.
    for (int i = 0; i < 6; i++) {
        StepReport r = s.stepWith(0.5);   // norm 1
        EXPECT_FALSE(r.skipped);
        EXPECT_FALSE(r.clipped);
        EXPECT_NEAR(r.gradientNorm, 1.0, 1e-12);
    }
    // The window now holds three 1e30 and six 1.0 entries: median 1.
    StepReport clipped = s.stepWith(1.5);   // norm 3 > 2 * median: clipped to 2
    EXPECT_TRUE(clipped.clipped);
    EXPECT_FALSE(clipped.skipped);
    torch::Tensor before = s.p.detach().clone();
    StepReport skipped = s.stepWith(50.0);  // norm 100 > 10 * median: skipped, parameters unchanged
    EXPECT_TRUE(skipped.skipped);
    EXPECT_TRUE(torch::equal(before, s.p.detach()));
    StepReport nan = s.stepWith(NAN);
    EXPECT_TRUE(nan.skipped);
    EXPECT_EQ(s.optimizer.stepsSkipped(), 2);
    EXPECT_EQ(s.optimizer.stepsTaken(), 7);
}

TEST(SkipClipAdam, DescendsAQuadraticAndResumesExactly) {
    torch::manual_seed(0);
    torch::Tensor target = torch::randn({5}, f64);
    auto makeRun = [&](torch::Tensor& p) {
        return SkipClipAdam({p}, WarmupCosineSchedule{1e-3, 5e-2, 1e-3, 20, 400});
    };
    auto train = [&](torch::Tensor& p, SkipClipAdam& opt, int steps) {
        for (int i = 0; i < steps; i++) {
            opt.zeroGrad();
            (p - target).square().sum().backward();
            opt.step();
        }
    };
    torch::Tensor p = torch::zeros({5}, f64).requires_grad_(true);
    SkipClipAdam opt = makeRun(p);
    train(p, opt, 200);
    // Checkpoint, continue 200 steps; a second run from the checkpoint must match bit for bit.
    torch::serialize::OutputArchive archive;
    opt.save(archive);
    std::ostringstream buffer;
    archive.save_to(buffer);
    torch::Tensor saved = p.detach().clone();
    train(p, opt, 200);
    EXPECT_LT((p - target).abs().max().item<double>(), 1e-3);
    torch::Tensor q = saved.clone().requires_grad_(true);
    SkipClipAdam resumed = makeRun(q);
    std::istringstream in(buffer.str());
    torch::serialize::InputArchive input;
    input.load_from(in);
    resumed.load(input);
    train(q, resumed, 200);
    EXPECT_TRUE(torch::equal(p.detach(), q.detach()));
}
