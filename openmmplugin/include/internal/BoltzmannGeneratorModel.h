#ifndef OPENMM_BOLTZMANN_GENERATOR_MODEL_H_
#define OPENMM_BOLTZMANN_GENERATOR_MODEL_H_

#include "BoltzmannGeneratorForce.h"
#include "internal/windowsExportBoltzmannGenerator.h"
#include "openmm/System.h"
#include "openmm/Vec3.h"

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace OpenMM {
class ContextImpl;
}

namespace bg {
class SkipClipAdam;
class TrainingMethod;
}

namespace BoltzmannPlugin {

/** The outcome of one independence Metropolis-Hastings move with a flow proposal. */
struct FlowMoveResult {
    bool accepted = false;
    double proposalLogWeight = 0.0;   ///< log w of the proposal (joint, dimensionless; -inf if its energy failed)
};

/**
 * The per-Context Boltzmann generator behind a BoltzmannGeneratorForce, shared by the platform
 * kernels: the Context's copy of the flow, its random generator, the target (a SystemTarget over
 * the System without the force, and without the forces sharing its group if that is not 0, evaluated on the Context's platform with the
 * non-modelled particles held at their current positions) and the training state (FAB and
 * maximum-likelihood optimisers, the replay buffer). Works on host data read through ContextImpl,
 * so it serves every platform. Units: nm, kJ/mol; log densities are dimensionless.
 * @private
 */
class OPENMM_EXPORT_BG BoltzmannGeneratorModel {
public:
    /**
     * @param system        the Context's System (must outlive the model)
     * @param force         the force; its flow, settings, temperature and seed are copied
     * @param platformName  the platform for the target's inner Context
     */
    BoltzmannGeneratorModel(const OpenMM::System& system, const BoltzmannGeneratorForce& force, const std::string& platformName);
    ~BoltzmannGeneratorModel();
    /** Replace flow, temperature and settings with the force's; drops the training state. */
    void reset(const BoltzmannGeneratorForce& force);
    /** D, the number of coordinates per modelled particle the flow sees (2 or 3). */
    int getDimension() const;
    /** kT of the target, in kJ/mol. */
    double getKT() const {
        return kT;
    }
    /** The indices of the modelled particles. */
    const std::vector<int>& getParticles() const {
        return particles;
    }
    BoltzmannGeneratorSamples sample(OpenMM::ContextImpl& context, int numSamples);
    std::vector<double> computeLogProb(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions, int numDraws);
    std::vector<double> computeLogWeights(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions, int numDraws);
    std::vector<double> computeEnergies(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions);
    BoltzmannGeneratorTrainingReport train(OpenMM::ContextImpl& context, int iterations);
    BoltzmannGeneratorTrainingReport trainOnSamples(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions, int iterations);
    /** The flow as bytes (configuration and weights), for BoltzmannGeneratorForce::setFlow(). */
    std::string getWeights();
    /**
     * One independence Metropolis-Hastings move over (x, a): refresh a ~ pi(a|x) for the current
     * modelled positions x, propose (x', a') from the flow (from a cache of proposalBatch draws,
     * renewed when the parameters change), shift x' to the current geometric centre of the
     * modelled particles, and accept with min(1, w'/w), w = exp(-U/kT) pi(a|x) / q(x, a). U is the
     * Context's own potential energy for the force groups `groups` (its box and parameters), so
     * the move keeps the distribution the dynamics sample. On return the Context holds `positions`
     * (the proposal if accepted, else the original ones); its forces are stale.
     *
     * @param positions      all System positions (nm); updated in place on acceptance
     * @param proposalBatch  flow samples drawn at once for later moves
     * @param groups         force groups of the energy (the integrator's integration groups)
     * @param hasVirtualSites whether virtual sites must be recomputed after setting positions
     */
    FlowMoveResult flowMove(OpenMM::ContextImpl& context, std::vector<OpenMM::Vec3>& positions, int proposalBatch, int groups,
                            bool hasVirtualSites);
    /** Write everything a continuation needs: flow, generator, training state, proposal cache. */
    void saveState(std::ostream& stream);
    /** Restore what saveState() wrote. */
    void loadState(OpenMM::ContextImpl& context, std::istream& stream);

private:
    class State;
    void refreshTarget(OpenMM::ContextImpl& context);
    void checkPositions(const std::vector<OpenMM::Vec3>& positions, const char* where) const;
    /** Create the FAB method and its optimiser on first use. */
    void ensureFab();
    /** Run `iterations` steps of a training method; the report's totals are left to the caller. */
    BoltzmannGeneratorTrainingReport runSteps(bg::TrainingMethod& method, bg::SkipClipAdam& optimizer, int iterations);
    const OpenMM::System& system;
    std::string platformName;
    std::vector<int> particles;
    int forceGroup = 0;
    double kT = 0.0;
    int64_t parameterVersion = 0;   // incremented whenever the flow's parameters change (invalidates the proposal cache)
    std::unique_ptr<State> state;
};

} // namespace BoltzmannPlugin

#endif
