#ifndef OPENMM_REFERENCE_BOLTZMANN_GENERATOR_KERNELS_H_
#define OPENMM_REFERENCE_BOLTZMANN_GENERATOR_KERNELS_H_

#include "BoltzmannGeneratorKernels.h"
#include "internal/BoltzmannGeneratorModel.h"

#include <memory>
#include <vector>

namespace BoltzmannPlugin {

/**
 * Reference/CPU implementation of CalcBoltzmannGeneratorForceKernel. The flow (bgflows) runs on
 * the CPU; positions are read from the Reference platform's host arrays.
 */
class ReferenceCalcBoltzmannGeneratorForceKernel : public CalcBoltzmannGeneratorForceKernel {
public:
    ReferenceCalcBoltzmannGeneratorForceKernel(std::string name, const OpenMM::Platform& platform)
            : CalcBoltzmannGeneratorForceKernel(name, platform) {
    }
    void initialize(const OpenMM::System& system, const BoltzmannGeneratorForce& force) override;
    double execute(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy) override;
    void copyModelledPositions(OpenMM::ContextImpl& context, std::vector<OpenMM::Vec3>& positions) override;
    double getKT() const override {
        return kT;
    }
    BoltzmannGeneratorModel& getModel() override;
    void copyParametersToContext(OpenMM::ContextImpl& context, const BoltzmannGeneratorForce& force) override;
    ~ReferenceCalcBoltzmannGeneratorForceKernel() override;

private:
    std::vector<int> particles;
    double kT = 0.0;
    std::unique_ptr<BoltzmannGeneratorModel> model;
};

} // namespace BoltzmannPlugin

#endif
