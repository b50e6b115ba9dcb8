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
class BoltzmannGeneratorModel;

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
    /**
     * The Context's Boltzmann generator (flow, target, training state), through which the force's
     * sampling, evaluation and training methods and the integrator work.
     */
    virtual BoltzmannGeneratorModel& getModel() = 0;
    /**
     * Replace the Context's flow, temperature and settings with the force's
     * (BoltzmannGeneratorForce::updateParametersInContext()).
     */
    virtual void copyParametersToContext(OpenMM::ContextImpl& context, const BoltzmannGeneratorForce& force) = 0;
};

/**
 * The kernel behind a BoltzmannGeneratorIntegrator: one step of Langevin dynamics (LangevinMiddle
 * splitting) plus, on the integrator's schedule, flow moves and FAB iterations.
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
     * @param system      the System
     * @param integrator  the integrator this kernel belongs to
     * @param model       the Boltzmann generator of the System's BoltzmannGeneratorForce in this Context
     */
    virtual void initialize(const OpenMM::System& system, const BoltzmannGeneratorIntegrator& integrator, BoltzmannGeneratorModel& model) = 0;
    /** Advance the Context by one time step (forces at the current positions must be up to date). */
    virtual void execute(OpenMM::ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator) = 0;
    /** The kinetic energy of the current velocities, in kJ/mol. */
    virtual double computeKineticEnergy(OpenMM::ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator) = 0;
    /** Flow moves attempted and accepted so far. */
    virtual long long getNumFlowMoves() const = 0;
    virtual long long getNumAcceptedFlowMoves() const = 0;
    /** The reverse ESS fraction of the log-weights of the most recent flow proposals (0 before any). */
    virtual double getRunningEss() const = 0;
    /** The loss of the last FAB iteration run by the integrator (NaN before any). */
    virtual double getLastLoss() const = 0;
    /** FAB iterations run by the integrator. */
    virtual long long getNumTrainingIterations() const = 0;
    /** Steps taken. */
    virtual long long getStepCount() const = 0;
    /** Write the random state, counters, statistics and the flow's state. */
    virtual void createCheckpoint(OpenMM::ContextImpl& context, std::ostream& stream) const = 0;
    /** Restore what createCheckpoint() wrote. */
    virtual void loadCheckpoint(OpenMM::ContextImpl& context, std::istream& stream) = 0;
};

} // namespace BoltzmannPlugin

#endif
