#ifndef BG_ANNEALED_IMPORTANCE_SAMPLER_H_
#define BG_ANNEALED_IMPORTANCE_SAMPLER_H_

#include "bg/JointDensity.h"

#include <ATen/core/Generator.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <functional>
#include <utility>
#include <vector>

namespace bg {

/** Settings of annealed importance sampling with HMC transitions (model-spec 11.1-11.3). */
struct AisSettings {
    int numIntermediate = 2;          ///< intermediate distributions between q and the AIS target
    double alpha = 2.0;               ///< AIS target g = p~^alpha q^(1 - alpha): 2 for FAB training, 1 for evaluation
    int hmcSteps = 1;                 ///< HMC steps per intermediate distribution
    int leapfrogSteps = 5;            ///< leapfrog steps per HMC step
    double initialStepSize = 1.0;     ///< leapfrog step size at the start, for every distribution
    double targetAcceptance = 0.65;   ///< step sizes grow when the batch-mean acceptance exceeds this
    double adaptationFactor = 1.02;   ///< multiplicative step-size change after every HMC step
    bool adaptStepSizes = true;       ///< false: step sizes stay fixed
    /**
     * Before the first HMC step of each distribution in the first pass, search its step size:
     * the largest step whose trial HMC steps (on a copy of at most tuningRows rows, discarded)
     * accept at least targetAcceptance, to a factor 2^(1/4) (halving or doubling from
     * initialStepSize for the first distribution and from the previous distribution's largest
     * passing step for the others, then two bisections), divided by sqrt(2) to stay clear of leapfrog's
     * stability edge; afterwards the per-step adaptation takes over. Only when adaptStepSizes
     * is set.
     */
    bool tuneInitialStepSizes = true;
    int tuningRows = 32;              ///< rows of the batch used by the trial HMC steps of the search
    void validate() const;
};

/** The result of one AIS pass over a batch. */
struct AisResult {
    torch::Tensor z;        ///< [B, M] float64: final points
    torch::Tensor logW;     ///< [B] float64: AIS log-weights towards the AIS target (-inf where invalid)
    torch::Tensor logQ;     ///< [B] float64: log q at the final points
    torch::Tensor valid;    ///< [B] bool
    std::vector<double> acceptance;   ///< mean HMC acceptance per intermediate distribution
    /** Fraction of the flow samples that were valid (finite densities, inside the target's support) before invalid ones were replaced. */
    double flowValidFraction = 0.0;
};

/**
 * Annealed importance sampling from the flow q to g = p~^alpha q^(1-alpha) through intermediate
 * densities log pi_beta = (1 - alpha*beta) log q + alpha*beta log p~ with beta linearly spaced in
 * [0, 1] (numIntermediate + 2 values), each reached with HMC (identity mass, leapfrog with cached
 * gradients, Metropolis correction). One step size per intermediate distribution, adapted after
 * every HMC step towards targetAcceptance and kept across passes. In the first pass each
 * distribution's step size is first searched by halving/doubling (AisSettings::tuneInitialStepSizes),
 * so an initial step far off the System's scale (1 nm against bonds of 0.1 nm) costs a few trial
 * steps instead of hundreds of passes at acceptance 0.
 *
 * Invalid points never propagate: flow samples whose log q, log p~ or gradients are not finite are
 * replaced by valid samples of the same batch (drawn uniformly); HMC proposals that pass through an
 * invalid point are rejected; a NaN energy difference counts as rejection.
 */
class AnnealedImportanceSampler {
public:
    explicit AnnealedImportanceSampler(const AisSettings& settings);
    /** Draw n flow samples and move them through the AIS chain. */
    AisResult run(JointDensity& density, int64_t n, at::Generator& generator);
    /** Run the chain from given flow samples z0 [B, M] (float64). */
    AisResult runFrom(JointDensity& density, const torch::Tensor& z0, at::Generator& generator);
    const AisSettings& getSettings() const {
        return settings;
    }
    /** Change alpha (e.g. 1 for evaluation) keeping the tuned step sizes. */
    void setAlpha(double alpha);
    /** The current leapfrog step size of each intermediate distribution. */
    const std::vector<double>& getStepSizes() const {
        return stepSizes;
    }
    /** Set every distribution's step size (positive, finite; one per distribution); no initial search follows. */
    void setStepSizes(const std::vector<double>& sizes);
    /** Whether the initial search of the step sizes has been done (or was not wanted). */
    bool stepSizesTuned() const {
        return initialSearchDone;
    }
    /**
     * Makes the step-size adaptation a joint decision of several samplers (the ranks of a
     * data-parallel run): after every HMC step the reducer receives this sampler's (acceptance
     * rate x rows, rows) and must return the sums of both over all samplers; the step size then
     * follows the pooled rate sum/rows (unchanged when no sampler had rows). Every sampler calls it
     * numIntermediate x hmcSteps times per pass, plus once per trial of the initial search (whose
     * decisions all follow pooled rates, so every sampler makes the same trials), also in a pass
     * without valid samples (with zero rows), so the calls pair up. Unset (the default): each
     * sampler adapts to its own rate.
     */
    using AcceptanceReducer = std::function<std::pair<double, double>(double acceptedRows, double rows)>;
    void setAcceptanceReducer(AcceptanceReducer reducer) {
        acceptanceReducer = std::move(reducer);
    }
    void save(torch::serialize::OutputArchive& archive) const;
    void load(torch::serialize::InputArchive& archive);

private:
    double betaAt(int index) const;
    /** Adapt the step size of distribution t from this pass's rate over `rows` rows (pooled by the reducer, if set). */
    void adaptStepSize(int t, double rate, double rows);
    /** The pooled acceptance rate over all samplers (the reducer), or -1 when no sampler had rows. */
    double pooledRate(double rate, double rows);
    /**
     * The initial search of distribution t's step size; trial(s) returns (acceptance rate, rows) of
     * trial HMC steps with step s; fromNeighbour: start from distribution t-1's largest passing
     * step instead of t's current one. Returns false when no sampler had rows.
     */
    bool searchStepSize(int t, const std::function<std::pair<double, double>(double)>& trial, bool fromNeighbour);
    AisSettings settings;
    std::vector<double> stepSizes;
    bool initialSearchDone = false;
    AcceptanceReducer acceptanceReducer;
};

/**
 * One HMC step (leapfrogSteps leapfrog steps of size stepSize, identity mass) on the density
 * log pi = cq*log q + cp*log p~, for every row of z [B, M] at once. `current` holds the cached
 * evaluation at z (with gradients) and is replaced by the evaluation at the accepted points.
 * Returns the per-row acceptance indicator [B] (bool).
 */
torch::Tensor hmcStep(JointDensity& density, torch::Tensor& z, JointEvaluation& current, double cq, double cp, double stepSize,
                      int leapfrogSteps, at::Generator& generator);

} // namespace bg

#endif
