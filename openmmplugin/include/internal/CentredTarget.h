#ifndef OPENMM_BOLTZMANN_GENERATOR_CENTRED_TARGET_H_
#define OPENMM_BOLTZMANN_GENERATOR_CENTRED_TARGET_H_

#include "bg/Target.h"

#include <torch/types.h>

#include <vector>

namespace BoltzmannPlugin {

/**
 * The target of a Boltzmann generator conditioned on the centre of the modelled particles: a
 * configuration x [N, D] is evaluated at x - mean(x) + c, where mean(x) is the unweighted mean
 * position of its N particles and c the centre set with setCentre() (the modelled particles'
 * current centre in the Context). So u_c(x) = u(x - mean(x) + c) is translation invariant by
 * construction, whatever the System (restraints, external fields, a solute among fixed solvent),
 * the flow's zero-centre samples are evaluated where the modelled particles are, and the reduced
 * forces are those of u_c: F - mean(F) over the particles, so HMC has no force along the centre
 * and importance weights are weights of the one conditional target. For targets that are
 * translation invariant already, u_c = u.
 * @private
 */
class CentredTarget : public bg::Target {
public:
    /** Wrap a target (not owned; must outlive this object). The centre starts at 0. */
    explicit CentredTarget(bg::Target& inner);
    int numParticles() const override {
        return inner.numParticles();
    }
    int dimension() const override {
        return inner.dimension();
    }
    /**
     * Set the centre c at which configurations are evaluated.
     *
     * @param centre  D values in nm (D = dimension())
     * @throws std::invalid_argument for a wrong length or a non-finite value
     */
    void setCentre(const std::vector<double>& centre);
    /** The centre c (D values, nm). */
    const std::vector<double>& getCentre() const {
        return centre;
    }
    /**
     * u_c and, on request, its reduced forces (see the class description), for x [B, N, D] (nm);
     * invalid rows as the inner target reports them.
     */
    bg::EnergyEvaluation evaluate(const torch::Tensor& x, bool computeForces) override;
    /** Configurations x [B, N, D] moved to the centre: x - mean(x) + c, float64. */
    torch::Tensor placeAtCentre(const torch::Tensor& x) const;

private:
    bg::Target& inner;
    std::vector<double> centre;
};

}   // namespace BoltzmannPlugin

#endif
