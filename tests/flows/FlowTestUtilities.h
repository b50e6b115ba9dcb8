#ifndef BG_TESTS_FLOW_TEST_UTILITIES_H_
#define BG_TESTS_FLOW_TEST_UTILITIES_H_

// Helpers shared by the flows tests: random rotations and autograd Jacobians.

#include "bg/FlowConfig.h"

#include <torch/torch.h>

#include <string>

namespace bgtest {

/** One projection/inner-transform/dimension combination for parameterised tests (optionally with scaling blocks). */
struct ProjectionCase {
    bg::Projection projection;
    bg::InnerTransform transform;
    int dimension;
    bool scalingBlock = false;   ///< FlowConfig::scalingBlock, for tests of whole flows
};

/** A test-name-safe label such as "spherical_spline_3D" ("..._scaled" with scaling blocks). */
inline std::string caseName(const ProjectionCase& c) {
    return std::string(bg::toString(c.projection)) + "_" + bg::toString(c.transform) + "_" + std::to_string(c.dimension) + "D" +
           (c.scalingBlock ? "_scaled" : "");
}

inline const torch::TensorOptions f64 = torch::TensorOptions().dtype(torch::kFloat64);

/** A random proper rotation matrix (det +1) of size d, drawn with torch's global generator. */
inline torch::Tensor randomRotation(int d) {
    torch::Tensor q = std::get<0>(torch::linalg_qr(torch::randn({d, d}, f64)));
    if (torch::det(q).item<double>() < 0)
        q.select(1, 0).mul_(-1);
    return q;
}

/**
 * log|det J| of a map from [B, M] to [B, M] that acts on each row independently, by autograd.
 * @return [B]
 */
template <class F>
torch::Tensor autogradLogDet(F f, const torch::Tensor& input) {
    torch::Tensor x = input.detach().clone().requires_grad_(true);
    torch::Tensor y = f(x);
    const int64_t batch = x.size(0), m = x.size(1);
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < m; i++) {
        torch::Tensor g = torch::autograd::grad({y.select(1, i).sum()}, {x}, {}, true)[0];
        rows.push_back(g);
    }
    torch::Tensor jacobian = torch::stack(rows, 1);   // [B, M, M]
    return std::get<1>(torch::linalg_slogdet(jacobian));
}

} // namespace bgtest

#endif
