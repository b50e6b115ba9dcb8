#ifndef BG_TRAINING_METHOD_FACTORY_H_
#define BG_TRAINING_METHOD_FACTORY_H_

#include "bg/AugmentedCouplingFlow.h"
#include "bg/Target.h"
#include "bg/TrainingConfig.h"
#include "bg/TrainingMethod.h"

#include <torch/types.h>

#include <memory>
#include <string>

namespace bg {

/** What a training method may need; each method uses the parts it needs. */
struct TrainingMethodInputs {
    AugmentedCouplingFlow flow;    ///< the flow being trained
    Target* target = nullptr;      ///< the target density (FAB needs it; may be null for ML)
    torch::Tensor trainingData;    ///< training configurations [n, N, D] in nm (ML needs them; may be undefined for FAB)
    TrainingConfig config;         ///< the run's configuration (FAB reads its settings from config.fab)
};

/**
 * Create the training method called `name` ("ml" or "fab"). FAB reads its FabSettings from the JSON
 * object config.fab (keys of FabSettings::fromJson; missing keys keep the paper's defaults); its
 * batch size is config.batchSize, and config.maxRowsPerPass applies unless fab sets its own.
 *
 * @throws std::invalid_argument for an unknown name, missing inputs, or a method that is not
 *         available in this build
 */
std::unique_ptr<TrainingMethod> createTrainingMethod(const std::string& name, const TrainingMethodInputs& inputs);

/**
 * The optimiser of a training run: SkipClipAdam over the flow's parameters with the warm-up-cosine
 * schedule of config.schedule, planned for config.epochs epochs of updatesPerEpoch updates each
 * (after that the learning rate stays at its end value).
 */
std::unique_ptr<SkipClipAdam> createOptimizer(AugmentedCouplingFlow& flow, const TrainingConfig& config, int64_t updatesPerEpoch);

} // namespace bg

#endif
