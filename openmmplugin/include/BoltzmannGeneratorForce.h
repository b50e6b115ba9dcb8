#ifndef OPENMM_BOLTZMANN_GENERATOR_FORCE_H_
#define OPENMM_BOLTZMANN_GENERATOR_FORCE_H_

#include "internal/windowsExportBoltzmannGenerator.h"
#include "openmm/Context.h"
#include "openmm/Force.h"
#include "openmm/Vec3.h"

#include <string>
#include <vector>

namespace BoltzmannPlugin {

class BoltzmannGeneratorModel;
class BoltzmannGeneratorForceImpl;

/**
 * Configurations drawn from a Boltzmann generator, with their densities and importance weights.
 * Sample i occupies positions[i*numParticles, (i+1)*numParticles) in the order of the force's
 * modelled particles.
 */
struct BoltzmannGeneratorSamples {
    int numSamples = 0;                   ///< n
    int numParticles = 0;                 ///< N, the number of modelled particles
    std::vector<OpenMM::Vec3> positions;  ///< n*N positions in nm, each sample centred at the modelled particles' centre in the Context
    /** n log densities of the model (dimensionless): the joint log q(x, a) of the E-ACF at its augmented draw a, the exact log q(x) of the E-CNF */
    std::vector<double> logProb;
    /** n importance log-weights: -U(x)/kT + log pi(a|x) - log q(x, a) for the E-ACF, -U(x)/kT - log q(x) for the E-CNF; -inf where U failed */
    std::vector<double> logWeights;
    std::vector<double> energies;         ///< n potential energies U(x) of the target, in kJ/mol (+inf where invalid)
};

/** What a call of BoltzmannGeneratorForce::train() or trainOnSamples() did. */
struct BoltzmannGeneratorTrainingReport {
    int iterations = 0;              ///< iterations (FAB) or minibatch updates (maximum likelihood, flow matching) completed
    double lastLoss = 0.0;           ///< loss of the last iteration (dimensionless; NaN if no update was taken)
    double meanLoss = 0.0;           ///< mean loss over the call's iterations
    int skippedUpdates = 0;          ///< optimiser updates skipped by the gradient-norm guard
    double aisAcceptance = 0.0;      ///< FAB: mean HMC acceptance of the last AIS pass (0 for maximum likelihood and flow matching)
    double seconds = 0.0;            ///< wall-clock time of the call, in s
    int totalIterations = 0;         ///< iterations of this method done in the Context so far
};

/**
 * A BoltzmannGeneratorForce turns the System it belongs to into the target of a Boltzmann
 * generator: a normalising flow over the Cartesian coordinates of a set of modelled particles,
 * trained so that its samples follow exp(-U/kT) of the rest of the System.
 *
 * Like CMMotionRemover it adds no energy and no forces; it is a home for per-Context work
 * (sampling, density evaluation, training) done by its kernel. The flow is stored as a
 * configuration (JSON text) plus weights (bytes), both serialized with the System.
 *
 * The target of the flow is p(x) ~ exp(-U(x)/kT) over the positions x of the modelled particles,
 * where U is the potential energy of every other force of the System. When this force is given a
 * force group of its own (setForceGroup() with a group other than 0), the forces that share that
 * group are left out of U too: that is how restraints or biases used only for MD are kept out of
 * the target. U is evaluated with the Context's current state: its global parameters, its periodic
 * box, and the other particles held at their current positions (changes made to other forces with
 * their updateParametersInContext() are seen after this force's updateParametersInContext()).
 *
 * The flow models configurations relative to their centre (the unweighted mean position of the
 * modelled particles). Samples are placed at the modelled particles' current centre c in the
 * Context, and sampling, the weights of samples and FAB training use the conditional target
 * u_c(x) = U(x - mean(x) + c)/kT; for a translation-invariant System this is the plain target.
 * computeEnergies() and computeLogWeights() evaluate configurations where they are given.
 *
 * A constraint that involves a modelled particle is refused when a Context is created (the flow
 * samples unconstrained coordinates; build the System without constraints on those particles), as
 * are modelled virtual sites. Each Context owns a copy of the flow: sample(), computeLogProb(),
 * computeLogWeights() and train() work on that copy; getWeights() reads it back and
 * updateParametersInContext() replaces it with the force's (when setFlow() changed it). The flow
 * and training state of a Context travel with Context::createCheckpoint() only when the Context's
 * integrator is a BoltzmannGeneratorIntegrator (OpenMM gives a force no checkpoint of its own);
 * otherwise keep a trained flow with setFlow(getFlowConfig(), getWeights(context)).
 */
class OPENMM_EXPORT_BG BoltzmannGeneratorForce : public OpenMM::Force {
public:
    /**
     * Create a BoltzmannGeneratorForce.
     *
     * @param particles    indices of the modelled particles in the System; must be non-empty,
     *                     non-negative and free of duplicates (their upper bound is checked when
     *                     a Context is created)
     * @param temperature  the temperature of the target distribution, in Kelvin; must be positive
     */
    BoltzmannGeneratorForce(const std::vector<int>& particles, double temperature);
    /** Get the number of modelled particles. */
    int getNumParticles() const {
        return particles.size();
    }
    /** Get the indices of the modelled particles, in the order the flow sees them. */
    const std::vector<int>& getParticles() const {
        return particles;
    }
    /** Get the temperature of the target distribution, in Kelvin. */
    double getTemperature() const {
        return temperature;
    }
    /**
     * Set the temperature of the target distribution.
     *
     * @param temperature  the temperature, in Kelvin; must be positive
     */
    void setTemperature(double temperature);
    /**
     * Store a flow in the force. Contexts created afterwards (and updateParametersInContext())
     * use it. Without a flow, a Context starts from the default flow for getNumParticles()
     * particles (getDimension() coordinates each), initialised from the random number seed.
     *
     * @param config   the flow configuration as JSON text: the E-ACF's FlowConfig, or with
     *                 "model": "ecnf" the E-CNF's CnfConfig (the equivariant continuous normalizing
     *                 flow, trained by flow matching with trainOnSamples(); FAB needs the E-ACF).
     *                 Its numParticles and dimension must match this force (checked when a Context is
     *                 created); the configuration itself is checked here
     * @param weights  the trained weights, as returned by getWeights() (opaque bytes, may contain
     *                 NUL characters); an empty string means a fresh initialisation from config.
     *                 The weights carry the configuration they were saved with, which must equal
     *                 config (compared after normalisation, so formatting and key order do not matter)
     * @throws OpenMMException for an empty or invalid configuration, weights that are not saved bytes
     *         of the configuration's model kind (or are corrupted), or weights saved from a flow with a different configuration;
     *         the force is left unchanged
     */
    void setFlow(const std::string& config, const std::string& weights = std::string());
    /** Whether a flow has been stored with setFlow(). */
    bool hasFlow() const {
        return !flowConfig.empty();
    }
    /** Get the flow configuration (JSON text), or an empty string if none was set. */
    const std::string& getFlowConfig() const {
        return flowConfig;
    }
    /** Get the serialized flow weights (bytes), or an empty string if none were set. */
    const std::string& getFlowWeights() const {
        return flowWeights;
    }
    /**
     * Whether the modelled particles move in the xy plane only (D = 2, z = 0), as in DW4. The flow
     * then models x and y; sampled positions have z = 0. Default false (D = 3).
     */
    bool isPlanar() const {
        return planar;
    }
    /** Set whether the modelled particles move in the xy plane only (see isPlanar()). */
    void setPlanar(bool planar) {
        this->planar = planar;
    }
    /** The number of coordinates per modelled particle the flow sees: 2 if planar, else 3. */
    int getDimension() const {
        return planar ? 2 : 3;
    }
    /**
     * Set the training settings (JSON text with the keys of the training configuration: method,
     * batchSize, epochs (the planned number of iterations of the learning-rate schedule), schedule,
     * clipFactor, ignoreFactor, gradNormWindow, maskLogProbBelow, maxRowsPerPass, seed, numThreads,
     * fab (an object with the FAB settings: updatesPerIteration, bufferMinBatches, bufferMaxBatches,
     * weightClip, ais {numIntermediate, hmcSteps, leapfrogSteps, initialStepSize, ...}), ...).
     * Missing keys keep their defaults; unknown keys or unusable values throw an OpenMMException.
     * An empty string restores the defaults.
     */
    void setTrainingSettings(const std::string& json);
    /** Get the training settings (JSON text, every key; the defaults if none were set). */
    const std::string& getTrainingSettings() const {
        return trainingSettings;
    }
    /** Get the random number seed of the flow's sampling in new Contexts (0: a new seed per Context). */
    int getRandomNumberSeed() const {
        return randomSeed;
    }
    /**
     * Set the random number seed used by each new Context for the flow's initialisation (when no
     * weights are stored), sampling and training. 0 picks a different seed for every Context.
     */
    void setRandomNumberSeed(int seed) {
        randomSeed = seed;
    }
    /**
     * Get whether the training calls of a Context take part in a data-parallel run (see
     * setDistributedTraining()). Default false.
     */
    bool getDistributedTraining() const {
        return distributedTraining;
    }
    /**
     * Set whether train(), trainOnSamples() and the in-step training of a
     * BoltzmannGeneratorIntegrator take part in a data-parallel run of several processes (ranks),
     * started by a launcher such as torchrun or a batch system (docs/distributed.md). When true, the
     * first training call of a Context joins the run described by the launcher's environment
     * (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK; one process group per process,
     * shared by all its Contexts), copies rank 0's flow and random state into the Context, and from
     * then on every optimiser update averages the gradients over the ranks, so all ranks keep
     * identical parameters:
     *  - FAB (train()): every rank runs its own AIS passes (its own random stream, seeded
     *    seed + 1 + rank) into its own replay buffer; the AIS step sizes adapt to the acceptance
     *    pooled over the ranks; the global batch is ranks x batchSize.
     *  - Maximum likelihood (trainOnSamples()): every rank must pass the same configurations; each
     *    update takes ranks x batchSize of them from one shuffle shared by the ranks, and rank r
     *    trains on its share, so W ranks with batch B/W take the updates of one process with batch B.
     *  - Flow matching (trainOnSamples() of the E-CNF) runs in one process only: with this setting
     *    on, it throws an OpenMMException naming this class.
     * The report's lastLoss and meanLoss are means over the ranks. Every rank must make the same
     * training calls in the same order (one script run by every rank). A Context that changed this
     * setting takes it with updateParametersInContext() (or a new Context).
     *
     * A training call then throws an OpenMMException naming this class when the environment does
     * not describe a run (RANK or WORLD_SIZE missing or invalid), when the ranks cannot meet within
     * getDistributedTimeout(), or when a peer rank dies or hangs during training.
     */
    void setDistributedTraining(bool distributed) {
        distributedTraining = distributed;
    }
    /** Get the seconds a rank of a data-parallel run waits for its peers (see setDistributedTimeout()). */
    double getDistributedTimeout() const {
        return distributedTimeout;
    }
    /**
     * Set how long, in seconds, a rank of a data-parallel run waits for the others (the rendezvous
     * and every collective operation) before the training call fails; default 300. The process
     * group is created by the first Context of the process that joins a run, with that Context's
     * timeout.
     *
     * @param seconds  positive and finite
     * @throws OpenMMException otherwise
     */
    void setDistributedTimeout(double seconds);
    /**
     * Draw independent samples from the Context's flow with their exact importance weights. The
     * flow's zero-centre configurations are placed at the current centre (unweighted mean
     * position) of the modelled particles in the Context, and U is evaluated there with the
     * Context's current parameters, box and other particles (the conditional target of the class
     * description).
     *
     * @param context     a Context whose System contains this force
     * @param numSamples  n, positive
     * @param weightDraws M, positive: augmented draws behind each log-weight (E-ACF; the E-CNF has no
     *                    augmented variables and ignores it). 1 gives the joint weight
     *                    log w = -u(x) + log pi(a|x) - log q(x, a) (model-spec 13); M > 1 adds M - 1
     *                    draws a_m ~ pi(a|x) and gives log w = -u(x) - log qhat(x), log qhat(x) =
     *                    logsumexp_m [log q(x, a_m) - log pi(a_m|x)] - log M over the sample's own a
     *                    and the new draws (bg::multiDrawLogProposal): still exact importance weights,
     *                    closer to the marginal's -u(x) - log q(x) as M grows, at one more flow pass per draw
     * @return n configurations of the modelled particles (nm), log q (E-ACF: log q(x, a) of the
     *         sample's own a, whatever M; E-CNF: log q(x) by its ODE), log w and the target energies U in kJ/mol
     * @throws OpenMM::OpenMMException if n or M is not positive, if the samples would need more than
     *         half of the machine's memory (draw them in batches), or if the E-CNF's ODE solver fails
     */
    BoltzmannGeneratorSamples sample(OpenMM::Context& context, int numSamples, int weightDraws = 1) const;
    /**
     * Evaluate the marginal log density log q(x) of the Context's flow (E-ACF: an importance-sampled
     * estimate over numDraws augmented draws a ~ pi(a|x); E-CNF: exact by its ODE, numDraws unused
     * but checked) for configurations of the modelled particles. The density is that of x relative to its centre (unweighted mean position).
     *
     * @param context    a Context whose System contains this force
     * @param positions  n*N positions in nm (N = getNumParticles(), sample-major), all finite
     * @param numDraws   augmented draws per configuration, positive
     * @return n values of log q(x) (dimensionless; reduced units of nm^-(N-1)D); -inf for
     *         configurations the flow gives no finite density (e.g. overflowing coordinates)
     * @throws OpenMM::OpenMMException for a position count that is not a multiple of N, a
     *         non-finite position, or numDraws < 1
     */
    std::vector<double> computeLogProb(OpenMM::Context& context, const std::vector<OpenMM::Vec3>& positions, int numDraws = 20) const;
    /**
     * Evaluate importance log-weights log w(x) = -U(x)/kT - log q(x) of configurations, for
     * reweighting samples of the flow to the Boltzmann distribution (U at the given positions,
     * with the Context's state as in computeEnergies(); log q as in computeLogProb(): for the E-ACF
     * an estimate from numDraws augmented draws, so for its samples prefer sample()'s exact
     * logWeights; for the E-CNF the exact log q(x), with no augmented variables).
     * Configurations whose energy or density cannot be computed get -inf.
     *
     * @param context    a Context whose System contains this force
     * @param positions  n*N positions in nm, all finite
     * @param numDraws   augmented draws per configuration for log q, positive
     * @return n log-weights (dimensionless, unnormalised)
     * @throws OpenMM::OpenMMException as computeLogProb()
     */
    std::vector<double> computeLogWeights(OpenMM::Context& context, const std::vector<OpenMM::Vec3>& positions, int numDraws = 20) const;
    /**
     * Evaluate the target's potential energy U(x) (see the class description: every other force,
     * less those sharing a non-zero force group with this force; other particles at their positions
     * in the Context) for configurations of the modelled particles.
     *
     * @param context    a Context whose System contains this force
     * @param positions  n*N positions in nm
     * @return n energies in kJ/mol (+inf for configurations that cannot be evaluated)
     */
    std::vector<double> computeEnergies(OpenMM::Context& context, const std::vector<OpenMM::Vec3>& positions) const;
    /**
     * Train the Context's flow from the energy alone with FAB (flow annealed importance sampling
     * bootstrap, alpha = 2, prioritised replay buffer) for a number of iterations. The optimiser,
     * replay buffer and adapted AIS step sizes persist in the Context between calls; the first
     * call fills the buffer first.
     *
     * @param context     a Context whose System contains this force
     * @param iterations  FAB iterations, positive
     * @throws OpenMM::OpenMMException for the E-CNF (FAB needs the E-ACF; train the E-CNF with
     *         trainOnSamples()), iterations < 1, unusable FAB settings, or (with
     *         setDistributedTraining(true)) a run that cannot be joined or a peer rank that fails
     */
    BoltzmannGeneratorTrainingReport train(OpenMM::Context& context, int iterations) const;
    /**
     * Train the Context's flow on given configurations (e.g. from MD): the E-ACF by maximum
     * likelihood, the E-CNF by flow matching (the FlowMatchingSettings under "fm" of the training
     * settings; minibatches of the settings' batchSize).
     *
     * @param context     a Context whose System contains this force
     * @param positions   n*N positions of the modelled particles in nm, n at least the batch size
     *                    of the training settings
     * @param iterations  minibatch updates, positive
     * @throws OpenMM::OpenMMException for bad positions, fewer configurations than one batch (with
     *         setDistributedTraining(true): than ranks x batch size), iterations < 1, a run that
     *         cannot be joined or a peer rank that fails, or the E-CNF with distributed training on
     */
    BoltzmannGeneratorTrainingReport trainOnSamples(OpenMM::Context& context, const std::vector<OpenMM::Vec3>& positions,
                                                    int iterations) const;
    /**
     * Get the current weights of the Context's flow (after training), as bytes for setFlow().
     *
     * @param context  a Context whose System contains this force
     */
    std::string getWeights(OpenMM::Context& context) const;
    /**
     * Copy the force's temperature, training settings and the System's current forces (the target,
     * including parameters other forces pushed with their own updateParametersInContext()) into a
     * Context. The force's flow (setFlow(); a fresh initialisation when it holds no weights)
     * replaces the Context's only if it changed since the Context took it (setFlow() or the seed);
     * otherwise the Context keeps its trained flow. The Context's optimisers and replay buffer are
     * reset (the target may have changed).
     *
     * @param context  a Context whose System contains this force
     * @throws OpenMM::OpenMMException if the force is not in the Context's System, or the modelled
     *         particles, planar flag or force group changed
     */
    void updateParametersInContext(OpenMM::Context& context);
    /**
     * Get the current positions of the modelled particles in a Context, in the order of
     * getParticles(), as the platform's kernel reads them (the data path the flow uses).
     *
     * @param context  a Context whose System contains this force
     * @return positions in nm
     */
    std::vector<OpenMM::Vec3> getModelledPositions(OpenMM::Context& context) const;
    /** This force does not depend on periodic boundary conditions. */
    bool usesPeriodicBoundaryConditions() const override {
        return false;
    }

protected:
    OpenMM::ForceImpl* createImpl() const override;

private:
    BoltzmannGeneratorForceImpl& implIn(OpenMM::Context& context) const;
    BoltzmannGeneratorModel& modelIn(OpenMM::Context& context) const;
    std::vector<int> particles;
    double temperature;
    std::string flowConfig, flowWeights, trainingSettings;
    bool planar = false, distributedTraining = false;
    int randomSeed = 0;
    double distributedTimeout = 300.0;
};

} // namespace BoltzmannPlugin

#endif
