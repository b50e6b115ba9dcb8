// The E-CNF model (ecnf-spec 1, 4): configuration, equivariance of v and log q, divergences, the
// change of variables against a closed form, ODE round trips, and saving.

#include "CnfTestUtilities.h"
#include "bg/CnfFiles.h"
#include "bg/CnfIntegration.h"
#include "bg/EquivariantAlignment.h"
#include "bg/EquivariantCnf.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

using bgtest::nonTrivialCnf;
using bgtest::smallCnfConfig;

TEST(CnfConfig, JsonRoundTripAndValidation) {
    bg::CnfConfig c = smallCnfConfig(13, 3);
    c.solver = bg::OdeMethod::Rk4;
    c.divergence = bg::DivergenceMethod::Hutchinson;
    EXPECT_EQ(bg::CnfConfig::fromJson(c.toJson()).toJson(), c.toJson());
    EXPECT_NE(c.toJson().find("\"model\": \"ecnf\""), std::string::npos);
    EXPECT_THROW(bg::CnfConfig::fromJson(R"({"model": "eacf"})"), std::invalid_argument);
    EXPECT_THROW(bg::CnfConfig::fromJson(R"({"solver": "euler"})"), std::invalid_argument);
    EXPECT_THROW(bg::CnfConfig::fromJson(R"({"sigmaMin": 1.5})"), std::invalid_argument);
    EXPECT_THROW(bg::CnfConfig::fromJson(R"({"bogus": 1})"), std::invalid_argument);
    EXPECT_THROW(bg::CnfConfig::fromJson(R"({"timeEmbeddingDim": 5})"), std::invalid_argument);
}

TEST(EGNNConditioning, IsAdditiveAndChecked) {
    bg::EGNNSettings plain;
    plain.numLayers = 2;
    bg::EGNN without(plain);
    for (const auto& p : without->named_parameters())
        EXPECT_EQ(p.key().find("conditioning"), std::string::npos);   // saved E-ACF flows keep their layout
    bg::EGNNSettings settings = plain;
    settings.numConditioning = 4;
    bg::EGNN with(settings);
    torch::Tensor x = torch::randn({2, 5, 1, 3});
    EXPECT_THROW(with->forward(x, torch::Tensor()), std::invalid_argument);
    EXPECT_THROW(with->forwardConditioned(x, torch::Tensor(), torch::randn({2, 3})), std::invalid_argument);
    EXPECT_THROW(without->forwardConditioned(x, torch::Tensor(), torch::randn({2, 4})), std::invalid_argument);
    torch::Tensor c = torch::randn({2, 4});
    auto a = with->forwardConditioned(x, torch::Tensor(), c).first, b = with->forwardConditioned(x, torch::Tensor(), c * 2).first;
    EXPECT_GT((a - b).abs().max().item<double>(), 0.0);
}

TEST(EquivariantCnf, VelocityIsEquivariantAndZeroCoM) {
    for (int d : {2, 3}) {
        bg::EquivariantCnf cnf = nonTrivialCnf(smallCnfConfig(5, d));
        torch::Tensor x = torch::randn({3, 5, d}, f64), t = torch::rand({3}, f64);
        torch::Tensor v = cnf->velocity(x, t);
        EXPECT_GT(v.abs().max().item<double>(), 1e-2);
        EXPECT_LT(v.mean(1).abs().max().item<double>(), 1e-14);
        torch::Tensor R = bg::randomRotations(1, d, f64)[0];
        torch::Tensor perm = torch::tensor({3, 0, 4, 1, 2});
        torch::Tensor moved = x.matmul(R.t()).index_select(1, perm) + torch::randn({1, 1, d}, f64) * 5;
        torch::Tensor expected = v.matmul(R.t()).index_select(1, perm);
        EXPECT_LT((cnf->velocity(moved, t) - expected).abs().max().item<double>(), 1e-10) << d << "-D";
        EXPECT_GT((cnf->velocity(x, t + 0.3) - v).abs().max().item<double>(), 1e-6);   // time enters
    }
}

TEST(EquivariantCnf, ExactDivergenceMatchesFiniteDifferenceJacobianTrace) {
    bg::EquivariantCnf cnf = nonTrivialCnf(smallCnfConfig(4, 3));
    torch::Tensor x = torch::randn({2, 4, 3}, f64), t = torch::rand({2}, f64);
    bg::VelocityFunction f = [&](const torch::Tensor& xs, const torch::Tensor& ts) { return cnf->velocity(xs, ts); };
    auto [v, div] = bg::velocityAndExactDivergence(f, x, t);
    torch::NoGradGuard noGrad;
    torch::Tensor trace = torch::zeros({2}, f64);
    const double h = 1e-5;
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++) {
            torch::Tensor e = torch::zeros_like(x);
            e.select(1, i).select(1, k).fill_(h);
            trace += ((cnf->velocity(x + e, t) - cnf->velocity(x - e, t)) / (2 * h)).select(1, i).select(1, k);
        }
    EXPECT_GT(div.abs().max().item<double>(), 1e-3);
    EXPECT_LT((div - trace).abs().max().item<double>(), 1e-7);
    EXPECT_LT((v - cnf->velocity(x, t)).abs().max().item<double>(), 1e-14);
    // Hutchinson with zero-CoM Gaussian probes is unbiased: the mean over many probes approaches it.
    torch::Tensor many = x.repeat({4000, 1, 1}), tm = t.repeat({4000});
    torch::Tensor probes = bg::removeCentreOfMass(torch::randn_like(many));
    auto [vm, estimate] = bg::velocityAndHutchinsonDivergence(f, many, tm, probes);
    torch::Tensor mean = estimate.view({4000, 2}).mean(0), sem = estimate.view({4000, 2}).std(0) / std::sqrt(4000.0);
    EXPECT_TRUE(((mean - div).abs() < 5 * sem + 1e-9).all().item<bool>());
}

TEST(EquivariantCnf, ZeroCentreOfMassBasisIsOrthonormalAndOrthogonalToTranslations) {
    for (int n = 2; n <= 6; n++) {
        torch::Tensor Q = bg::zeroCentreOfMassBasis(n);
        ASSERT_EQ(Q.sizes(), (std::vector<int64_t>{n, n - 1}));
        EXPECT_LT((Q.t().matmul(Q) - torch::eye(n - 1, f64)).abs().max().item<double>(), 1e-14) << n;
        EXPECT_LT(Q.sum(0).abs().max().item<double>(), 1e-14) << n;
    }
    EXPECT_THROW(bg::zeroCentreOfMassBasis(1), std::invalid_argument);
}

TEST(EquivariantCnf, SubspaceDivergenceIsTheTraceOnTheSpannedDirections) {
    // f(x) = x C^T acts on every particle alike: the full trace is N tr(C), the trace on the zero-CoM
    // subspace (N-1) tr(C). The E-CNF's own field is zero-CoM and translation invariant, so there
    // both traces agree. 3 rows take the replicated path, 40 rows one backward pass per direction.
    const int N = 5, D = 3;
    torch::manual_seed(21);
    torch::Tensor C = torch::randn({D, D}, f64), x = torch::randn({40, N, D}, f64), t = torch::rand({40}, f64);
    bg::VelocityFunction linear = [&](const torch::Tensor& xs, const torch::Tensor&) { return xs.matmul(C.t()); };
    const double trC = C.trace().item<double>();
    for (int64_t rows : {3, 40}) {
        torch::Tensor xr = x.narrow(0, 0, rows), tr = t.narrow(0, 0, rows);
        auto [v, full] = bg::velocityAndExactDivergence(linear, xr, tr);
        auto [vs, sub] = bg::velocityAndExactDivergence(linear, xr, tr, bg::zeroCentreOfMassBasis(N));
        EXPECT_LT((full - N * trC).abs().max().item<double>(), 1e-12) << rows;
        EXPECT_LT((sub - (N - 1) * trC).abs().max().item<double>(), 1e-12) << rows;
        EXPECT_LT((vs - xr.matmul(C.t())).abs().max().item<double>(), 1e-15) << rows;
    }
    EXPECT_THROW(bg::velocityAndExactDivergence(linear, x, t, torch::eye(N - 1, f64)), std::invalid_argument);

    bg::EquivariantCnf cnf = nonTrivialCnf(smallCnfConfig(N, D));
    bg::VelocityFunction field = [&](const torch::Tensor& xs, const torch::Tensor& ts) { return cnf->velocity(xs, ts); };
    auto [v1, cnfFull] = bg::velocityAndExactDivergence(field, x, t);
    auto [v2, cnfSub] = bg::velocityAndExactDivergence(field, x, t, bg::zeroCentreOfMassBasis(N));
    auto [v3, fewRows] = bg::velocityAndExactDivergence(field, x.narrow(0, 0, 3), t.narrow(0, 0, 3), bg::zeroCentreOfMassBasis(N));
    EXPECT_GT(cnfFull.abs().max().item<double>(), 1e-3);
    EXPECT_LT((cnfSub - cnfFull).abs().max().item<double>(), 1e-10);
    EXPECT_LT((fewRows - cnfSub.narrow(0, 0, 3)).abs().max().item<double>(), 1e-10);
    EXPECT_LT((v3 - v1.narrow(0, 0, 3)).abs().max().item<double>(), 1e-12);
    // In passes of 7 rows (the last one 5) each row keeps its own t and its own values.
    auto [v4, byPasses] = bg::velocityAndExactDivergence(field, x, t, bg::zeroCentreOfMassBasis(N), bg::ExactDivergenceStrategy::Sequential, 7);
    EXPECT_LT((byPasses - cnfSub).abs().max().item<double>(), 1e-12);
    EXPECT_LT((v4 - v1).abs().max().item<double>(), 1e-12);
    EXPECT_THROW(bg::velocityAndExactDivergence(field, x, t, torch::Tensor(), bg::ExactDivergenceStrategy::Sequential, -1), std::invalid_argument);
}

TEST(CnfIntegration, LogDensityOfALinearFieldMatchesClosedForm) {
    // v(x, t) = (a + b t) P x C^T: x(1) = P x0 expm((a + b/2) C)^T, div = (N-1)(a + b t) tr(C).
    const int N = 4, D = 3;
    const double a = 0.4, b = -0.6;
    torch::manual_seed(12);
    torch::Tensor C = torch::randn({D, D}, f64);
    bg::VelocityFunction f = [&](const torch::Tensor& x, const torch::Tensor& t) {
        return (a + b * t).view({-1, 1, 1}) * bg::removeCentreOfMass(x).matmul(C.t());
    };
    torch::Tensor x0 = bg::removeCentreOfMass(torch::randn({3, N, D}, f64));
    bg::OdeOptions o;
    o.rtol = o.atol = 1e-10;
    for (bool exact : {true, false}) {
        torch::Tensor probe = exact ? torch::Tensor() : bg::removeCentreOfMass(torch::randn_like(x0));
        bg::CnfTransform r = bg::integrateCnf(f, x0, 0.0, 1.0, o, true, probe);
        torch::Tensor expm = torch::linalg_matrix_exp((a + b / 2) * C);
        EXPECT_LT((r.x - x0.matmul(expm.t())).abs().max().item<double>(), 1e-8);
        // Hutchinson is exact here in expectation only; for a linear field eps^T J eps varies with eps.
        const double integral = (N - 1) * (a + b / 2) * C.trace().item<double>();
        if (exact)
            EXPECT_LT((r.divergenceIntegral - integral).abs().max().item<double>(), 1e-8);
        else {
            torch::Tensor quadratic = (a + b / 2) * (probe.matmul(C.t()) * probe).sum({1, 2});
            EXPECT_LT((r.divergenceIntegral - quadratic).abs().max().item<double>(), 1e-8);
        }
    }
}

TEST(EquivariantCnf, LogProbIsInvariantAndConsistentWithSampling) {
    bg::CnfConfig config = smallCnfConfig(4, 2);
    config.rtol = config.atol = 1e-6;
    bg::EquivariantCnf cnf = nonTrivialCnf(config);
    torch::Generator generator = at::detail::createCPUGenerator(5);
    bg::CnfSample s = cnf->sample(3, generator);
    torch::Tensor R = bg::randomRotations(1, 2, f64)[0];
    torch::Tensor moved = s.x.matmul(R.t()).index_select(1, torch::tensor({2, 3, 1, 0})) + 1.7;
    // One batch, so every row takes the same steps: invariance holds to rounding.
    torch::Tensor logQ = cnf->logProb(torch::cat({s.x, moved}));
    EXPECT_LT((logQ.narrow(0, 0, 3) - logQ.narrow(0, 3, 3)).abs().max().item<double>(), 1e-10);
    EXPECT_LT((logQ.narrow(0, 0, 3) - s.logProb).abs().max().item<double>(), 1e-3);
    EXPECT_GT((s.logProb - cnf->baseLogProb(s.x)).abs().max().item<double>(), 1e-2);   // the flow is not the identity
    EXPECT_GT(s.evaluations, 6);
}

/** Max |x0 - back(forward(x0))| and max |int div forward + int div back| of a round trip. */
std::pair<double, double> roundTrip(bg::EquivariantCnf& cnf, const torch::Tensor& x0) {
    bg::CnfTransform forward = cnf->transform(x0, 0.0, 1.0, true);
    bg::CnfTransform back = cnf->transform(forward.x, 1.0, 0.0, true);
    EXPECT_GT((forward.x - x0).abs().max().item<double>(), 0.1);   // the map moves points
    return {(back.x - x0).abs().max().item<double>(), (forward.divergenceIntegral + back.divergenceIntegral).abs().max().item<double>()};
}

TEST(EquivariantCnf, ForwardThenBackwardRoundTrip) {
    bg::CnfConfig config = smallCnfConfig(4, 3);
    bg::EquivariantCnf cnf = nonTrivialCnf(config);
    torch::Tensor x0 = cnf->sampleBase(2);
    // Dormand-Prince: the round-trip error follows the tolerance (local errors ~ tol over ~50 steps each way).
    auto [loose, looseDiv] = roundTrip(cnf, x0);
    EXPECT_LT(loose, 1e-3);
    EXPECT_LT(looseDiv, 1e-2);
    cnf->solverOptions().rtol = cnf->solverOptions().atol = 1e-7;
    auto [tight, tightDiv] = roundTrip(cnf, x0);
    EXPECT_LT(tight, 4e-5);   // ~1400 steps each way: 1.8e-5 with the full trace, 2.7e-5 on the subspace
    EXPECT_LT(tightDiv, 2e-4);
    EXPECT_LT(tight, loose / 10);
    // Fixed-step RK4 with 50 steps.
    cnf->solverOptions().method = bg::OdeMethod::Rk4;
    cnf->solverOptions().rk4Steps = 50;
    auto [rk4, rk4Div] = roundTrip(cnf, x0);
    EXPECT_LT(rk4, 1e-5);
    EXPECT_LT(rk4Div, 1e-4);
}

TEST(EquivariantCnf, HutchinsonDensityIsUnbiasedAroundTheExactOne) {
    bg::CnfConfig config = smallCnfConfig(4, 2);
    bg::EquivariantCnf cnf = nonTrivialCnf(config);
    torch::Tensor x = cnf->sampleBase(1).repeat({400, 1, 1}) * 1.5;
    torch::Tensor exact = cnf->logProb(x.narrow(0, 0, 1));
    cnf->setDivergenceMethod(bg::DivergenceMethod::Hutchinson);
    torch::Generator generator = at::detail::createCPUGenerator(9);
    torch::Tensor estimates = cnf->logProb(x, generator);
    EXPECT_GT(estimates.std().item<double>(), 1e-4);   // the probes differ per row
    EXPECT_LT((estimates.mean() - exact[0]).abs().item<double>(), 4 * estimates.std().item<double>() / 20 + 1e-6);
}

TEST(CnfFiles, SaveLoadRoundTripAndCorruption) {
    bg::EquivariantCnf cnf = nonTrivialCnf(smallCnfConfig(4, 2));
    std::string bytes = bg::saveCnf(cnf);
    EXPECT_EQ(bg::savedModelKind(bytes), "ecnf");
    bg::EquivariantCnf loaded = bg::loadCnf(bytes);
    torch::Tensor x = torch::randn({2, 4, 2}, f64), t = torch::rand({2}, f64);
    EXPECT_TRUE(torch::equal(cnf->velocity(x, t), loaded->velocity(x, t)));
    EXPECT_EQ(bg::readCnfConfig(bytes).toJson(), cnf->getConfig().toJson());
    std::string corrupted = bytes;
    corrupted[corrupted.size() / 2] ^= 0x20;
    EXPECT_THROW(bg::loadCnf(corrupted), std::invalid_argument);
    EXPECT_THROW(bg::loadCnf(bytes.substr(0, bytes.size() - 10)), std::invalid_argument);
    EXPECT_THROW(bg::loadCnf("BGFLOW2\n1 2 00000000\nxx"), std::invalid_argument);
}

} // namespace
