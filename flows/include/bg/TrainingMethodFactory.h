#ifndef BG_TRAINING_METHOD_FACTORY_H_
#define BG_TRAINING_METHOD_FACTORY_H_

#include "bg/AugmentedCouplingFlow.h"
#include "bg/GenerativeModel.h"
#include "bg/Target.h"
#include "bg/TrainingConfig.h"
#include "bg/TrainingMethod.h"

#include <torch/types.h>

#include <memory>
#include <string>

namespace bg {

/** What a training method may need; each method uses the parts it needs. */
struct TrainingMethodInputs {
    AugmentedCouplingFlow flow{nullptr};   ///< the flow being trained (E-ACF), when `model` is null
    Target* target = nullptr;      ///< the target density (FAB needs it; may be null for ML and FM)
    torch::Tensor trainingData;    ///< training configurations [n, N, D] in nm (ML and FM need them; may be undefined for FAB)
    TrainingConfig config;         ///< the run's configuration (FAB reads its settings from config.fab, FM from config.fm)
    std::shared_ptr<GenerativeModel> model;   ///< the model being trained, of either kind (null: `flow`)
};

/**
 * Create the training method called `name`: "ml" or "fab" for the E-ACF, "fm" for the E-CNF. FAB
 * reads its FabSettings from the JSON object config.fab (keys of FabSettings::fromJson; missing
 * keys keep the paper's defaults); its batch size is config.batchSize, and config.maxRowsPerPass
 * applies unless fab sets its own. Flow matching reads its FlowMatchingSettings from config.fm,
 * with batch size config.batchSize.
 *
 * @throws std::invalid_argument for an unknown name, missing inputs, a model of a kind the method
 *         does not train ("FAB (method 'fab') needs the E-ACF (model 'eacf'), but the model is the
 *         E-CNF ('ecnf')"), or a method that is not available in this build
 */
std::unique_ptr<TrainingMethod> createTrainingMethod(const std::string& name, const TrainingMethodInputs& inputs);

/** The model kind a training method trains: "eacf" for "ml" and "fab", "ecnf" for "fm", "" for an unknown name. */
std::string trainingMethodModelKind(const std::string& name);

/**
 * What messages call a training method: "maximum likelihood" ("ml"), "FAB" ("fab"), "flow
 * matching" ("fm"); "training method '<name>'" for an unknown name.
 */
std::string trainingMethodDescription(const std::string& name);

/**
 * The optimiser of a training run: SkipClipAdam over the model's parameters with the warm-up-cosine
 * schedule of config.schedule, planned for config.epochs epochs of updatesPerEpoch updates each
 * (after that the learning rate stays at its end value).
 */
std::unique_ptr<SkipClipAdam> createOptimizer(GenerativeModel& model, const TrainingConfig& config, int64_t updatesPerEpoch);
/** createOptimizer() over a flow's parameters. */
std::unique_ptr<SkipClipAdam> createOptimizer(AugmentedCouplingFlow& flow, const TrainingConfig& config, int64_t updatesPerEpoch);

} // namespace bg

#endif
