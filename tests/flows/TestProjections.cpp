// The three projection maps: inverses, log-determinants against autograd, equivariance.

#include "FlowTestUtilities.h"
#include "bg/Projections.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <tuple>

using namespace bg;
using bgtest::f64;

namespace {

using Case = bgtest::ProjectionCase;
using bgtest::caseName;

class ProjectionTest : public ::testing::TestWithParam<Case> {
protected:
    void SetUp() override {
        torch::manual_seed(1234);
        config.dimension = GetParam().dimension;
        config.projection = GetParam().projection;
        config.innerTransform = GetParam().transform;
        splines = ProjectionSplines::fromConfig(config);
        const int d = config.dimension;
        numRefs = numReferencePoints(config.projection, d);
        numParams = numProjectionParameters(config.projection, config.innerTransform, d, config.splineBins);
        points = torch::randn({batch, d}, f64);
        refs = torch::randn({batch, numRefs, d}, f64);
        params = 0.7 * torch::randn({batch, numParams}, f64);
    }
    ProjectionResult apply(const torch::Tensor& p, const torch::Tensor& r, bool inverse) const {
        const int d = config.dimension;
        if (config.projection == Projection::Vector)
            return vectorProjection(p, r, params, splines, inverse);
        torch::Tensor shaped = params.view({batch, d, numParams / d});
        if (config.projection == Projection::Cartesian)
            return cartesianProjection(p, r, shaped, config.innerTransform, splines, inverse);
        return sphericalProjection(p, r, shaped, splines, inverse);
    }
    const int64_t batch = 16;
    FlowConfig config;
    ProjectionSplines splines;
    int numRefs = 0, numParams = 0;
    torch::Tensor points, refs, params;
};

} // namespace

TEST_P(ProjectionTest, InverseUndoesForward) {
    ProjectionResult forward = apply(points, refs, false);
    ProjectionResult back = apply(forward.points, refs, true);
    EXPECT_LT((back.points - points).abs().max().item<double>(), 1e-10);
    EXPECT_LT((forward.logDet + back.logDet).abs().max().item<double>(), 1e-9);
    // The transform is not secretly the identity.
    EXPECT_GT((forward.points - points).abs().max().item<double>(), 1e-3);
}

TEST_P(ProjectionTest, LogDetMatchesAutograd) {
    for (bool inverse : {false, true}) {
        ProjectionResult result = apply(points, refs, inverse);
        torch::Tensor expected = bgtest::autogradLogDet([&](const torch::Tensor& p) { return apply(p, refs, inverse).points; }, points);
        EXPECT_LT((result.logDet - expected).abs().max().item<double>(), 1e-8) << (inverse ? "inverse" : "forward");
    }
}

TEST_P(ProjectionTest, IsEquivariant) {
    // Rotating and translating the points together with the references rotates and translates the output;
    // the log-det does not change.
    const int d = config.dimension;
    torch::Tensor rotation = bgtest::randomRotation(d);
    torch::Tensor shift = torch::randn({d}, f64);
    ProjectionResult plain = apply(points, refs, false);
    ProjectionResult moved = apply(torch::matmul(points, rotation.t()) + shift, torch::matmul(refs, rotation.t()) + shift, false);
    EXPECT_LT((moved.points - (torch::matmul(plain.points, rotation.t()) + shift)).abs().max().item<double>(), 1e-10);
    EXPECT_LT((moved.logDet - plain.logDet).abs().max().item<double>(), 1e-10);
}

TEST(CartesianProjection, FrameRegulariserBreaksEquivarianceOnlySlightlyForLongVectors) {
    // With the reference code's eps = 1e-6 and frame vectors of order 1 nm the break stays near 1e-6.
    torch::manual_seed(99);
    FlowConfig config;
    config.dimension = 3;
    config.projection = Projection::Cartesian;
    config.frameRegulariser = 1e-6;
    ProjectionSplines splines = ProjectionSplines::fromConfig(config);
    torch::Tensor points = torch::randn({32, 3}, f64), refs = torch::randn({32, 3, 3}, f64);
    torch::Tensor params = 0.7 * torch::randn({32, 3, 25}, f64);
    torch::Tensor rotation = bgtest::randomRotation(3);
    ProjectionResult plain = cartesianProjection(points, refs, params, InnerTransform::Spline, splines, false);
    ProjectionResult moved = cartesianProjection(torch::matmul(points, rotation.t()), torch::matmul(refs, rotation.t()), params,
                                                 InnerTransform::Spline, splines, false);
    double error = (moved.points - torch::matmul(plain.points, rotation.t())).abs().max().item<double>();
    EXPECT_GT(error, 1e-12);   // not exact
    EXPECT_LT(error, 1e-3);
}

TEST_P(ProjectionTest, ZeroParametersGiveTheIdentity) {
    params = torch::zeros_like(params);
    ProjectionResult result = apply(points, refs, false);
    EXPECT_LT((result.points - points).abs().max().item<double>(), 1e-12);
    EXPECT_LT(result.logDet.abs().max().item<double>(), 1e-12);
}

INSTANTIATE_TEST_SUITE_P(AllProjections, ProjectionTest,
                         ::testing::Values(Case{Projection::Vector, InnerTransform::Spline, 2},
                                           Case{Projection::Vector, InnerTransform::Spline, 3},
                                           Case{Projection::Cartesian, InnerTransform::Affine, 2},
                                           Case{Projection::Cartesian, InnerTransform::Affine, 3},
                                           Case{Projection::Cartesian, InnerTransform::Spline, 2},
                                           Case{Projection::Cartesian, InnerTransform::Spline, 3},
                                           Case{Projection::Spherical, InnerTransform::Spline, 2},
                                           Case{Projection::Spherical, InnerTransform::Spline, 3}),
                         [](const ::testing::TestParamInfo<Case>& info) { return caseName(info.param); });

TEST(CollinearityLoss, PenalisesAlignedVectorsOnly) {
    torch::Tensor x = torch::tensor({{1.0, 0.0, 0.0}}, f64), y = torch::tensor({{0.0, 1.0, 0.0}}, f64);
    EXPECT_NEAR(collinearityLoss(x, y).item<double>(), 0.0, 1e-15);              // orthogonal: -log 1
    torch::Tensor tilted = torch::tensor({{1.0, 0.1, 0.0}}, f64);
    double c = 1.0 / std::sqrt(1.01);
    EXPECT_NEAR(collinearityLoss(x, tilted).item<double>(), -std::log(1 - c), 1e-12);
    EXPECT_NEAR(collinearityLoss(x, 2 * x).item<double>(), 0.0, 1e-15);         // dead zone: no penalty
}
