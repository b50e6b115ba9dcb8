#include "bg/TrainingMethod.h"

#include "bg/ModelAdapters.h"

namespace bg {

StepStats TrainingMethod::step(AugmentedCouplingFlow& flow, SkipClipAdam& optimizer, torch::Generator& generator) {
    CouplingFlowModel model(flow);
    return step(static_cast<GenerativeModel&>(model), optimizer, generator);
}

} // namespace bg
