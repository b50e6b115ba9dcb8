#ifndef BG_TESTS_TRAINING_TEST_UTILITIES_H_
#define BG_TESTS_TRAINING_TEST_UTILITIES_H_

// Helpers shared by the training tests: a tiny flow, a closed-form target and toy data sets.

#include "bg/FlowConfig.h"
#include "bg/Target.h"

#include <torch/torch.h>

#include <filesystem>
#include <string>

namespace bgtest {

/** A small, fast flow: N particles in D dimensions, one block, narrow networks. */
inline bg::FlowConfig tinyFlowConfig(int numParticles = 2, int dimension = 2, const std::string& dtype = "float64") {
    bg::FlowConfig c;
    c.numParticles = numParticles;
    c.dimension = dimension;
    c.numBlocks = 1;
    c.egnnLayers = 1;
    c.egnnWidth = 8;
    c.invariantFeatures = 8;
    c.headWidths = {8, 8};
    c.splineBins = 4;
    c.dtype = dtype;
    return c;
}

/** tinyFlowConfig() with random (not zero) conditioner heads: a flow that is not the identity, so differs from its base. */
inline bg::FlowConfig randomTinyFlowConfig(int numParticles, int dimension) {
    bg::FlowConfig c = tinyFlowConfig(numParticles, dimension);
    c.identityInit = false;
    return c;
}

/**
 * u(x) = k/2 sum_i |x_i - xbar|^2: the unnormalised zero-CoM Gaussian. With k = 1 it is exactly the
 * flow's base distribution over x, so an identity-initialised flow matches it up to the constant.
 */
class HarmonicTarget : public bg::Target {
public:
    HarmonicTarget(int n, int d, double k = 1.0) : n(n), d(d), k(k) {}
    int numParticles() const override {
        return n;
    }
    int dimension() const override {
        return d;
    }
    bg::EnergyEvaluation evaluate(const torch::Tensor& x, bool computeForces) override {
        torch::Tensor y = x.detach().to(torch::kFloat64);
        torch::Tensor centred = y - y.mean(1, true);
        bg::EnergyEvaluation e;
        e.energy = 0.5 * k * centred.square().sum({1, 2});
        if (computeForces)
            e.forces = -k * centred;
        e.valid = torch::isfinite(e.energy);
        e.energy = torch::where(e.valid, e.energy, torch::full_like(e.energy, INFINITY));
        return e;
    }

private:
    int n, d;
    double k;
};

/**
 * Two particles in 2D at distance r ~ N(mean, sd^2), in a random orientation, zero centre of mass:
 * [n, 2, 2] float64 drawn from the given generator.
 */
inline torch::Tensor dimerData(int64_t n, double mean, double sd, torch::Generator& generator) {
    auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    torch::Tensor r = mean + sd * torch::randn({n}, generator, f64);
    torch::Tensor angle = 2 * M_PI * torch::rand({n}, generator, f64);
    torch::Tensor half = torch::stack({0.5 * r * torch::cos(angle), 0.5 * r * torch::sin(angle)}, 1);   // [n, 2]
    return torch::stack({half, -half}, 1);
}

/** A fresh empty directory under the system's temporary directory. */
inline std::string freshDirectory(const std::string& name) {
    auto path = std::filesystem::temp_directory_path() / ("openmmbg-test-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
    return path.string();
}

} // namespace bgtest

#endif
