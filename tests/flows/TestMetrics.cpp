// Effective sample sizes on distributions with known answers.

#include "FlowTestUtilities.h"
#include "bg/Metrics.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

using namespace bg;
using bgtest::f64;

TEST(Metrics, EssIsOneWhenTheFlowIsTheTarget) {
    // q = p up to a constant: every log-weight equals log Z.
    torch::Tensor logW = torch::full({1000}, 3.7, f64);
    EXPECT_NEAR(reverseEss(logW), 1.0, 1e-12);
    EXPECT_NEAR(forwardEss(logW), 1.0, 1e-12);
}

TEST(Metrics, EssOfShiftedGaussiansMatchesTheClosedForm) {
    // q = N(0, 1), p = N(mu, 1): w(x) = exp(mu x - mu^2/2), so E_q[w^2] = exp(mu^2) and
    // E_p[w] E_p[1/w] = exp(mu^2): both effective sample sizes tend to exp(-mu^2).
    torch::manual_seed(17);
    const double mu = 0.5, expected = std::exp(-mu * mu);
    const int64_t n = 400000;
    torch::Tensor fromQ = torch::randn({n}, f64);
    torch::Tensor fromP = torch::randn({n}, f64) + mu;
    auto logW = [&](const torch::Tensor& x) { return mu * x - 0.5 * mu * mu + 1.3; };   // arbitrary log Z
    EXPECT_NEAR(reverseEss(logW(fromQ)), expected, 0.01);
    EXPECT_NEAR(forwardEss(logW(fromP)), expected, 0.01);
    // A worse flow has a smaller ESS.
    const double far = 1.5;
    EXPECT_LT(reverseEss(far * fromQ), 0.5 * expected);
}

TEST(Metrics, NonFiniteWeights) {
    const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
    torch::Tensor logW = torch::tensor({0.0, 0.0, -inf, nan}, f64);
    EXPECT_NEAR(reverseEss(logW), 0.5, 1e-12);   // two usable samples out of four
    EXPECT_NEAR(forwardEss(logW), 1.0, 1e-12);   // non-finite data points are left out
    EXPECT_EQ(reverseEss(torch::tensor({nan}, f64)), 0.0);
    EXPECT_THROW(reverseEss(torch::zeros({0}, f64)), std::invalid_argument);
}
