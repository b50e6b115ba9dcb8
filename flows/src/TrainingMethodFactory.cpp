#include "bg/TrainingMethodFactory.h"

#include "bg/FabMethod.h"
#include "bg/MaximumLikelihoodMethod.h"

#include <torch/torch.h>

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

} // namespace bg
