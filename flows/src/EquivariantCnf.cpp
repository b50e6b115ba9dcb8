#include "bg/EquivariantCnf.h"

#include "bg/Divergence.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace bg {

EquivariantCnfImpl::EquivariantCnfImpl(const CnfConfig& config)
        : config(config), base(config.numParticles, config.dimension), divergence(config.divergence) {
    config.validate();
    field = register_module("field", CnfVectorField(config));
    solver.method = config.solver;
    solver.rtol = config.rtol;
    solver.atol = config.atol;
    solver.maxSteps = config.maxSteps;
    solver.rk4Steps = config.rk4Steps;
}

torch::ScalarType EquivariantCnfImpl::dtype() const {
    return parameters().front().scalar_type();
}

torch::Device EquivariantCnfImpl::device() const {
    return parameters().front().device();
}

int64_t EquivariantCnfImpl::numParameters() const {
    int64_t count = 0;
    for (const auto& p : parameters())
        count += p.numel();
    return count;
}

torch::Tensor EquivariantCnfImpl::velocity(const torch::Tensor& x, const torch::Tensor& t) {
    return field->forward(x, t);
}

torch::Tensor EquivariantCnfImpl::baseLogProb(const torch::Tensor& x) const {
    const double s = config.baseScale;
    return base.logProb(x / s) - config.degreesOfFreedom() * std::log(s);
}

torch::Tensor EquivariantCnfImpl::sampleBase(int64_t n, std::optional<at::Generator> generator) const {
    auto options = torch::TensorOptions().dtype(dtype()).device(device());
    return config.baseScale * base.sample(n, options, generator);
}

CnfTransform EquivariantCnfImpl::transform(const torch::Tensor& x, double t0, double t1, bool withDivergence,
                                           std::optional<at::Generator> generator) {
    const int64_t N = config.numParticles, D = config.dimension;
    if (!x.defined() || x.dim() != 3 || x.size(1) != N || x.size(2) != D)
        throw std::invalid_argument("EquivariantCnf: expected x of shape [B, " + std::to_string(N) + ", " + std::to_string(D) + "]");
    const int64_t B = x.size(0);
    torch::Tensor start = removeCentreOfMass(x.detach().to(device(), dtype()));
    VelocityFunction f = [this](const torch::Tensor& xs, const torch::Tensor& ts) { return field->forward(xs, ts); };
    torch::Tensor probe;
    if (withDivergence && divergence == DivergenceMethod::Hutchinson)
        probe = base.sample(B, torch::TensorOptions().dtype(dtype()).device(device()), generator);
    // The field is translation invariant and zero-CoM: its divergence on the (N-1) D dimensional
    // zero-CoM subspace needs (N-1) D vector-Jacobian products instead of N D (Divergence.h).
    torch::Tensor basis = zeroCentreOfMassBasis(N, torch::TensorOptions().dtype(dtype()).device(device()));
    return integrateCnf(f, start, t0, t1, solver, withDivergence, probe, basis);
}

CnfSample EquivariantCnfImpl::sample(int64_t n, std::optional<at::Generator> generator, bool withLogProb) {
    torch::Tensor x0 = sampleBase(n, generator);
    CnfTransform path = transform(x0, 0.0, 1.0, withLogProb, generator);
    CnfSample out;
    out.x = path.x;
    if (withLogProb)
        out.logProb = baseLogProb(x0) - path.divergenceIntegral;
    out.evaluations = path.evaluations;
    return out;
}

torch::Tensor EquivariantCnfImpl::logProb(const torch::Tensor& x, std::optional<at::Generator> generator) {
    // d log q(x(t))/dt = -div v, so log q1(x) = log q0(x(0)) + int_1^0 div v dt (ecnf-spec 4).
    CnfTransform path = transform(x, 1.0, 0.0, true, generator);
    return baseLogProb(path.x) + path.divergenceIntegral;
}

} // namespace bg
