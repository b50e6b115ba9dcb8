#ifndef OPENMM_REFERENCE_BOLTZMANN_GENERATOR_KERNELS_H_
#define OPENMM_REFERENCE_BOLTZMANN_GENERATOR_KERNELS_H_

#include "BoltzmannGeneratorKernels.h"
#include <vector>

namespace BoltzmannPlugin {

/**
 * Reference/CPU implementation of CalcBoltzmannGeneratorForceKernel: positions are read from the
 * Reference platform's host arrays.
 */
class ReferenceCalcBoltzmannGeneratorForceKernel : public CalcBoltzmannGeneratorForceKernel {
public:
    using CalcBoltzmannGeneratorForceKernel::CalcBoltzmannGeneratorForceKernel;   // (name, platform)
    void initialize(const OpenMM::System& system, const BoltzmannGeneratorForce& force) override;
    double execute(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy) override;
    void copyModelledPositions(OpenMM::ContextImpl& context, std::vector<OpenMM::Vec3>& positions) override;

private:
    std::vector<int> particles;
};

} // namespace BoltzmannPlugin

#endif
