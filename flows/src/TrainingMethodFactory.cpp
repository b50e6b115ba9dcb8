#include "bg/TrainingMethodFactory.h"

#include "bg/FabMethod.h"
#include "bg/MaximumLikelihoodMethod.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace bg {

std::unique_ptr<TrainingMethod> createTrainingMethod(const std::string& name, const TrainingMethodInputs& inputs) {
    if (name == "ml") {
        if (!inputs.trainingData.defined() || inputs.trainingData.numel() == 0)
            throw std::invalid_argument("createTrainingMethod: maximum-likelihood training needs training data");
        return std::make_unique<MaximumLikelihoodMethod>(inputs.trainingData, inputs.config, inputs.flow->getConfig().auxLossWeight);
    }
    if (name == "fab") {
        if (inputs.target == nullptr)
            throw std::invalid_argument("createTrainingMethod: FAB training needs a target");
        FabSettings settings = FabSettings::fromJson(inputs.config.fab);
        // The run's batch size and pass size are the training configuration's.
        settings.batchSize = inputs.config.batchSize;
        if (settings.maxRowsPerPass == 0)
            settings.maxRowsPerPass = inputs.config.maxRowsPerPass;
        settings.validate();
        return std::make_unique<FabMethod>(inputs.flow, *inputs.target, settings);
    }
    throw std::invalid_argument("createTrainingMethod: unknown training method '" + name + "' (ml | fab)");
}

std::unique_ptr<SkipClipAdam> createOptimizer(AugmentedCouplingFlow& flow, const TrainingConfig& config, int64_t updatesPerEpoch) {
    WarmupCosineSchedule schedule;
    schedule.initialLr = config.schedule.initialLr;
    schedule.peakLr = config.schedule.peakLr;
    schedule.endLr = config.schedule.endLr;
    schedule.totalSteps = std::max<int64_t>(1, config.epochs * updatesPerEpoch);
    schedule.warmupSteps = std::min<int64_t>(schedule.totalSteps, int64_t(std::llround(config.schedule.warmupEpochs * double(updatesPerEpoch))));
    return std::make_unique<SkipClipAdam>(flow->parameters(), schedule, config.clipFactor, config.ignoreFactor, config.gradNormWindow);
}

} // namespace bg
