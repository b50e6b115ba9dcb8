// The elementwise rational-quadratic spline and affine transforms (model-spec sections 4.1 and 5).

#include "bg/RationalQuadraticSpline.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

using namespace bg;

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

SplineSettings makeSettings(int numBins, double rangeMin, double rangeMax, bool circular) {
    SplineSettings settings;
    settings.numBins = numBins;
    settings.rangeMin = rangeMin;
    settings.rangeMax = rangeMax;
    settings.circular = circular;
    return settings;
}

/** Random spline parameters [shape..., 3K+1] with logits of standard deviation `scale`. */
torch::Tensor randomParams(std::vector<int64_t> shape, const SplineSettings& settings, double scale, uint64_t seed) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    shape.push_back(settings.numParameters());
    return scale * torch::randn(shape, gen, f64);
}

torch::Tensor uniform(std::vector<int64_t> shape, double low, double high, uint64_t seed) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    return low + (high - low) * torch::rand(shape, gen, f64);
}

double maxAbs(const torch::Tensor& t) {
    return t.abs().max().item<double>();
}

/** Elementwise dy/dx of an elementwise map, from autograd. */
torch::Tensor autogradDerivative(const std::function<torch::Tensor(const torch::Tensor&)>& map, const torch::Tensor& x) {
    torch::Tensor input = x.detach().clone().requires_grad_(true);
    torch::Tensor y = map(input);
    return torch::autograd::grad({y.sum()}, {input})[0];
}

/** The knot slope softplus(s + log(e^(1-d) - 1)) + d of the spec, written out independently. */
double knotSlope(double logit) {
    const double delta = 1e-4;
    return std::log1p(std::exp(logit + std::log(std::exp(1.0 - delta) - 1.0))) + delta;
}

/** Throws and mentions `function` in the message. */
template <class F>
void expectInvalidArgument(F call, const std::string& function) {
    try {
        call();
        ADD_FAILURE() << "expected std::invalid_argument from " << function;
    }
    catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find(function), std::string::npos) << e.what();
    }
}

} // namespace

TEST(RationalQuadraticSpline, ZeroParametersGiveTheIdentity) {
    // Includes the range ends and points far outside the range [-10, 10].
    torch::Tensor x = torch::cat({torch::linspace(-25.0, 25.0, 501, f64), torch::tensor({-10.0, 10.0}, f64)});
    for (bool circular : {false, true}) {
        SplineSettings settings = makeSettings(8, -10.0, 10.0, circular);
        torch::Tensor params = torch::zeros({x.size(0), settings.numParameters()}, f64);
        for (bool inverse : {false, true}) {
            ElementwiseResult r = rationalQuadraticSpline(x, params, settings, inverse);
            ASSERT_EQ(r.y.sizes(), x.sizes());
            ASSERT_EQ(r.logDet.sizes(), x.sizes());
            EXPECT_LT(maxAbs(r.y - x), 1e-12) << "circular " << circular << " inverse " << inverse;
            EXPECT_LT(maxAbs(r.logDet), 1e-12) << "circular " << circular << " inverse " << inverse;
        }
    }
}

TEST(RationalQuadraticSpline, IsStrictlyIncreasing) {
    // Five splines with large logits (very uneven bins and slopes), each on a dense grid; params
    // [5, 1, 3K+1] broadcast over the grid dimension of x [5, M].
    for (bool circular : {false, true}) {
        SplineSettings settings = makeSettings(8, -5.0, 5.0, circular);
        torch::Tensor params = randomParams({5, 1}, settings, 3.0, 21);
        torch::Tensor x = torch::linspace(-7.0, 7.0, 20001, f64).expand({5, 20001});
        for (bool inverse : {false, true}) {
            torch::Tensor y = rationalQuadraticSpline(x, params, settings, inverse).y;
            ASSERT_EQ(y.sizes(), x.sizes());
            torch::Tensor steps = y.narrow(1, 1, 20000) - y.narrow(1, 0, 20000);
            EXPECT_GT(steps.min().item<double>(), 0.0) << "circular " << circular << " inverse " << inverse;
        }
    }
}

TEST(RationalQuadraticSpline, InverseUndoesForward) {
    const int64_t n = 4000;
    torch::Tensor x = uniform({n}, -14.0, 14.0, 5);   // about 30% outside [-10, 10]
    for (bool circular : {false, true}) {
        SplineSettings settings = makeSettings(8, -10.0, 10.0, circular);
        torch::Tensor params = randomParams({n}, settings, 1.0, 6);
        ElementwiseResult forward = rationalQuadraticSpline(x, params, settings, false);
        ElementwiseResult back = rationalQuadraticSpline(forward.y, params, settings, true);
        EXPECT_LT(maxAbs(back.y - x), 1e-10) << "circular " << circular;
        EXPECT_LT(maxAbs(forward.logDet + back.logDet), 1e-10) << "circular " << circular;
        // And the other way round: forward(inverse(y)) == y.
        ElementwiseResult inv = rationalQuadraticSpline(x, params, settings, true);
        ElementwiseResult again = rationalQuadraticSpline(inv.y, params, settings, false);
        EXPECT_LT(maxAbs(again.y - x), 1e-10) << "circular " << circular;
        EXPECT_LT(maxAbs(inv.logDet + again.logDet), 1e-10) << "circular " << circular;
        // The spline is not the identity for these parameters.
        EXPECT_GT(maxAbs(forward.y - x), 0.1);
    }
}

TEST(RationalQuadraticSpline, InverseIsBackwardStableForExtremeParameters) {
    // Logits of standard deviation 3 give bins where dy/dx falls to about 1e-8: there y no longer
    // determines x to 1e-10 in float64, but the recovered x must still reproduce y, i.e. the
    // error in x times dy/dx stays at rounding level.
    const int64_t n = 4000;
    torch::Tensor x = uniform({n}, -14.0, 14.0, 15);
    SplineSettings settings = makeSettings(8, -10.0, 10.0, false);
    torch::Tensor params = randomParams({n}, settings, 3.0, 16);
    ElementwiseResult forward = rationalQuadraticSpline(x, params, settings, false);
    ASSERT_LT(forward.logDet.min().item<double>(), std::log(1e-6));
    ElementwiseResult back = rationalQuadraticSpline(forward.y, params, settings, true);
    EXPECT_LT(maxAbs((back.y - x) * forward.logDet.exp()), 1e-12);
    EXPECT_LT(maxAbs(rationalQuadraticSpline(back.y, params, settings, false).y - forward.y), 1e-12);
    EXPECT_TRUE(torch::isfinite(back.logDet).all().item<bool>());
}

TEST(RationalQuadraticSpline, LogDetMatchesAutograd) {
    const int64_t n = 2000;
    torch::Tensor x = uniform({n}, -6.0, 6.0, 8);   // range [-4, 4]: a third of the points is outside
    for (bool circular : {false, true}) {
        SplineSettings settings = makeSettings(6, -4.0, 4.0, circular);
        torch::Tensor params = randomParams({n}, settings, 1.5, 9);
        for (bool inverse : {false, true}) {
            auto map = [&](const torch::Tensor& input) {
                return rationalQuadraticSpline(input, params, settings, inverse).y;
            };
            torch::Tensor logDet = rationalQuadraticSpline(x, params, settings, inverse).logDet;
            torch::Tensor derivative = autogradDerivative(map, x);
            ASSERT_GT(derivative.min().item<double>(), 0.0);
            EXPECT_LT(maxAbs(derivative.log() - logDet), 1e-8) << "circular " << circular << " inverse " << inverse;
        }
    }
}

TEST(RationalQuadraticSpline, RangeEndsAreFixedPoints) {
    SplineSettings settings = makeSettings(8, 0.0, 3.0, false);
    torch::Tensor params = randomParams({64}, settings, 2.0, 12);
    for (bool inverse : {false, true}) {
        torch::Tensor low = rationalQuadraticSpline(torch::zeros({64}, f64), params, settings, inverse).y;
        torch::Tensor high = rationalQuadraticSpline(torch::full({64}, 3.0, f64), params, settings, inverse).y;
        EXPECT_LT(maxAbs(low), 1e-12);
        EXPECT_LT(maxAbs(high - 3.0), 1e-12);
    }
}

TEST(RationalQuadraticSpline, KnotsAndSlopesFollowTheParameterLayout) {
    // Recompute knots and slopes from [K width logits | K height logits | K+1 slope logits] by hand:
    // at every knot x_k the spline must give y_k with derivative d_k.
    const int numBins = 5;
    const double rangeMin = -2.0, rangeMax = 4.0, range = rangeMax - rangeMin, minBin = range * 1e-4;
    SplineSettings settings = makeSettings(numBins, rangeMin, rangeMax, false);
    torch::Tensor params = randomParams({}, settings, 1.0, 31);
    auto p = params.accessor<double, 1>();
    auto knotsOf = [&](int offset) {
        std::vector<double> e(numBins), knots(numBins + 1, rangeMin);
        double total = 0;
        for (int i = 0; i < numBins; i++)
            total += (e[i] = std::exp(p[offset + i]));
        for (int i = 0; i < numBins; i++)
            knots[i + 1] = knots[i] + e[i] / total * (range - numBins * minBin) + minBin;
        return knots;
    };
    std::vector<double> xKnots = knotsOf(0), yKnots = knotsOf(numBins);
    EXPECT_NEAR(xKnots[numBins], rangeMax, 1e-12);
    torch::Tensor x = torch::tensor(xKnots, f64);
    ElementwiseResult r = rationalQuadraticSpline(x, params, settings, false);
    ElementwiseResult back = rationalQuadraticSpline(torch::tensor(yKnots, f64), params, settings, true);
    for (int k = 0; k <= numBins; k++) {
        EXPECT_NEAR(r.y[k].item<double>(), yKnots[k], 1e-12) << "knot " << k;
        EXPECT_NEAR(back.y[k].item<double>(), xKnots[k], 1e-12) << "knot " << k;
        // At the last knot the derivative is the left limit in the last bin, also d_K.
        EXPECT_NEAR(r.logDet[k].item<double>(), std::log(knotSlope(p[2 * numBins + k])), 1e-10) << "knot " << k;
    }
}

TEST(RationalQuadraticSpline, MatchesAHandComputedTwoBinSpline) {
    // K = 2 on [0, 2] with zero width and slope logits: two unit-width bins with heights h0 and
    // h1 = 2 - h0 and unit knot slopes. At a bin's midpoint the RQS formula reduces to
    // y = y_k + h/2 and dy/dx = 2 s^2 / (1 + s) with s = h (w = 1).
    SplineSettings settings = makeSettings(2, 0.0, 2.0, false);
    torch::Tensor params = torch::zeros({7}, f64);
    params[2] = 0.4;
    params[3] = -0.4;
    const double minBin = 2.0 * 1e-4;
    const double h0 = (2.0 - 2 * minBin) / (1.0 + std::exp(-0.8)) + minBin, h1 = 2.0 - h0;
    ElementwiseResult r = rationalQuadraticSpline(torch::tensor({0.5, 1.5}, f64), params, settings, false);
    EXPECT_NEAR(r.y[0].item<double>(), h0 / 2, 1e-12);
    EXPECT_NEAR(r.y[1].item<double>(), h0 + h1 / 2, 1e-12);
    EXPECT_NEAR(r.logDet[0].item<double>(), std::log(2 * h0 * h0 / (1 + h0)), 1e-12);
    EXPECT_NEAR(r.logDet[1].item<double>(), std::log(2 * h1 * h1 / (1 + h1)), 1e-12);
}

TEST(RationalQuadraticSpline, CircularSlopeIsContinuousAcrossTheRange) {
    SplineSettings circular = makeSettings(8, -M_PI, M_PI, true);
    SplineSettings open = makeSettings(8, -M_PI, M_PI, false);
    torch::Tensor params = randomParams({16}, circular, 1.0, 41);
    torch::Tensor ends = torch::tensor({-M_PI, M_PI}, f64).expand({16, 2});
    torch::Tensor circularLogDet = rationalQuadraticSpline(ends, params.unsqueeze(1), circular, false).logDet;
    torch::Tensor openLogDet = rationalQuadraticSpline(ends, params.unsqueeze(1), open, false).logDet;
    // Circular: the derivative at rangeMin equals the one at rangeMax, both d_0.
    EXPECT_LT(maxAbs(circularLogDet.select(1, 0) - circularLogDet.select(1, 1)), 1e-12);
    // Unconstrained: the last slope comes from its own logit, so the ends differ.
    torch::Tensor openGap = (openLogDet.select(1, 0) - openLogDet.select(1, 1)).abs();
    EXPECT_GT(openGap.min().item<double>(), 1e-6);
    EXPECT_GT(openGap.max().item<double>(), 0.1);
    // The circular spline ignores the last slope logit.
    torch::Tensor x = uniform({16}, -4.0, 4.0, 42);
    torch::Tensor changed = params.clone();
    changed.select(-1, circular.numParameters() - 1) += 3.0;
    ElementwiseResult a = rationalQuadraticSpline(x, params, circular, false);
    ElementwiseResult b = rationalQuadraticSpline(x, changed, circular, false);
    EXPECT_TRUE(torch::equal(a.y, b.y));
    EXPECT_TRUE(torch::equal(a.logDet, b.logDet));
}

TEST(RationalQuadraticSpline, TailsAreLinearWithTheBoundarySlope) {
    const int numBins = 8;
    const double rangeMin = 0.0, rangeMax = 10.0;
    SplineSettings settings = makeSettings(numBins, rangeMin, rangeMax, false);
    torch::Tensor params = randomParams({}, settings, 1.5, 51);
    const double lowSlope = knotSlope(params[2 * numBins].item<double>());
    const double highSlope = knotSlope(params[3 * numBins].item<double>());
    ASSERT_GT(std::abs(std::log(lowSlope)), 0.05);   // not accidentally the identity
    ASSERT_GT(std::abs(std::log(highSlope)), 0.05);
    torch::Tensor below = torch::tensor({-1e-3, -0.7, -5.0, -100.0}, f64);
    torch::Tensor above = torch::tensor({10.0 + 1e-3, 12.5, 40.0, 1000.0}, f64);
    ElementwiseResult low = rationalQuadraticSpline(below, params, settings, false);
    ElementwiseResult high = rationalQuadraticSpline(above, params, settings, false);
    EXPECT_LT(maxAbs(low.y - (rangeMin + lowSlope * (below - rangeMin))), 1e-11);
    EXPECT_LT(maxAbs(high.y - (rangeMax + highSlope * (above - rangeMax))), 1e-11);
    EXPECT_LT(maxAbs(low.logDet - std::log(lowSlope)), 1e-12);
    EXPECT_LT(maxAbs(high.logDet - std::log(highSlope)), 1e-12);
    // The inverse tails are the inverse lines.
    ElementwiseResult lowInverse = rationalQuadraticSpline(below, params, settings, true);
    EXPECT_LT(maxAbs(lowInverse.y - (rangeMin + (below - rangeMin) / lowSlope)), 1e-11);
    EXPECT_LT(maxAbs(lowInverse.logDet + std::log(lowSlope)), 1e-12);
}

TEST(RationalQuadraticSpline, ParamsBroadcastOverX) {
    SplineSettings settings = makeSettings(4, -3.0, 3.0, false);
    torch::Tensor params = randomParams({3}, settings, 1.0, 61);   // one spline per column
    torch::Tensor x = uniform({7, 3}, -4.0, 4.0, 62);
    ElementwiseResult broadcast = rationalQuadraticSpline(x, params, settings, false);
    ElementwiseResult explicitParams = rationalQuadraticSpline(x, params.expand({7, 3, 13}).contiguous(), settings, false);
    ASSERT_EQ(broadcast.y.sizes(), x.sizes());
    ASSERT_EQ(broadcast.logDet.sizes(), x.sizes());
    EXPECT_TRUE(torch::allclose(broadcast.y, explicitParams.y, 0, 1e-15));
    EXPECT_TRUE(torch::allclose(broadcast.logDet, explicitParams.logDet, 0, 1e-15));
}

TEST(RationalQuadraticSpline, ParameterGradientsAreFinite) {
    // Points inside, outside and exactly on the range ends; gradients flow to the parameters and
    // never pick up NaN from the branch that torch::where discards.
    SplineSettings settings = makeSettings(8, -1.0, 1.0, false);
    torch::Tensor x = torch::tensor({-50.0, -1.0, -0.3, 0.0, 0.9, 1.0, 1.5, 80.0}, f64);
    for (bool inverse : {false, true}) {
        torch::Tensor params = randomParams({8}, settings, 2.0, 71).requires_grad_(true);
        ElementwiseResult r = rationalQuadraticSpline(x, params, settings, inverse);
        torch::Tensor grad = torch::autograd::grad({r.y.sum() + r.logDet.sum()}, {params})[0];
        EXPECT_TRUE(torch::isfinite(grad).all().item<bool>()) << "inverse " << inverse;
        EXPECT_GT(maxAbs(grad), 0.0);
    }
}

TEST(RationalQuadraticSpline, Float32AgreesWithFloat64) {
    // The float64 reference sees the same (float32-representable) inputs. Knots near |10| carry
    // float32 rounding of about 1e-6, which narrow bins amplify in the worst element; typical
    // errors are about 1e-6.
    const int64_t n = 3000;
    torch::Tensor x32 = uniform({n}, -13.0, 13.0, 81).to(torch::kFloat32);
    for (bool circular : {false, true}) {
        SplineSettings settings = makeSettings(8, -10.0, 10.0, circular);
        torch::Tensor params32 = randomParams({n}, settings, 1.0, 82).to(torch::kFloat32);
        for (bool inverse : {false, true}) {
            ElementwiseResult r64 = rationalQuadraticSpline(x32.to(torch::kFloat64), params32.to(torch::kFloat64),
                                                            settings, inverse);
            ElementwiseResult r32 = rationalQuadraticSpline(x32, params32, settings, inverse);
            ASSERT_EQ(r32.y.scalar_type(), torch::kFloat32);
            ASSERT_EQ(r32.logDet.scalar_type(), torch::kFloat32);
            torch::Tensor yError = (r32.y.to(torch::kFloat64) - r64.y).abs();
            torch::Tensor logDetError = (r32.logDet.to(torch::kFloat64) - r64.logDet).abs();
            EXPECT_LT(yError.mean().item<double>(), 1e-5) << "circular " << circular << " inverse " << inverse;
            EXPECT_LT(logDetError.mean().item<double>(), 1e-5) << "circular " << circular << " inverse " << inverse;
            EXPECT_LT(yError.max().item<double>(), 5e-4) << "circular " << circular << " inverse " << inverse;
            EXPECT_LT(logDetError.max().item<double>(), 2e-3) << "circular " << circular << " inverse " << inverse;
        }
    }
}

TEST(RationalQuadraticSpline, RunsOnCudaLikeOnCpu) {
    if (!torch::cuda::is_available())
        GTEST_SKIP() << "no CUDA device";
    SplineSettings settings = makeSettings(8, -10.0, 10.0, true);
    torch::Tensor params = randomParams({500}, settings, 1.0, 91);
    torch::Tensor x = uniform({500}, -12.0, 12.0, 92);
    for (bool inverse : {false, true}) {
        ElementwiseResult cpu = rationalQuadraticSpline(x, params, settings, inverse);
        ElementwiseResult gpu = rationalQuadraticSpline(x.cuda(), params.cuda(), settings, inverse);
        EXPECT_TRUE(gpu.y.is_cuda());
        EXPECT_TRUE(torch::allclose(gpu.y.cpu(), cpu.y, 1e-12, 1e-12));
        EXPECT_TRUE(torch::allclose(gpu.logDet.cpu(), cpu.logDet, 1e-12, 1e-12));
    }
}

TEST(RationalQuadraticSpline, RejectsBadInput) {
    const std::string name = "rationalQuadraticSpline";
    SplineSettings good = makeSettings(4, -1.0, 1.0, false);
    torch::Tensor x = torch::zeros({4, 5}, f64);
    torch::Tensor params = torch::zeros({4, 5, 13}, f64);
    EXPECT_NO_THROW(rationalQuadraticSpline(x, params, good, false));
    expectInvalidArgument([&] { rationalQuadraticSpline(x, params, makeSettings(1, -1.0, 1.0, false), false); }, name);
    expectInvalidArgument([&] { rationalQuadraticSpline(x, params, makeSettings(4, 1.0, 1.0, false), false); }, name);
    expectInvalidArgument([&] { rationalQuadraticSpline(x, params, makeSettings(4, 1.0, -1.0, false), false); }, name);
    expectInvalidArgument([&] { rationalQuadraticSpline(x, torch::zeros({4, 5, 12}, f64), good, false); }, name);
    expectInvalidArgument([&] { rationalQuadraticSpline(x, torch::zeros({4, 3, 13}, f64), good, true); }, name);
    expectInvalidArgument([&] { rationalQuadraticSpline(x, torch::zeros({2, 4, 5, 13}, f64), good, false); }, name);
    expectInvalidArgument([&] { rationalQuadraticSpline(x, params.to(torch::kFloat32), good, false); }, name);
    expectInvalidArgument([&] { rationalQuadraticSpline(x.to(torch::kInt64), params, good, false); }, name);
}

TEST(AffineTransform, ZeroParametersGiveTheIdentity) {
    torch::Tensor x = torch::linspace(-30.0, 30.0, 121, f64);
    for (bool inverse : {false, true}) {
        ElementwiseResult r = affineTransform(x, torch::zeros({121, 2}, f64), inverse);
        EXPECT_LT(maxAbs(r.y - x), 1e-12);
        EXPECT_LT(maxAbs(r.logDet), 1e-15);
    }
}

TEST(AffineTransform, MatchesTheFormulaAndInverts) {
    torch::Tensor x = uniform({500}, -5.0, 5.0, 101);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(102);
    torch::Tensor params = 2.0 * torch::randn({500, 2}, gen, f64);
    torch::Tensor scale = (params.select(1, 0) + std::log(std::exp(1.0) - 1.0)).exp().log1p();
    ElementwiseResult forward = affineTransform(x, params, false);
    EXPECT_LT(maxAbs(forward.y - (scale * x + params.select(1, 1))), 1e-12);
    EXPECT_LT(maxAbs(forward.logDet - scale.log()), 1e-12);
    ElementwiseResult back = affineTransform(forward.y, params, true);
    EXPECT_LT(maxAbs(back.y - x), 1e-10);
    EXPECT_LT(maxAbs(forward.logDet + back.logDet), 1e-14);
}

TEST(AffineTransform, LogDetMatchesAutograd) {
    torch::Tensor x = uniform({300}, -5.0, 5.0, 111);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(112);
    torch::Tensor params = torch::randn({300, 2}, gen, f64);
    for (bool inverse : {false, true}) {
        auto map = [&](const torch::Tensor& input) { return affineTransform(input, params, inverse).y; };
        torch::Tensor derivative = autogradDerivative(map, x);
        EXPECT_LT(maxAbs(derivative.log() - affineTransform(x, params, inverse).logDet), 1e-12);
    }
}

TEST(AffineTransform, BroadcastsParamsAndRunsInFloat32) {
    torch::Tensor x = uniform({6, 4}, -2.0, 2.0, 121);
    torch::Tensor params = torch::tensor({{0.3, -1.0}, {-0.2, 0.5}, {1.0, 0.0}, {0.0, 2.0}}, f64);   // [4, 2]
    ElementwiseResult r = affineTransform(x, params, false);
    ASSERT_EQ(r.y.sizes(), x.sizes());
    ASSERT_EQ(r.logDet.sizes(), x.sizes());
    ElementwiseResult r32 = affineTransform(x.to(torch::kFloat32), params.to(torch::kFloat32), false);
    EXPECT_TRUE(torch::allclose(r32.y.to(torch::kFloat64), r.y, 1e-6, 1e-6));
    EXPECT_TRUE(torch::allclose(r32.logDet.to(torch::kFloat64), r.logDet, 1e-6, 1e-6));
}

TEST(AffineTransform, RejectsBadInput) {
    const std::string name = "affineTransform";
    torch::Tensor x = torch::zeros({4, 5}, f64);
    EXPECT_NO_THROW(affineTransform(x, torch::zeros({4, 5, 2}, f64), false));
    expectInvalidArgument([&] { affineTransform(x, torch::zeros({4, 5, 3}, f64), false); }, name);
    expectInvalidArgument([&] { affineTransform(x, torch::zeros({3, 5, 2}, f64), true); }, name);
    expectInvalidArgument([&] { affineTransform(x, torch::zeros({4, 5, 2}, torch::kFloat32), false); }, name);
}
