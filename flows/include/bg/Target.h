#ifndef BG_TARGET_H_
#define BG_TARGET_H_

#include <torch/types.h>

#include <limits>

namespace bg {

/** Energies and forces of a batch of configurations, in reduced units. */
struct EnergyEvaluation {
    torch::Tensor energy;   ///< [B] float64, u = U/kT; +inf where the configuration is invalid
    torch::Tensor forces;   ///< [B, N, D] float64, -du/dx in 1/nm; zero where invalid (undefined if not requested)
    torch::Tensor valid;    ///< [B] bool: false for non-finite input or a failed/non-finite evaluation
};

/**
 * Optional smoothing of huge energies before they reach the loss (model-spec 17):
 * u <- u below linearUntil, linearUntil + log(1 + u - linearUntil) above it, and min(., cap).
 * Forces are scaled by the derivative of that map (and zero above the cap).
 */
struct EnergyRegularisation {
    double linearUntil = std::numeric_limits<double>::infinity();
    double cap = std::numeric_limits<double>::infinity();
    bool active() const {
        return linearUntil < std::numeric_limits<double>::infinity() || cap < std::numeric_limits<double>::infinity();
    }
    /** Apply to an evaluation in place (energy and, if defined, forces). */
    void apply(EnergyEvaluation& evaluation) const;
};

/**
 * The unnormalised target density p(x) ~ exp(-u(x)) of a Boltzmann generator over
 * configurations x [B, N, D] (nm). Implementations: closed-form test targets in flows/, and
 * BoltzmannPlugin::SystemTarget, which asks OpenMM.
 */
class Target {
public:
    virtual ~Target() = default;
    /** N, the number of modelled particles. */
    virtual int numParticles() const = 0;
    /** D, 2 (planar systems) or 3. */
    virtual int dimension() const = 0;
    /**
     * Reduced energies (and forces) of a batch. Never throws for bad configurations: those are
     * reported through EnergyEvaluation::valid.
     *
     * @param x  [B, N, D], any floating dtype (evaluated in float64)
     */
    virtual EnergyEvaluation evaluate(const torch::Tensor& x, bool computeForces) = 0;
};

/**
 * log p~(x) = -u(x) as a differentiable tensor [B] in x's dtype: its gradient with respect to x
 * is the target's reduced force (so flows can be trained through it by reverse KL or used by HMC).
 * Invalid configurations give -inf with zero gradient.
 */
torch::Tensor targetLogProb(Target& target, const torch::Tensor& x);

} // namespace bg

#endif
