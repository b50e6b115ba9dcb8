#ifndef BG_FABMETHOD_H_
#define BG_FABMETHOD_H_

#include "bg/AnnealedImportanceSampler.h"
#include "bg/Chirality.h"
#include "bg/JointDensity.h"
#include "bg/PrioritisedReplayBuffer.h"
#include "bg/Target.h"
#include "bg/TrainingMethod.h"

#include <memory>
#include <string>
#include <vector>

namespace bg {

/**
 * Settings of FAB training (model-spec 11 and 14). Defaults are the paper's DW4 values; LJ13 uses
 * batchSize 1024 and ais.numIntermediate 8.
 */
struct FabSettings {
    int64_t batchSize = 128;          ///< B: AIS samples per iteration and rows per minibatch
    int updatesPerIteration = 8;      ///< minibatches (optimiser updates) drawn from the buffer per iteration
    int64_t bufferMaxBatches = 512;   ///< buffer capacity, in batches of B
    int64_t bufferMinBatches = 64;    ///< entries (in batches of B) needed before training starts
    double weightClip = 10.0;         ///< clip of the importance ratio q_old/q_theta (w_adjust_clip)
    AisSettings ais;                  ///< AIS towards p~^2/q (alpha is forced to 2 for training)
    int64_t evalAisSamples = 10000;   ///< AIS samples (alpha = 1) in a periodic evaluation
    int64_t evalAisBatch = 128;       ///< rows per evaluation AIS pass
    int64_t maxRowsPerPass = 0;       ///< 0: whole minibatch per backward pass; else gradient accumulation
    int64_t maxEvaluationBatch = 0;   ///< 0: no limit; else rows per flow+target evaluation inside AIS
    /**
     * Run each iteration's AIS pass in a second thread, concurrently with the buffer updates (the AIS
     * pass uses a snapshot of the parameters from before the updates either way, model-spec 11.5).
     * The results are bitwise the same as with false (the updates draw no random numbers; the AIS
     * pass alone uses the generator, in the same order); see FabMethod for the thread layout.
     */
    bool concurrentAis = true;
    /**
     * Smoothing of huge reduced energies (kT) in every energy FAB evaluates (its AIS passes for
     * training and evaluation), on top of any the target applies itself: linear up to linearUntil,
     * logarithmic above, capped at cap (model-spec 15.2: 1e8 and 1e20). JSON "energyRegularisation":
     * {"linearUntil": x, "cap": y}, null for "none"; off by default.
     */
    EnergyRegularisation energyRegularisation;
    /**
     * Chiral centres whose handedness the training keeps (bg::restrictToNegativeImpropers): every
     * energy FAB evaluates (training and evaluation AIS) treats a configuration with any of these
     * improper dihedrals (indices of the modelled particles) not negative as outside the target's
     * support, so AIS starts only from flow samples of the wanted form and HMC never inverts a
     * centre, and the buffer holds that form alone. For L amino acids list N-CA-C-CB; the alanine
     * dipeptide presets use [[6, 8, 14, 10]] (model-spec 15.2: the reference FAB code's L-form
     * filter). JSON "chiralCentres": [[a, b, c, d], ...]; empty by default (no restriction). The
     * flow's own evaluation (reverse ESS) is against the unrestricted target.
     */
    std::vector<ChiralCentre> chiralCentres;

    /** Throws std::invalid_argument naming the field if a value is unusable. */
    void validate() const;
    std::string toJson() const;
    /** Parse JSON (keys as the member names; "ais" is an object); unknown keys are rejected. */
    static FabSettings fromJson(const std::string& json);
};

/**
 * The clipped importance-weighted FAB loss of one minibatch (model-spec 11.5):
 * delta = -(log q_theta - log q_old) (no gradient), w = min(exp(delta), clip),
 * L = -sum_i w_i log q_theta(z_i) / normaliser.
 */
struct FabLossTerms {
    torch::Tensor loss;    ///< scalar with autograd graph (only rows with finite log q contribute)
    torch::Tensor logQ;    ///< [b] float64 log q_theta, detached (non-finite where the flow failed)
    torch::Tensor delta;   ///< [b] float64 -(log q_theta - log q_old), detached
};

/**
 * Compute the FAB loss for flat joint points (see FabLossTerms). Rows whose log q is not finite are
 * left out (maskedLogProb) so that no NaN reaches the gradient; they still count in normaliser.
 * The aux loss is not included.
 */
FabLossTerms fabLoss(AugmentedCouplingFlow& flow, const FlowTargetDensity& density, const torch::Tensor& z,
                     const torch::Tensor& logQOld, double weightClip, double normaliser);

/**
 * Flow annealed importance sampling bootstrap with the alpha = 2 divergence and a prioritised
 * replay buffer (model-spec 11). One step() is one FAB iteration: draw updatesPerIteration
 * minibatches from the buffer, take one optimiser update on each (the clipped importance-weighted
 * -log q loss plus the aux loss), re-weight those buffer entries, and add one AIS pass (run with the
 * parameters from before the updates) to the buffer. The buffer is filled with
 * bufferMinBatches + 1 AIS passes on the first step.
 *
 * Every AIS pass (buffer fill, the iteration's pass, evaluation) runs on a snapshot of the flow: a
 * second module whose parameters are copied from the trained flow before the pass and do not
 * require gradients, so the leapfrog steps' input-gradient passes build no parameter graph. With
 * settings.concurrentAis the iteration's AIS pass runs in a second thread while the calling thread
 * takes the updates. Thread layout: with T intra-op threads set (torch::set_num_threads), the two
 * phases use max(1, T/2) intra-op threads each while they overlap (T is restored afterwards); with
 * T = 1 both run single-threaded, i.e. with the same arithmetic as the sequential path, whose
 * results (parameters, buffer, step sizes) are bitwise identical for a fixed seed. The updates
 * draw no random numbers, so the generator is used by the AIS thread alone while they overlap.
 *
 * Timing figures (seconds spent in AIS, in target energies, in the flow updates) are reported in
 * StepStats::extra so the cost split can be logged; with concurrentAis the AIS and update times
 * overlap, and time_iteration_s is the wall time of the whole iteration.
 *
 * Data parallel (setDistributed()): every rank runs its own AIS passes (its own generator, seeded
 * seed + rank by the driver) into its own replay buffer and takes its updates on minibatches of B
 * from it; the driver's optimiser averages the gradients, so the global batch is W x B. The AIS
 * step sizes follow the acceptance rate pooled over all ranks after every HMC step (on the
 * DistributedContext's sampler channel, which the AIS thread may use while the training thread
 * reduces gradients), so they stay identical on every rank; the initial buffer fill runs until
 * every rank's buffer is ready.
 */
class FabMethod : public TrainingMethod {
public:
    /**
     * @param flow      the flow being trained (shared handle: the driver's flow)
     * @param target    the target p~(x) = exp(-u(x)); must outlive the method
     * @param settings  FAB settings; validated here
     */
    FabMethod(AugmentedCouplingFlow flow, Target& target, const FabSettings& settings);
    ~FabMethod() override;
    std::string name() const override {
        return "fab";
    }
    int64_t callsPerEpoch() const override {
        return 1;
    }
    int64_t updatesPerCall() const override {
        return settings.updatesPerIteration;
    }
    void setDistributed(std::shared_ptr<DistributedContext> context) override;
    /** Reports each AIS pass of the buffer fill (pass k of at least bufferMinBatches + 1, time, ETA, acceptance, step size). */
    void setProgressReporter(std::function<void(const std::string& line)> reporter) override {
        progress = std::move(reporter);
    }
    /** One FAB iteration on the model's E-ACF; throws std::invalid_argument for another model kind. */
    StepStats step(GenerativeModel& model, SkipClipAdam& optimizer, torch::Generator& generator) override;
    /** One FAB iteration on a flow (the one given at construction). */
    StepStats step(AugmentedCouplingFlow& flow, SkipClipAdam& optimizer, torch::Generator& generator);
    /** evaluate() of a flow on the model's E-ACF; throws std::invalid_argument for another model kind. */
    NamedValues evaluate(GenerativeModel& model, torch::Generator& generator) override;
    /** AIS with alpha = 1 and the tuned step sizes (not adapted): "ais_ess" and "ais_flow_ess". */
    NamedValues evaluate(AugmentedCouplingFlow& flow, torch::Generator& generator);
    void save(torch::serialize::OutputArchive& archive) const override;
    void load(torch::serialize::InputArchive& archive) override;

    const FabSettings& getSettings() const {
        return settings;
    }
    /** The replay buffer (null before the first step). */
    const PrioritisedReplayBuffer* getBuffer() const {
        return buffer.get();
    }
    /** The AIS sampler with its tuned step sizes. */
    const AnnealedImportanceSampler& getSampler() const {
        return sampler;
    }
    /** FAB iterations completed. */
    int64_t iterations() const {
        return completed;
    }

private:
    class TimedTarget;
    std::unique_ptr<PrioritisedReplayBuffer> makeBuffer() const;
    /** Copy the parameters and buffers of flow into the snapshot (created on first use); returns its density. */
    FlowTargetDensity& refreshSnapshot(AugmentedCouplingFlow& flow);
    void fillBuffer(torch::Generator& generator);
    FabSettings settings;
    std::unique_ptr<TimedTarget> timedTarget;
    FlowTargetDensity density;
    AugmentedCouplingFlow snapshot{nullptr};                 // AIS copy of the flow, no parameter gradients
    std::unique_ptr<FlowTargetDensity> snapshotDensity;
    AnnealedImportanceSampler sampler;
    std::unique_ptr<PrioritisedReplayBuffer> buffer;
    std::shared_ptr<DistributedContext> distributed;   // null: a single process
    std::function<void(const std::string& line)> progress;   // empty: no progress lines
    int64_t completed = 0;
};

} // namespace bg

#endif
