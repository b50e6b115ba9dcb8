#ifndef OPENMM_BOLTZMANN_GENERATOR_FORCE_IMPL_H_
#define OPENMM_BOLTZMANN_GENERATOR_FORCE_IMPL_H_

#include "BoltzmannGeneratorForce.h"
#include "internal/BoltzmannGeneratorModel.h"
#include "openmm/Kernel.h"
#include "openmm/internal/ForceImpl.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace BoltzmannPlugin {

/**
 * The per-Context implementation of a BoltzmannGeneratorForce. It validates the force against the
 * System, owns the Context's Boltzmann generator (BoltzmannGeneratorModel: flow, target, training
 * state; the model refreshes its target from the Context whenever it evaluates it) and the
 * platform's CalcBoltzmannGeneratorForceKernel, and adds no energy.
 */
class BoltzmannGeneratorForceImpl : public OpenMM::ForceImpl {
public:
    explicit BoltzmannGeneratorForceImpl(const BoltzmannGeneratorForce& owner);
    ~BoltzmannGeneratorForceImpl();
    /**
     * Check the force against the System and create the model and kernel.
     *
     * @throws OpenMM::OpenMMException (naming BoltzmannGeneratorForce) for a particle index out of
     *         range, a modelled virtual site, or a constraint that involves a modelled particle
     */
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
    /** The Context's Boltzmann generator. */
    BoltzmannGeneratorModel& getModel() {
        return *model;
    }
    /** Replace the Context's flow, temperature and settings with the force's (updateParametersInContext()). */
    void updateParametersInContext(OpenMM::ContextImpl& context, const BoltzmannGeneratorForce& force);
    /** The current positions of the modelled particles (nm), read by the platform's kernel. */
    std::vector<OpenMM::Vec3> getModelledPositions(OpenMM::ContextImpl& context);

private:
    const BoltzmannGeneratorForce& owner;
    std::unique_ptr<BoltzmannGeneratorModel> model;
    OpenMM::Kernel kernel;
};

}   // namespace BoltzmannPlugin

#endif
