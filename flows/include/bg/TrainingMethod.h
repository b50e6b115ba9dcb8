#ifndef BG_TRAININGMETHOD_H_
#define BG_TRAININGMETHOD_H_

#include "bg/AugmentedCouplingFlow.h"
#include "bg/GenerativeModel.h"
#include "bg/Optimizer.h"

#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <cstdint>
#include <limits>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace bg {

class DistributedContext;

/** Named scalar figures (metric name, value) reported by a training step or an evaluation. */
using NamedValues = std::vector<std::pair<std::string, double>>;

/** What one TrainingMethod::step() did. */
struct StepStats {
    double loss = std::numeric_limits<double>::quiet_NaN(); ///< mean loss over the step's updates
    double gradNorm = 0.0;      ///< mean global gradient norm (before clipping) over the updates
    double learningRate = 0.0;  ///< learning rate of the last update taken
    int64_t updates = 0;        ///< optimiser updates attempted in this step
    int64_t skipped = 0;        ///< updates skipped by the median-window guard
    int64_t clipped = 0;        ///< updates whose gradient was clipped
    int64_t masked = 0;         ///< samples left out of the loss (non-finite terms)
    int64_t samples = 0;        ///< samples that entered the loss
    NamedValues extra;          ///< method-specific figures (e.g. AIS acceptance and ESS for FAB)
};

/**
 * One way of training a GenerativeModel: maximum likelihood on data and FAB on a target train the
 * E-ACF, flow matching on data trains the E-CNF. A TrainingDriver calls step() repeatedly; one call
 * is one minibatch update for maximum likelihood and flow matching, and one full iteration (AIS pass
 * plus several buffer updates) for FAB. The driver owns the model, the optimiser and the random
 * generator, and saves the method's own state (buffers, counters, adapted step sizes) through
 * save()/load() so a resumed run continues identically. A method given a model of another kind
 * throws std::invalid_argument naming the method and the model kind (couplingFlowOf(), cnfOf()).
 */
class TrainingMethod {
public:
    virtual ~TrainingMethod() = default;
    /** Short name, as on the command line ("ml", "fab", "fm"). */
    virtual std::string name() const = 0;
    /** The model kind this method trains (GenerativeModel::kind(): "eacf" or "ecnf"). */
    virtual std::string modelKind() const {
        return "eacf";
    }
    /** step() calls that make one epoch (ML: minibatches per pass over the data; FAB: 1). */
    virtual int64_t callsPerEpoch() const = 0;
    /** Optimiser updates one step() call attempts (ML: 1; FAB: updates per iteration). */
    virtual int64_t updatesPerCall() const {
        return 1;
    }
    /**
     * Run one step: draw what it needs from generator, compute losses, update through optimizer.
     * @throws std::invalid_argument for a model of another kind than modelKind()
     */
    virtual StepStats step(GenerativeModel& model, SkipClipAdam& optimizer, torch::Generator& generator) = 0;
    /** step() on an E-ACF held as a flow (wrapped in a CouplingFlowModel). */
    StepStats step(AugmentedCouplingFlow& flow, SkipClipAdam& optimizer, torch::Generator& generator);
    /** Figures this method adds to a periodic evaluation (FAB: AIS ESS with alpha = 1). */
    virtual NamedValues evaluate(GenerativeModel& model, torch::Generator& generator) {
        (void) model;
        (void) generator;
        return {};
    }
    /**
     * Take part in a data-parallel run (called once, before the first step; the driver averages the
     * gradients through the optimiser). A method splits its work over context->worldSize() ranks and
     * makes every decision that must agree across ranks from reduced figures. Default: not
     * supported (throws std::invalid_argument naming the method).
     */
    virtual void setDistributed(std::shared_ptr<DistributedContext> context) {
        (void) context;
        throw std::invalid_argument("TrainingMethod '" + name() + "' does not support distributed training");
    }
    /**
     * Where the method reports progress inside a long step (one line each, no newline; FAB: the
     * AIS passes that fill the replay buffer before the first update). Default: reports nothing.
     */
    virtual void setProgressReporter(std::function<void(const std::string& line)> reporter) {
        (void) reporter;
    }
    /**
     * In a data-parallel run: true if each rank's generator gets its own seed (seed + rank: FAB's
     * own AIS samples), false if all ranks share one random stream (ML: one shuffle, split by rank).
     */
    virtual bool generatorPerRank() const {
        return true;
    }
    /** Save the method's own state (not the flow or the optimiser). */
    virtual void save(torch::serialize::OutputArchive& archive) const {
        (void) archive;
    }
    /** Restore what save() wrote. */
    virtual void load(torch::serialize::InputArchive& archive) {
        (void) archive;
    }
};

} // namespace bg

#endif
