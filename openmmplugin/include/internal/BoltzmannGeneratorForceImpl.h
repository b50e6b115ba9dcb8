#ifndef OPENMM_BOLTZMANN_GENERATOR_FORCE_IMPL_H_
#define OPENMM_BOLTZMANN_GENERATOR_FORCE_IMPL_H_

#include "BoltzmannGeneratorForce.h"
#include "openmm/Kernel.h"
#include "openmm/internal/ForceImpl.h"

#include <map>
#include <string>
#include <vector>

namespace BoltzmannPlugin {

/**
 * The per-Context implementation of a BoltzmannGeneratorForce. It validates the force against
 * the System, creates the platform's CalcBoltzmannGeneratorForceKernel, and adds no energy.
 */
class BoltzmannGeneratorForceImpl : public OpenMM::ForceImpl {
public:
    explicit BoltzmannGeneratorForceImpl(const BoltzmannGeneratorForce& owner);
    void initialize(OpenMM::ContextImpl& context) override;
    const BoltzmannGeneratorForce& getOwner() const override {
        return owner;
    }
    void updateContextState(OpenMM::ContextImpl& context, bool& forcesInvalid) override {
    }
    double calcForcesAndEnergy(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy, int groups) override;
    std::map<std::string, double> getDefaultParameters() override {
        return {};
    }
    std::vector<std::string> getKernelNames() override;
    /** The kernel this Context uses (for the plugin's own kernels and tests). */
    OpenMM::Kernel& getKernel() {
        return kernel;
    }

private:
    const BoltzmannGeneratorForce& owner;
    OpenMM::Kernel kernel;
};

} // namespace BoltzmannPlugin

#endif
