#include "bg/TrainingMethodFactory.h"

#include "bg/FabMethod.h"
#include "bg/FlowMatchingMethod.h"
#include "bg/MaximumLikelihoodMethod.h"
#include "bg/ModelAdapters.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace bg {

namespace {

/** The model being trained: inputs.model, or inputs.flow as an E-ACF. */
std::shared_ptr<GenerativeModel> modelOf(const TrainingMethodInputs& inputs) {
    if (inputs.model)
        return inputs.model;
    if (!inputs.flow)
        throw std::invalid_argument("createTrainingMethod: no model to train");
    return std::make_shared<CouplingFlowModel>(inputs.flow);
}

/** The E-ACF being trained by `user` (throws for another kind). */
AugmentedCouplingFlow flowOf(const TrainingMethodInputs& inputs, const std::string& user) {
    std::shared_ptr<GenerativeModel> model = modelOf(inputs);
    return couplingFlowOf(*model, user);
}

void requireData(const TrainingMethodInputs& inputs, const std::string& what) {
    if (!inputs.trainingData.defined() || inputs.trainingData.numel() == 0)
        throw std::invalid_argument("createTrainingMethod: " + what + " needs training data");
}

} // namespace

namespace {

/** The training methods: name, the model kind they train, what messages call them. */
struct TrainingMethodEntry {
    const char* name;
    const char* modelKind;
    const char* description;
};
constexpr TrainingMethodEntry trainingMethods[] = {
        {"ml", "eacf", "maximum likelihood"},
        {"fab", "eacf", "FAB"},
        {"fm", "ecnf", "flow matching"},
};

const TrainingMethodEntry* findTrainingMethod(const std::string& name) {
    for (const TrainingMethodEntry& entry : trainingMethods)
        if (name == entry.name)
            return &entry;
    return nullptr;
}

} // namespace

std::string trainingMethodModelKind(const std::string& name) {
    const TrainingMethodEntry* entry = findTrainingMethod(name);
    return entry ? entry->modelKind : "";
}

std::string trainingMethodDescription(const std::string& name) {
    const TrainingMethodEntry* entry = findTrainingMethod(name);
    return entry ? entry->description : "training method '" + name + "'";
}

std::unique_ptr<TrainingMethod> createTrainingMethod(const std::string& name, const TrainingMethodInputs& inputs) {
    if (name == "ml") {
        AugmentedCouplingFlow flow = flowOf(inputs, trainingMethodDescription(name) + " (method 'ml')");
        requireData(inputs, "maximum-likelihood training");
        return std::make_unique<MaximumLikelihoodMethod>(inputs.trainingData, inputs.config, flow->getConfig().auxLossWeight);
    }
    if (name == "fab") {
        AugmentedCouplingFlow flow = flowOf(inputs, trainingMethodDescription(name) + " (method 'fab')");
        if (inputs.target == nullptr)
            throw std::invalid_argument("createTrainingMethod: FAB training needs a target");
        FabSettings settings = FabSettings::fromJson(inputs.config.fab);
        // The run's batch size and pass size are the training configuration's.
        settings.batchSize = inputs.config.batchSize;
        if (settings.maxRowsPerPass == 0)
            settings.maxRowsPerPass = inputs.config.maxRowsPerPass;
        settings.validate();
        return std::make_unique<FabMethod>(flow, *inputs.target, settings);
    }
    if (name == "fm") {
        cnfOf(*modelOf(inputs), trainingMethodDescription(name) + " (method 'fm')");
        requireData(inputs, "flow matching");
        return std::make_unique<FlowMatchingMethod>(inputs.trainingData, inputs.config.batchSize, FlowMatchingSettings::fromJson(inputs.config.fm));
    }
    throw std::invalid_argument("createTrainingMethod: unknown training method '" + name + "' (ml | fab | fm)");
}

std::unique_ptr<SkipClipAdam> createOptimizer(GenerativeModel& model, const TrainingConfig& config, int64_t updatesPerEpoch) {
    WarmupCosineSchedule schedule;
    schedule.initialLr = config.schedule.initialLr;
    schedule.peakLr = config.schedule.peakLr;
    schedule.endLr = config.schedule.endLr;
    schedule.totalSteps = std::max<int64_t>(1, config.epochs * updatesPerEpoch);
    schedule.warmupSteps = std::min<int64_t>(schedule.totalSteps, int64_t(std::llround(config.schedule.warmupEpochs * double(updatesPerEpoch))));
    return std::make_unique<SkipClipAdam>(model.parameters(), schedule, config.clipFactor, config.ignoreFactor, config.gradNormWindow);
}

std::unique_ptr<SkipClipAdam> createOptimizer(AugmentedCouplingFlow& flow, const TrainingConfig& config, int64_t updatesPerEpoch) {
    CouplingFlowModel model(flow);
    return createOptimizer(model, config, updatesPerEpoch);
}

} // namespace bg
