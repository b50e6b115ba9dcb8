#ifndef OPENMM_BOLTZMANN_GENERATOR_KERNELS_H_
#define OPENMM_BOLTZMANN_GENERATOR_KERNELS_H_

#include "BoltzmannGeneratorForce.h"
#include "openmm/KernelImpl.h"
#include "openmm/System.h"
#include "openmm/internal/ContextImpl.h"

#include <string>
#include <vector>

namespace BoltzmannPlugin {

/**
 * The kernel behind a BoltzmannGeneratorForce. One instance lives in each Context; it owns that
 * Context's copy of the flow. It contributes no energy or forces to the System.
 */
class CalcBoltzmannGeneratorForceKernel : public OpenMM::KernelImpl {
public:
    static std::string Name() {
        return "CalcBoltzmannGeneratorForce";
    }
    CalcBoltzmannGeneratorForceKernel(std::string name, const OpenMM::Platform& platform) : KernelImpl(name, platform) {
    }
    /**
     * Initialize the kernel for a Context.
     *
     * @param system  the System the Context was created for
     * @param force   the BoltzmannGeneratorForce this kernel belongs to
     */
    virtual void initialize(const OpenMM::System& system, const BoltzmannGeneratorForce& force) = 0;
    /**
     * Called during force and energy evaluation. The force adds nothing, so this returns 0.
     *
     * @return the energy contribution, in kJ/mol (always 0)
     */
    virtual double execute(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy) = 0;
    /**
     * Copy the current positions of the modelled particles out of the Context.
     *
     * @param positions  on exit, one entry per modelled particle, in nm
     */
    virtual void copyModelledPositions(OpenMM::ContextImpl& context, std::vector<OpenMM::Vec3>& positions) = 0;
    /** The thermal energy kT of the target distribution, in kJ/mol. */
    virtual double getKT() const = 0;
};

} // namespace BoltzmannPlugin

#endif
