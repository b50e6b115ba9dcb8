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
class DistributedContext;
struct ModelSample;
class SkipClipAdam;
struct StepStats;
class TrainingMethod;
}   // namespace bg

namespace BoltzmannPlugin {

/**
 * The per-Context Boltzmann generator behind a BoltzmannGeneratorForce, owned by the force's
 * BoltzmannGeneratorForceImpl: the Context's copy of the model (the E-ACF, or the E-CNF when the
 * force's configuration names "model": "ecnf"), its random generator, the target and the training
 * state (FAB and trainOnSamples() optimisers, the replay buffer).
 *
 * The target is U of the Context's System without the force (and without the forces sharing its
 * group if that is not 0), evaluated in inner Contexts on the Context's platform. Before every
 * evaluation the target is refreshed from the Context (refreshTarget()): the other particles are
 * held at their current positions, and the current periodic box and global parameter values are
 * copied, as CustomCVForce does for its inner Context. Flow samples (zero centre) are placed at
 * the current centre of the modelled particles (see CentredTarget); sampling and FAB use that
 * conditional target. Works on host data read through ContextImpl, so it serves every platform.
 * Units: nm, kJ/mol; log densities are dimensionless.
 *
 * The implementation is split by job: BoltzmannGeneratorModel.cpp (set-up), ModelTarget.cpp
 * (target refresh), ModelSampling.cpp (samples, densities, weights, energies), ModelTraining.cpp
 * (FAB; maximum likelihood or flow matching), ModelDistributed.cpp (joining a data-parallel run), ModelCheckpoint.cpp
 * (saveState/loadState).
 * @private
 */
class OPENMM_EXPORT_BG BoltzmannGeneratorModel {
public:
    class State;
    /**
     * @param system        the Context's System (must outlive the model)
     * @param force         the force; its flow, settings, temperature and seed are copied
     * @param platformName  the platform for the target's inner Context
     * @throws OpenMM::OpenMMException (naming BoltzmannGeneratorForce) for unusable settings or flow
     */
    BoltzmannGeneratorModel(const OpenMM::System& system, const BoltzmannGeneratorForce& force, const std::string& platformName);
    ~BoltzmannGeneratorModel();
    /**
     * Take the force's temperature, settings and the System as it is now (the target), and its
     * flow if that differs from the flow this Context was given last (setFlow() or the seed
     * changed); otherwise the Context's trained flow and generator are kept. The training state
     * (optimisers, replay buffer) starts afresh.
     */
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
    /** Incremented whenever the flow's parameters change (training, reset, loadState). */
    int64_t getParameterVersion() const {
        return parameterVersion;
    }
    /** The LibTorch state (flow, generator, targets, optimisers); see BoltzmannGeneratorModelState.h. */
    State& getState() {
        return *state;
    }
    /**
     * The current centre (unweighted mean position, nm) of the modelled particles in the Context:
     * D values.
     */
    std::vector<double> currentCentre(OpenMM::ContextImpl& context) const;
    /**
     * Bring the target up to date with the Context: held positions of the other particles, the
     * periodic box, the global parameters, and the centre of the modelled particles.
     */
    void refreshTarget(OpenMM::ContextImpl& context);
    /** See BoltzmannGeneratorForce::sample(). */
    BoltzmannGeneratorSamples sample(OpenMM::ContextImpl& context, int numSamples, int weightDraws);
    /** See BoltzmannGeneratorForce::computeLogProb(). */
    std::vector<double> computeLogProb(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions, int numDraws);
    /** See BoltzmannGeneratorForce::computeLogWeights(). */
    std::vector<double> computeLogWeights(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions, int numDraws);
    /** See BoltzmannGeneratorForce::computeEnergies(). */
    std::vector<double> computeEnergies(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions);
    /** See BoltzmannGeneratorForce::train(). */
    BoltzmannGeneratorTrainingReport train(OpenMM::ContextImpl& context, int iterations);
    /** See BoltzmannGeneratorForce::trainOnSamples(). */
    BoltzmannGeneratorTrainingReport trainOnSamples(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions,
                                                    int iterations);
    /** The flow as bytes (configuration and weights), for BoltzmannGeneratorForce::setFlow(). */
    std::string getWeights();
    /** Write everything a continuation needs: flow, generator, training state. */
    void saveState(std::ostream& stream);
    /** Restore what saveState() wrote; throws an OpenMMException for malformed data. */
    void loadState(OpenMM::ContextImpl& context, std::istream& stream);

private:
    /** The unweighted mean position (D values, nm) of the modelled particles among all System positions. */
    std::vector<double> centreOf(const std::vector<OpenMM::Vec3>& positions) const;
    void checkPositions(const std::vector<OpenMM::Vec3>& positions, const char* where) const;
    /** n samples of the model with their proposal densities; the E-CNF's solver failures as OpenMMExceptions. */
    bg::ModelSample sampleModel(int64_t numSamples);
    /**
     * With distributed training on and not yet joined: join the process's data-parallel run
     * (ModelDistributed.cpp), take rank 0's flow, generator and seed, and make the existing FAB method
     * and optimisers take part. Throws an OpenMMException naming the force without a launcher.
     */
    void joinDistributedRun();
    /** Create the FAB method and its optimiser on first use (taking part in the run, if joined). */
    void ensureFab();
    /** Create the maximum-likelihood optimiser on first use (with any optimiser state read from a checkpoint). */
    void ensureMlOptimizer(int64_t updatesPerEpoch);
    /** One step of a method in the run this Context joined (ModelTraining.cpp). */
    bg::StepStats distributedStep(bg::TrainingMethod& method, bg::SkipClipAdam& optimizer, bg::DistributedContext& context);
    /** Run `iterations` steps of a training method; the report's totals are left to the caller. */
    BoltzmannGeneratorTrainingReport runSteps(bg::TrainingMethod& method, bg::SkipClipAdam& optimizer, int iterations);
    const OpenMM::System& system;
    std::string platformName;
    std::vector<int> particles;
    int forceGroup = 0;
    double kT = 0.0;
    int64_t parameterVersion = 0;
    std::string appliedFlowConfig, appliedFlowWeights;   // the force's flow when this Context last took it
    int appliedSeed = 0;
    bool distributedTraining = false;   // the force's setting when this Context took it
    double distributedTimeout = 300.0;  // s
    std::unique_ptr<State> state;
};

}   // namespace BoltzmannPlugin

#endif
