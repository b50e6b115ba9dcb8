#ifndef OPENMM_BOLTZMANN_GENERATOR_KERNELS_H_
#define OPENMM_BOLTZMANN_GENERATOR_KERNELS_H_

#include "BoltzmannGeneratorForce.h"
#include "openmm/KernelImpl.h"
#include "openmm/System.h"
#include "openmm/internal/ContextImpl.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace BoltzmannPlugin {

class BoltzmannGeneratorIntegrator;

/**
 * The platform-specific part of a BoltzmannGeneratorForce in one Context. The force adds no energy
 * or forces; its per-Context Boltzmann generator (flow, target, training state) is owned by the
 * BoltzmannGeneratorForceImpl and works on host data, so the kernel only provides what depends on
 * the platform's data layout.
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
     * Copy the current positions of the modelled particles out of the platform's own arrays.
     *
     * @param positions  on exit, one entry per modelled particle in the force's order, in nm
     */
    virtual void copyModelledPositions(OpenMM::ContextImpl& context, std::vector<OpenMM::Vec3>& positions) = 0;
};

/**
 * The platform-specific part of a BoltzmannGeneratorIntegrator: one step of Langevin dynamics
 * (LangevinMiddle splitting) and its random state. Flow moves, FAB iterations and the counters
 * live in the integrator (platform independent).
 */
class IntegrateBoltzmannGeneratorStepKernel : public OpenMM::KernelImpl {
public:
    static std::string Name() {
        return "IntegrateBoltzmannGeneratorStep";
    }
    IntegrateBoltzmannGeneratorStepKernel(std::string name, const OpenMM::Platform& platform) : KernelImpl(name, platform) {
    }
    /**
     * Initialize the kernel.
     *
     * @param system            the System
     * @param integrator        the integrator this kernel belongs to
     * @param planarParticles   particles held in the z = 0 plane (modelled particles of a planar force)
     */
    virtual void initialize(const OpenMM::System& system, const BoltzmannGeneratorIntegrator& integrator,
                            const std::vector<int>& planarParticles) = 0;
    /**
     * Advance the Context by one Langevin step (forces at the current positions must be up to date).
     *
     * @param kT  the thermal energy of the thermostat, in kJ/mol
     */
    virtual void execute(OpenMM::ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator, double kT) = 0;
    /** The kinetic energy of the current velocities, in kJ/mol. */
    virtual double computeKineticEnergy(OpenMM::ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator) = 0;
    /** Write the random state of the Langevin noise. */
    virtual void createCheckpoint(OpenMM::ContextImpl& context, std::ostream& stream) const = 0;
    /** Restore what createCheckpoint() wrote. */
    virtual void loadCheckpoint(OpenMM::ContextImpl& context, std::istream& stream) = 0;
};

} // namespace BoltzmannPlugin

#endif
