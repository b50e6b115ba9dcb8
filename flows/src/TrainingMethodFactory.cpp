#include "bg/TrainingMethodFactory.h"

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
    if (name == "fab")
        throw std::invalid_argument("createTrainingMethod: the 'fab' training method is not implemented yet");
    throw std::invalid_argument("createTrainingMethod: unknown training method '" + name + "' (ml | fab)");
}

} // namespace bg
