// The E-CNF's building blocks (ecnf-spec 3-4): the ODE solver, the Hungarian assignment, Kabsch and
// the equivariant OT coupling, against closed forms and brute force.

#include "bg/EquivariantAlignment.h"
#include "bg/Hungarian.h"
#include "bg/OdeSolver.h"
#include "bg/ZeroCoMGaussian.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

bg::OdeOptions dopri(double tol) {
    bg::OdeOptions o;
    o.rtol = o.atol = tol;
    return o;
}

TEST(OdeSolver, Dopri5MatchesClosedFormForwardAndBackward) {
    // dy/dt = -k y t  =>  y(t) = y0 exp(-k t^2 / 2); one row per k.
    torch::Tensor k = torch::tensor({0.5, 1.0, 3.0}, f64).unsqueeze(1);
    auto f = [&](double t, const torch::Tensor& y) { return -k * y * t; };
    torch::Tensor y0 = torch::ones({3, 1}, f64);
    bg::OdeResult r = bg::integrateOde(f, y0, 0.0, 2.0, dopri(1e-8));
    torch::Tensor exact = torch::exp(-k * 2.0);
    EXPECT_LT((r.y - exact).abs().max().item<double>(), 1e-7);
    EXPECT_GT(r.accepted, 1);
    bg::OdeResult back = bg::integrateOde(f, r.y, 2.0, 0.0, dopri(1e-8));
    EXPECT_LT((back.y - y0).abs().max().item<double>(), 1e-5);   // backwards the decay amplifies errors e^6-fold
}

TEST(OdeSolver, Rk4IsFourthOrder) {
    auto f = [](double t, const torch::Tensor& y) { return torch::cos(t * torch::ones_like(y)) * y; };   // y = exp(sin t)
    torch::Tensor y0 = torch::ones({1, 1}, f64);
    bg::OdeOptions o;
    o.method = bg::OdeMethod::Rk4;
    o.rk4Steps = 10;
    double e10 = std::abs(bg::integrateOde(f, y0, 0, 1, o).y.item<double>() - std::exp(std::sin(1.0)));
    o.rk4Steps = 20;
    bg::OdeResult r20 = bg::integrateOde(f, y0, 0, 1, o);
    double e20 = std::abs(r20.y.item<double>() - std::exp(std::sin(1.0)));
    EXPECT_EQ(r20.evaluations, 80);
    EXPECT_GT(e10 / e20, 12.0);   // 2^4 = 16 for a 4th-order method
    EXPECT_LT(e20, 1e-6);
}

TEST(OdeSolver, FailsLoudlyPastMaxStepsAndOnNonFiniteValues) {
    auto stiff = [](double, const torch::Tensor& y) { return -1e6 * y; };
    bg::OdeOptions o = dopri(1e-10);
    o.maxSteps = 20;
    EXPECT_THROW(bg::integrateOde(stiff, torch::ones({1, 1}, f64), 0, 1, o), std::runtime_error);
    auto bad = [](double, const torch::Tensor& y) { return y * std::numeric_limits<double>::quiet_NaN(); };
    EXPECT_THROW(bg::integrateOde(bad, torch::ones({1, 1}, f64), 0, 1, dopri(1e-5)), std::runtime_error);
}

TEST(Hungarian, MatchesBruteForceOverAllPermutations) {
    torch::manual_seed(3);
    for (int trial = 0; trial < 20; trial++) {
        const int n = 1 + trial % 7;
        torch::Tensor cost = torch::rand({n, n}, f64) * 10 - 3;
        auto assignment = bg::solveAssignment(cost);
        auto a = assignment.accessor<int64_t, 1>();
        double found = 0;
        for (int i = 0; i < n; i++)
            found += cost[i][a[i]].item<double>();
        std::vector<int> perm(n);
        std::iota(perm.begin(), perm.end(), 0);
        double best = std::numeric_limits<double>::infinity();
        do {
            double c = 0;
            for (int i = 0; i < n; i++)
                c += cost[i][perm[i]].item<double>();
            best = std::min(best, c);
        } while (std::next_permutation(perm.begin(), perm.end()));
        EXPECT_NEAR(found, best, 1e-12) << "n = " << n;
        std::vector<int64_t> sorted(a.data(), a.data() + n);
        std::sort(sorted.begin(), sorted.end());
        for (int i = 0; i < n; i++)
            EXPECT_EQ(sorted[i], i);
    }
    EXPECT_THROW(bg::solveAssignment(torch::zeros({2, 3}, f64)), std::invalid_argument);
}

TEST(Alignment, KabschMatchesDenseRotationScanIn2D) {
    torch::manual_seed(4);
    torch::Tensor x = bg::removeCentreOfMass(torch::randn({5, 4, 2}, f64));
    torch::Tensor y = bg::removeCentreOfMass(torch::randn({5, 4, 2}, f64));
    torch::Tensor R = bg::kabschRotation(x, y);
    torch::Tensor kabschCost = (x.matmul(R.transpose(1, 2)) - y).square().sum({1, 2});
    EXPECT_LT((torch::det(R) - 1).abs().max().item<double>(), 1e-12);
    torch::Tensor best = torch::full({5}, 1e300, f64);
    for (int k = 0; k < 20000; k++) {
        const double a = 2 * M_PI * k / 20000;
        torch::Tensor Rk = torch::tensor({std::cos(a), -std::sin(a), std::sin(a), std::cos(a)}, f64).view({2, 2});
        best = torch::minimum(best, (x.matmul(Rk.t()) - y).square().sum({1, 2}));
    }
    EXPECT_TRUE((kabschCost <= best + 1e-12).all().item<bool>());
    EXPECT_LT((kabschCost - best).abs().max().item<double>(), 1e-6);   // scan resolution 3e-4 rad
}

TEST(Alignment, KabschIsOptimalIn3DAgainstRandomRotations) {
    torch::manual_seed(5);
    torch::Tensor x = torch::randn({3, 6, 3}, f64), y = torch::randn({3, 6, 3}, f64);
    torch::Tensor xc = bg::removeCentreOfMass(x), yc = bg::removeCentreOfMass(y);
    torch::Tensor cost = (xc.matmul(bg::kabschRotation(x, y).transpose(1, 2)) - yc).square().sum({1, 2});
    torch::Tensor Rs = bg::randomRotations(5000, 3, f64);
    for (int p = 0; p < 3; p++) {
        torch::Tensor scan = (xc[p].unsqueeze(0).matmul(Rs.transpose(1, 2)) - yc[p]).square().sum({1, 2});
        EXPECT_LE(cost[p].item<double>(), scan.min().item<double>() + 1e-12);
    }
    EXPECT_LT((torch::det(Rs) - 1).abs().max().item<double>(), 1e-12);
}

/** min over permutations and a dense rotation scan of |R x0_perm - x1|^2 (D = 2). */
double bruteForceOrbitCost(const torch::Tensor& x0, const torch::Tensor& x1) {
    const int n = x0.size(0);
    torch::Tensor a = bg::removeCentreOfMass(x0), b = bg::removeCentreOfMass(x1);
    std::vector<int64_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    double best = std::numeric_limits<double>::infinity();
    do {
        torch::Tensor p = a.index_select(0, torch::tensor(perm));
        torch::Tensor angles = torch::linspace(0, 2 * M_PI, 7200, f64);
        torch::Tensor c = torch::cos(angles), s = torch::sin(angles);
        torch::Tensor R = torch::stack({torch::stack({c, -s}, 1), torch::stack({s, c}, 1)}, 1);   // [K, 2, 2]
        best = std::min(best, (p.unsqueeze(0).matmul(R.transpose(1, 2)) - b).square().sum({1, 2}).min().item<double>());
    } while (std::next_permutation(perm.begin(), perm.end()));
    return best;
}

TEST(Alignment, RecoversAPermutedRotatedCopyAndNeverBeatsBruteForce) {
    torch::manual_seed(6);
    torch::Tensor x1 = torch::randn({6, 4, 2}, f64);
    // x0 = a rotated, permuted, translated and slightly perturbed copy of x1: the alignment must find it.
    torch::Tensor perm = torch::tensor({2, 0, 3, 1});
    torch::Tensor R = bg::randomRotations(6, 2, f64);
    torch::Tensor x0 = x1.index_select(1, perm).matmul(R.transpose(1, 2)) + 0.01 * torch::randn({6, 4, 2}, f64) + 3.0;
    bg::AlignmentOptions o;
    o.iterations = 10;
    o.rotationStarts = 8;
    auto [aligned, cost] = bg::alignPairs(x0, x1, o);
    for (int p = 0; p < 6; p++)
        EXPECT_NEAR(cost[p].item<double>(), bruteForceOrbitCost(x0[p], x1[p]), 1e-5);
    // Random pairs: Klein's single pass is an upper bound of the orbit cost; alternation and more
    // starts never increase it, and with enough starts the brute-force optimum is reached.
    torch::Tensor y0 = torch::randn({6, 4, 2}, f64), y1 = torch::randn({6, 4, 2}, f64);
    auto single = bg::alignPairs(y0, y1, bg::AlignmentOptions()).second;
    auto multi = bg::alignPairs(y0, y1, o).second;
    for (int p = 0; p < 6; p++) {
        const double brute = bruteForceOrbitCost(y0[p], y1[p]);
        EXPECT_GE(single[p].item<double>(), brute - 1e-5);
        EXPECT_NEAR(multi[p].item<double>(), brute, 1e-5);
        EXPECT_LE(multi[p].item<double>(), single[p].item<double>() + 1e-12);
    }
    EXPECT_LT(aligned.mean(1).abs().max().item<double>(), 1e-12);
}

TEST(Alignment, PermutesOnlyWithinParticleTypes) {
    torch::manual_seed(7);
    torch::Tensor x1 = torch::randn({1, 4, 3}, f64);
    torch::Tensor x0 = x1.index_select(1, torch::tensor({1, 0, 3, 2}));   // swaps 0<->1 and 2<->3
    bg::AlignmentOptions o;
    o.rotate = false;
    o.particleTypes = {0, 0, 1, 1};
    EXPECT_LT(bg::alignPairs(x0, x1, o).second.item<double>(), 1e-20);
    o.particleTypes = {0, 1, 0, 1};   // now the swaps are across types: not allowed
    EXPECT_GT(bg::alignPairs(x0, x1, o).second.item<double>(), 1e-3);
}

TEST(Alignment, BatchCouplingMatchesBruteForceOverBatchPermutations) {
    torch::manual_seed(8);
    const int B = 5;
    torch::Tensor x0 = bg::removeCentreOfMass(torch::randn({B, 4, 2}, f64)), x1 = torch::randn({B, 4, 2}, f64);
    bg::AlignmentOptions o;
    torch::Tensor paired = bg::equivariantOtCoupling(x0, x1, o);
    const double total = (paired - bg::removeCentreOfMass(x1)).square().sum().item<double>();
    // Aligned cost of every pair, then the best bijection by brute force.
    std::vector<std::vector<double>> c(B, std::vector<double>(B));
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++)
            c[i][j] = bg::alignPairs(x0[i].unsqueeze(0), x1[j].unsqueeze(0), o).second.item<double>();
    std::vector<int> perm(B);
    std::iota(perm.begin(), perm.end(), 0);
    double best = std::numeric_limits<double>::infinity();
    do {
        double s = 0;
        for (int i = 0; i < B; i++)
            s += c[i][perm[i]];
        best = std::min(best, s);
    } while (std::next_permutation(perm.begin(), perm.end()));
    EXPECT_NEAR(total, best, 1e-9);
    // Each paired row is an aligned copy of one noise sample: same sorted pair distances.
    auto distances = [](const torch::Tensor& x) { return std::get<0>(torch::cdist(x, x).flatten(1).sort(1)); };
    torch::Tensor used = torch::zeros({B}, torch::kBool);
    for (int j = 0; j < B; j++) {
        torch::Tensor gap = (distances(paired[j].unsqueeze(0)) - distances(x0)).abs().amax(1);
        EXPECT_LT(gap.min().item<double>(), 1e-10);
    }
    // Minibatch OT without symmetries is a bijection too and lowers the flattened cost.
    torch::Tensor ot = bg::minibatchOtCoupling(x0, x1);
    EXPECT_LE((ot - x1).square().sum().item<double>(), (x0 - x1).square().sum().item<double>() + 1e-12);
}

} // namespace
