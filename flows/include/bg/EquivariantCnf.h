#ifndef BG_EQUIVARIANT_CNF_H_
#define BG_EQUIVARIANT_CNF_H_

#include "bg/CnfConfig.h"
#include "bg/CnfIntegration.h"
#include "bg/CnfVectorField.h"
#include "bg/OdeSolver.h"
#include "bg/ZeroCoMGaussian.h"

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <optional>
#include <string>

namespace bg {

/** Samples of an E-CNF and their log densities. */
struct CnfSample {
    torch::Tensor x;          ///< [n, N, D] (nm), zero centre of mass
    torch::Tensor logProb;    ///< [n] log q(x) (nats, per nm^((N-1)D)); undefined when not requested
    int64_t evaluations = 0;  ///< velocity-field evaluations of the solve (NFE)
};

/**
 * The equivariant continuous normalizing flow (E-CNF, ecnf-spec 1, 4): a zero-CoM Gaussian prior of
 * std s = baseScale at t = 0, the data at t = 1, and dx/dt = v(x, t) given by a CnfVectorField.
 * log q follows the instantaneous change of variables, d log q(x(t))/dt = -div v, with the exact
 * divergence (autograd trace) or a Hutchinson estimate whose probe is fixed per trajectory and drawn
 * from N(0, P) (P the zero-CoM projector) on the caller's generator. log q is invariant to
 * rotations, translations and permutations of identical particles.
 *
 * Densities and samples switch gradient mode on inside the solver (the divergence needs it): do not
 * call them under torch::InferenceMode. Units: nm; log densities in nats per nm^((N-1)D), with the
 * (N-1)D normaliser of ZeroCoMGaussian, so they compare with the E-ACF's (ecnf-spec 4).
 */
class EquivariantCnfImpl : public torch::nn::Module {
public:
    /** @throws std::invalid_argument for an invalid configuration. */
    explicit EquivariantCnfImpl(const CnfConfig& config);
    const CnfConfig& getConfig() const {
        return config;
    }
    /** v(x, t): x [B, N, D], t [B] -> [B, N, D], differentiable (for flow matching). */
    torch::Tensor velocity(const torch::Tensor& x, const torch::Tensor& t);
    /** log q0(x) = log N_P(x / s) - (N-1) D log s for x [B, N, D] (ecnf-spec 4); returns [B]. */
    torch::Tensor baseLogProb(const torch::Tensor& x) const;
    /** n prior samples [n, N, D] in the flow's dtype and device, drawn on the CPU generator. */
    torch::Tensor sampleBase(int64_t n, std::optional<at::Generator> generator = std::nullopt) const;
    /**
     * Integrate x from t0 to t1 (either direction) with the configured solver; with withDivergence,
     * also int div v dt along the path (exact or Hutchinson, as configured). No parameter gradients.
     * @param x  [B, N, D], centred first
     * @throws std::invalid_argument for a wrong shape; std::runtime_error from integrateOde()
     */
    CnfTransform transform(const torch::Tensor& x, double t0, double t1, bool withDivergence,
                           std::optional<at::Generator> generator = std::nullopt);
    /** n samples (t = 0 -> 1) and, with withLogProb, log q(x) = log q0(x0) - int_0^1 div v dt. */
    CnfSample sample(int64_t n, std::optional<at::Generator> generator = std::nullopt, bool withLogProb = true);
    /** log q(x) for x [B, N, D] (nm), by integrating from t = 1 back to t = 0; returns [B]. */
    torch::Tensor logProb(const torch::Tensor& x, std::optional<at::Generator> generator = std::nullopt);
    /** The solver settings (from the configuration; may be changed, e.g. to RK4 for speed). */
    OdeOptions& solverOptions() {
        return solver;
    }
    /** How divergences are computed (from the configuration; may be changed). */
    void setDivergenceMethod(DivergenceMethod method) {
        divergence = method;
    }
    DivergenceMethod getDivergenceMethod() const {
        return divergence;
    }
    torch::ScalarType dtype() const;
    torch::Device device() const;
    int64_t numParameters() const;

private:
    CnfConfig config;
    CnfVectorField field{nullptr};
    ZeroCoMGaussian base;
    OdeOptions solver;
    DivergenceMethod divergence;
};
TORCH_MODULE(EquivariantCnf);

} // namespace bg

#endif
