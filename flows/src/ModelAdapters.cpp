#include "bg/ModelAdapters.h"

#include "bg/CnfFiles.h"

#include <torch/torch.h>

#include <stdexcept>

namespace bg {

namespace {

[[noreturn]] void wrongKind(const GenerativeModel& model, const std::string& user, const std::string& needed) {
    throw std::invalid_argument(user + " needs " + modelKindName(needed) + " (model '" + needed + "'), but the model is " +
                                modelKindName(model.kind()) + " ('" + model.kind() + "')");
}

} // namespace

ModelSample CouplingFlowModel::sample(int64_t n, torch::Generator& generator) {
    FlowSample s = model->sample(n, generator);
    ModelSample out;
    out.x = s.x;
    out.a = s.a;
    out.logQ = s.logProb;
    out.logAugmented = model->augmentedTarget().logProb(s.a, s.x);
    return out;
}

ModelDensity CouplingFlowModel::proposalLogProb(const torch::Tensor& x, torch::Generator& generator) {
    const ConditionalGaussian& pi = model->augmentedTarget();
    torch::Tensor a = pi.sample(x, model->getConfig().numAugmented, generator);
    ModelDensity out;
    out.logQ = model->logProb(x, a);
    out.logAugmented = pi.logProb(a, x);
    return out;
}

torch::Tensor CouplingFlowModel::marginalLogProb(const torch::Tensor& x, int numDraws, torch::Generator& generator) {
    return model->marginalLogProb(x, numDraws, generator);
}

std::string CouplingFlowModel::save() {
    return saveFlow(model);
}

ModelSample CnfModel::sample(int64_t n, torch::Generator& generator) {
    CnfSample s = model->sample(n, generator, true);
    ModelSample out;
    out.x = s.x.detach();
    out.logQ = s.logProb.detach();
    out.evaluations = s.evaluations;
    return out;
}

ModelDensity CnfModel::proposalLogProb(const torch::Tensor& x, torch::Generator& generator) {
    ModelDensity out;
    out.logQ = model->logProb(x, generator).detach();
    return out;
}

torch::Tensor CnfModel::marginalLogProb(const torch::Tensor& x, int numDraws, torch::Generator& generator) {
    (void) numDraws;
    return model->logProb(x, generator).detach();
}

std::string CnfModel::save() {
    return saveCnf(model);
}

AugmentedCouplingFlow& couplingFlowOf(GenerativeModel& model, const std::string& user) {
    auto* adapter = dynamic_cast<CouplingFlowModel*>(&model);
    if (adapter == nullptr)
        wrongKind(model, user, "eacf");
    return adapter->flow();
}

EquivariantCnf& cnfOf(GenerativeModel& model, const std::string& user) {
    auto* adapter = dynamic_cast<CnfModel*>(&model);
    if (adapter == nullptr)
        wrongKind(model, user, "ecnf");
    return adapter->cnf();
}

} // namespace bg
