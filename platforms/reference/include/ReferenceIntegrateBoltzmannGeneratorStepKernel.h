#ifndef OPENMM_REFERENCE_INTEGRATE_BOLTZMANN_GENERATOR_STEP_KERNEL_H_
#define OPENMM_REFERENCE_INTEGRATE_BOLTZMANN_GENERATOR_STEP_KERNEL_H_

#include "BoltzmannGeneratorKernels.h"

#include <random>
#include <vector>

namespace BoltzmannPlugin {

/**
 * Reference/CPU implementation of IntegrateBoltzmannGeneratorStepKernel (Systems without
 * constraints): Langevin dynamics with the LangevinMiddle splitting on host arrays read and
 * written through ContextImpl (kick with the forces, half drift, Ornstein-Uhlenbeck velocity
 * update, half drift). Flow moves and FAB iterations are run by the integrator itself.
 */
class ReferenceIntegrateBoltzmannGeneratorStepKernel : public IntegrateBoltzmannGeneratorStepKernel {
public:
    using IntegrateBoltzmannGeneratorStepKernel::IntegrateBoltzmannGeneratorStepKernel;   // (name, platform)
    void initialize(const OpenMM::System& system, const BoltzmannGeneratorIntegrator& integrator,
                    const std::vector<int>& planarParticles) override;
    void execute(OpenMM::ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator, double kT) override;
    double computeKineticEnergy(OpenMM::ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator) override;
    void createCheckpoint(OpenMM::ContextImpl& context, std::ostream& stream) const override;
    void loadCheckpoint(OpenMM::ContextImpl& context, std::istream& stream) override;

private:
    std::vector<double> inverseMasses;
    std::vector<bool> planarParticle;   // z is held at 0
    bool hasVirtualSites = false;
    std::mt19937_64 random;
    std::normal_distribution<double> gaussian;
};

} // namespace BoltzmannPlugin

#endif
