#ifndef BG_MAXIMUM_LIKELIHOOD_METHOD_H_
#define BG_MAXIMUM_LIKELIHOOD_METHOD_H_

#include "bg/ShuffledBatches.h"
#include "bg/TrainingConfig.h"
#include "bg/TrainingMethod.h"

#include <torch/types.h>

namespace bg {

/**
 * Maximum-likelihood training on samples of the target (model-spec 10). Each epoch visits the
 * training set in a fresh random order in floor(n / B) minibatches; each step draws one
 * a ~ pi(a|x) per configuration and minimises
 *
 *     L = -(1/B) sum_{i unmasked} log q(x_i, a_i) + w_aux * aux,
 *
 * where a sample is masked (contributes nothing, while the denominator stays the full batch size B)
 * if its log q is not finite or below config.maskLogProbBelow. Batches are pushed through the flow
 * in passes of at most config.maxRowsPerPass rows with gradient accumulation, and the update goes
 * through the SkipClipAdam guard.
 *
 * The training data are centred (zero centre of mass) once at construction. The method's state (the
 * current epoch's permutation and position) is saved with save() so a resumed run continues with the
 * same minibatches.
 *
 * Data parallel (setDistributed()): with W ranks every step takes a global minibatch of W x B
 * configurations from one shuffle that all ranks draw alike (generatorPerRank() is false), together
 * with its a ~ pi(a|x) for all W x B rows; rank r trains on rows [r B, (r+1) B). The averaged
 * gradients are then those of one process with batch W x B on the same data (up to the order of the
 * floating-point sums). An epoch has floor(n / (W B)) steps.
 */
class MaximumLikelihoodMethod : public TrainingMethod {
public:
    /**
     * @param data    training configurations [n, N, D] in nm (any floating dtype; converted to
     *                the flow's dtype at each step); n >= config.batchSize
     * @param config  batchSize, maskLogProbBelow and maxRowsPerPass are used
     * @param auxLossWeight  weight of the flow's collinearity aux loss (FlowConfig::auxLossWeight)
     */
    MaximumLikelihoodMethod(const torch::Tensor& data, const TrainingConfig& config, double auxLossWeight);
    std::string name() const override {
        return "ml";
    }
    int64_t callsPerEpoch() const override;
    void setDistributed(std::shared_ptr<DistributedContext> context) override;
    bool generatorPerRank() const override {
        return false;
    }
    /** One minibatch update of the model's E-ACF; throws std::invalid_argument for another model kind. */
    StepStats step(GenerativeModel& model, SkipClipAdam& optimizer, torch::Generator& generator) override;
    /** One minibatch update of a flow. */
    StepStats step(AugmentedCouplingFlow& flow, SkipClipAdam& optimizer, torch::Generator& generator);
    void save(torch::serialize::OutputArchive& archive) const override;
    void load(torch::serialize::InputArchive& archive) override;
    /** The centred training data [n, N, D]. */
    const torch::Tensor& getData() const {
        return data;
    }

private:
    torch::Tensor data;
    int64_t batchSize, maxRowsPerPass;
    double maskBelow, auxWeight;
    ShuffledBatches order;
    int64_t rank = 0, ranks = 1; // this rank's share of each global minibatch of ranks x batchSize rows
};

/** Subtract the centre of mass (mean over particles) from configurations x [B, N, D]. */
torch::Tensor centreConfigurations(const torch::Tensor& x);

} // namespace bg

#endif
