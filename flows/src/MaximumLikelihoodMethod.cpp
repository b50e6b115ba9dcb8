#include "bg/MaximumLikelihoodMethod.h"

#include "bg/DistributedContext.h"
#include "bg/MaskedLogProb.h"
#include "bg/ModelAdapters.h"

#include "bg/MicroBatching.h"

#include "SingleUpdateStats.h"

#include <torch/torch.h>

#include <stdexcept>

namespace bg {

torch::Tensor centreConfigurations(const torch::Tensor& x) {
    return x - x.mean(1, true);
}

MaximumLikelihoodMethod::MaximumLikelihoodMethod(const torch::Tensor& trainingData, const TrainingConfig& config, double auxLossWeight)
        : batchSize(config.batchSize), maxRowsPerPass(config.maxRowsPerPass), maskBelow(config.maskLogProbBelow), auxWeight(auxLossWeight) {
    if (trainingData.dim() != 3)
        throw std::invalid_argument("MaximumLikelihoodMethod: training data must have shape [n, N, D]");
    if (trainingData.size(0) < batchSize)
        throw std::invalid_argument("MaximumLikelihoodMethod: " + std::to_string(trainingData.size(0)) +
                                    " training samples are fewer than one batch of " + std::to_string(batchSize));
    data = centreConfigurations(trainingData.detach().to(torch::kCPU));
    order = ShuffledBatches(data.size(0), batchSize);
}

int64_t MaximumLikelihoodMethod::callsPerEpoch() const {
    return order.batchesPerEpoch();
}

void MaximumLikelihoodMethod::setDistributed(std::shared_ptr<DistributedContext> context) {
    if (!context)
        throw std::invalid_argument("MaximumLikelihoodMethod::setDistributed: no context");
    if (data.size(0) < batchSize * context->worldSize())
        throw std::invalid_argument("MaximumLikelihoodMethod: " + std::to_string(data.size(0)) + " training samples are fewer than one global batch of " +
                                    std::to_string(context->worldSize()) + " ranks x " + std::to_string(batchSize));
    rank = context->rank();
    ranks = context->worldSize();
    order = ShuffledBatches(data.size(0), batchSize * ranks);   // global minibatches, alike on every rank
}

StepStats MaximumLikelihoodMethod::step(GenerativeModel& model, SkipClipAdam& optimizer, torch::Generator& generator) {
    return step(couplingFlowOf(model, "maximum likelihood (method 'ml')"), optimizer, generator);
}

StepStats MaximumLikelihoodMethod::step(AugmentedCouplingFlow& flow, SkipClipAdam& optimizer, torch::Generator& generator) {
    const FlowConfig& fc = flow->getConfig();
    const auto dtype = fc.dtype == "float64" ? torch::kFloat64 : torch::kFloat32;
    // The global minibatch and its augmented variables, alike on every rank; this rank's share of both.
    torch::Tensor x = data.index_select(0, order.next(generator)).to(flow->device(), dtype);
    torch::Tensor a = flow->augmentedTarget().sample(x, fc.numAugmented, generator);
    if (ranks > 1) {
        x = x.narrow(0, rank * batchSize, batchSize);
        a = a.narrow(0, rank * batchSize, batchSize);
    }
    const double denominator = double(batchSize);
    int64_t masked = 0;
    optimizer.zeroGrad();
    torch::Tensor loss = backwardInChunks(batchSize, maxRowsPerPass, [&](int64_t start, int64_t length) {
        torch::Tensor xs = x.narrow(0, start, length), as = a.narrow(0, start, length);
        MaskedLogProb m = maskedLogProb(flow, xs, as, maskBelow);
        const int64_t kept = m.kept.numel();
        masked += length - kept;
        if (kept == 0)
            return torch::zeros({}, m.logQ.options());
        // A re-evaluated row that still fails the mask (not expected: the pass is deterministic)
        // contributes nothing.
        torch::Tensor stillKept = torch::isfinite(m.keptLogQ) & (m.keptLogQ >= maskBelow);
        torch::Tensor logQ = kept < length ? torch::where(stillKept, m.keptLogQ, torch::zeros_like(m.keptLogQ)) : m.keptLogQ;
        torch::Tensor chunkLoss = -logQ.sum() / denominator;
        if (auxWeight != 0.0)
            chunkLoss = chunkLoss + auxWeight * m.aux * (double(kept) / denominator);
        return chunkLoss;
    });
    StepReport report = optimizer.step();
    return singleUpdateStats(loss.defined() ? loss.item<double>() : 0.0, report, batchSize - masked, masked);
}

void MaximumLikelihoodMethod::save(torch::serialize::OutputArchive& archive) const {
    order.save(archive, "ml");
}

void MaximumLikelihoodMethod::load(torch::serialize::InputArchive& archive) {
    order.load(archive, "ml", "MaximumLikelihoodMethod");
}

} // namespace bg
