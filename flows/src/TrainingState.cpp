#include "bg/TrainingState.h"

#include "bg/ModelAdapters.h"

#include <torch/torch.h>

#include <stdexcept>

namespace bg {

void saveTrainingState(torch::serialize::OutputArchive& archive, GenerativeModel& model, const SkipClipAdam* optimizer,
                       const TrainingMethod* method, const at::Generator& generator) {
    torch::serialize::OutputArchive flowArchive;
    model.module().save(flowArchive);
    archive.write("flowConfig", c10::IValue(model.configJson()));
    archive.write("flow", flowArchive);
    archive.write("generator", generator.get_state());
    if (optimizer != nullptr) {
        torch::serialize::OutputArchive optimizerArchive;
        optimizer->save(optimizerArchive);
        archive.write("optimizer", optimizerArchive);
    }
    if (method != nullptr) {
        torch::serialize::OutputArchive methodArchive;
        method->save(methodArchive);
        archive.write("methodName", c10::IValue(method->name()));
        archive.write("method", methodArchive);
    }
}

TrainingStateContents readTrainingStateContents(torch::serialize::InputArchive& archive) {
    TrainingStateContents contents;
    c10::IValue flowJson, name;
    if (!archive.try_read("flowConfig", flowJson) || !flowJson.isString())
        throw std::runtime_error("the training state holds no flow configuration");
    try {
        contents.flowConfig = normalisedModelConfig(flowJson.toStringRef());
    }
    catch (const std::invalid_argument& e) {
        throw std::runtime_error(std::string("the training state's flow configuration is unreadable: ") + e.what());
    }
    torch::serialize::InputArchive optimizerArchive;
    contents.hasOptimizer = archive.try_read("optimizer", optimizerArchive);
    if (archive.try_read("methodName", name) && name.isString())
        contents.methodName = name.toStringRef();
    return contents;
}

void loadTrainingState(torch::serialize::InputArchive& archive, GenerativeModel& model, SkipClipAdam* optimizer, TrainingMethod* method,
                       at::Generator& generator) {
    const TrainingStateContents contents = readTrainingStateContents(archive);
    if (contents.flowConfig != model.configJson())
        throw std::runtime_error("the training state's flow configuration differs from this flow's");
    if (optimizer != nullptr && !contents.hasOptimizer)
        throw std::runtime_error("the training state holds no optimiser state");
    if (method != nullptr) {
        if (contents.methodName.empty())
            throw std::runtime_error("the training state holds no training method state");
        if (contents.methodName != method->name())
            throw std::runtime_error("the training state was written by method '" + contents.methodName + "', not '" + method->name() + "'");
    }
    torch::serialize::InputArchive flowArchive;
    archive.read("flow", flowArchive);
    torch::Tensor state;
    archive.read("generator", state);
    model.module().load(flowArchive);
    generator.set_state(state);
    if (optimizer != nullptr) {
        torch::serialize::InputArchive optimizerArchive;
        archive.read("optimizer", optimizerArchive);
        optimizer->load(optimizerArchive);
    }
    if (method != nullptr) {
        torch::serialize::InputArchive methodArchive;
        archive.read("method", methodArchive);
        method->load(methodArchive);
    }
}

void saveTrainingState(torch::serialize::OutputArchive& archive, AugmentedCouplingFlow& flow, const SkipClipAdam* optimizer,
                       const TrainingMethod* method, const at::Generator& generator) {
    CouplingFlowModel model(flow);
    saveTrainingState(archive, model, optimizer, method, generator);
}

void loadTrainingState(torch::serialize::InputArchive& archive, AugmentedCouplingFlow& flow, SkipClipAdam* optimizer, TrainingMethod* method,
                       at::Generator& generator) {
    CouplingFlowModel model(flow);
    loadTrainingState(archive, model, optimizer, method, generator);
}

} // namespace bg
