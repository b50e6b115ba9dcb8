#ifndef OPENMM_BOLTZMANN_GENERATOR_INTEGRATOR_H_
#define OPENMM_BOLTZMANN_GENERATOR_INTEGRATOR_H_

#include "internal/windowsExportBoltzmannGenerator.h"
#include "openmm/Integrator.h"
#include "openmm/Kernel.h"

#include <deque>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace BoltzmannPlugin {

class BoltzmannGeneratorForce;
class BoltzmannGeneratorModel;
class FlowMoveSampler;

/**
 * A BoltzmannGeneratorIntegrator runs Langevin dynamics (LangevinMiddle splitting) at the
 * temperature of the System's BoltzmannGeneratorForce, and mixes in the Boltzmann generator:
 *
 *  - every getFlowMoveInterval() steps, an independence Metropolis-Hastings move over the joint
 *    space (x, a): the augmented variables are refreshed, a ~ pi(a|x), a fresh flow sample
 *    (x', a') is proposed for the modelled particles (translated to their current geometric
 *    centre) and accepted with probability min(1, w(x', a') / w(x, a)), w = exp(-U/kT) pi / q.
 *    The energies are the Context's own (integration force groups, current box and parameters),
 *    so the chain keeps sampling the distribution of the dynamics, however good the flow is. The
 *    random numbers of flow moves come from the force's generator (BoltzmannGeneratorForce::
 *    setRandomNumberSeed()); this integrator's seed drives the Langevin noise. A proposal that
 *    would invert one of the chiral centres of the force's training settings (fab.chiralCentres,
 *    improper dihedrals over the modelled particles) is rejected, so a flow that still draws both
 *    enantiomers never turns the molecule into its mirror image;
 *  - every getTrainingInterval() steps, one FAB iteration on the force's flow.
 *
 * So FAB training and flow-accelerated sampling run inside an ordinary Simulation.step() loop.
 * The System must contain exactly one BoltzmannGeneratorForce and no constraints (not supported
 * yet); modelled particles may not be virtual sites. If the force is planar, the modelled
 * particles keep z = 0 (OpenMM's reporters still count three degrees of freedom per particle, so a
 * reported temperature of a planar system reads 2/3 of the true one).
 * The energy U used by flow moves is the force's target energy (see BoltzmannGeneratorForce);
 * dynamics use the integration force groups.
 */
class OPENMM_EXPORT_BG BoltzmannGeneratorIntegrator : public OpenMM::Integrator {
public:
    /**
     * Create a BoltzmannGeneratorIntegrator.
     *
     * @param frictionCoeff  the friction coefficient of the Langevin thermostat, in 1/ps (non-negative)
     * @param stepSize       the time step, in ps (positive)
     */
    BoltzmannGeneratorIntegrator(double frictionCoeff, double stepSize);
    /** Get the friction coefficient, in 1/ps. */
    double getFriction() const {
        return friction;
    }
    /** Set the friction coefficient, in 1/ps (non-negative). */
    void setFriction(double coeff);
    /** Get the number of steps between flow moves (0: no flow moves). */
    int getFlowMoveInterval() const {
        return flowMoveInterval;
    }
    /** Set the number of steps between flow moves (0: none). */
    void setFlowMoveInterval(int steps);
    /** Get the number of steps between FAB iterations (0: no training). */
    int getTrainingInterval() const {
        return trainingInterval;
    }
    /** Set the number of steps between FAB iterations (0: none). */
    void setTrainingInterval(int steps);
    /**
     * Get the number of flow samples drawn at once for the following flow moves (proposals are
     * independent draws; the batch is renewed when the flow's parameters change).
     */
    int getProposalBatchSize() const {
        return proposalBatchSize;
    }
    /** Set the number of flow samples drawn at once for flow moves (positive). */
    void setProposalBatchSize(int size);
    /**
     * Get M, the augmented draws behind the importance weights of a flow move (E-ACF; 1 by
     * default): the proposal's weight is exp(-U/kT) / qhat(x') over its own a and M - 1 new draws
     * a_m ~ pi(a|x') (bg::multiDrawLogProposal), the current state's over M fresh draws (a Gibbs
     * step on its augmented variables). Exact for every M (docs/augmented-weights.md); more draws
     * bring both weights towards the marginal's exp(-U/kT) / q(x), at M flow passes per move. M = 1
     * is the joint weight exp(-U/kT) pi(a|x) / q(x, a). The E-CNF has no augmented variables and ignores M.
     */
    int getWeightDraws() const {
        return weightDraws;
    }
    /** Set M, the augmented draws behind a flow move's importance weights (positive; see getWeightDraws()). */
    void setWeightDraws(int draws);
    /** Get the number of recent flow proposals over which getRunningEss() is computed. */
    int getEssWindow() const {
        return essWindow;
    }
    /** Set the number of recent flow proposals over which getRunningEss() is computed (positive). */
    void setEssWindow(int proposals);
    /** Get the random number seed of the Langevin noise (0: new seed per Context). */
    int getRandomNumberSeed() const {
        return randomNumberSeed;
    }
    /** Set the random number seed (0 picks a different seed for every Context). */
    void setRandomNumberSeed(int seed) {
        randomNumberSeed = seed;
    }
    ~BoltzmannGeneratorIntegrator();
    /** Advance the simulation by a number of time steps. */
    void step(int steps) override;
    /** Flow moves attempted in this Context. */
    long long getNumFlowMoves() const;
    /** Flow moves accepted in this Context. */
    long long getNumAcceptedFlowMoves() const;
    /** Fraction of flow moves accepted (0 before any). */
    double getAcceptanceRate() const;
    /**
     * Reverse effective sample size fraction, in (0, 1], of the importance weights of the last
     * getEssWindow() flow proposals (0 before any).
     */
    double getRunningEss() const;
    /** The loss of the last FAB iteration (NaN before any). */
    double getLastLoss() const;
    /** FAB iterations run by this integrator. */
    long long getNumTrainingIterations() const;
    /** Steps taken by this integrator in its Context. */
    long long getStepCount() const;
    /** The BoltzmannGeneratorIntegrator's kinetic energy does not need forces. */
    bool kineticEnergyRequiresForce() const override {
        return false;
    }
    /** Velocities are offset by half a step from positions (LangevinMiddle), in ps. */
    double getVelocityTimeOffset() const override {
        return getStepSize() / 2;
    }

protected:
    void initialize(OpenMM::ContextImpl& context) override;
    void cleanup() override;
    std::vector<std::string> getKernelNames() override;
    double computeKineticEnergy() override;
    void createCheckpoint(std::ostream& stream) const override;
    void loadCheckpoint(std::istream& stream) override;

private:
    /** One flow move; updates the counters and the ESS window. */
    void flowMove();
    double friction;
    int flowMoveInterval = 0, trainingInterval = 0, proposalBatchSize = 16, essWindow = 1000, randomNumberSeed = 0, weightDraws = 1;
    OpenMM::ContextImpl* context = nullptr;
    OpenMM::Kernel kernel;
    BoltzmannGeneratorModel* model = nullptr;   // owned by the force's ForceImpl in the Context
    std::unique_ptr<FlowMoveSampler> flowMoves;
    // Counters of the bound Context (saved in checkpoints).
    long long steps = 0, numFlowMoves = 0, numAcceptedFlowMoves = 0, trainingIterations = 0;
    double lastLoss = 0.0;
    std::deque<double> proposalLogWeights;   // log w of the last essWindow flow proposals
};

} // namespace BoltzmannPlugin

#endif
