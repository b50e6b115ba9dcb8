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

namespace detail {

const char* modelKindOf(const AugmentedCouplingFlow&) {
    return "eacf";
}

const char* modelKindOf(const EquivariantCnf&) {
    return "ecnf";
}

ModelSample sampleModel(AugmentedCouplingFlow& flow, int64_t n, torch::Generator& generator) {
    FlowSample s = flow->sample(n, generator);
    ModelSample out;
    out.x = s.x;
    out.a = s.a;
    out.logQ = s.logProb;
    out.logAugmented = flow->augmentedTarget().logProb(s.a, s.x);
    return out;
}

ModelSample sampleModel(EquivariantCnf& cnf, int64_t n, torch::Generator& generator) {
    CnfSample s = cnf->sample(n, generator, true);
    ModelSample out;
    out.x = s.x.detach();
    out.logQ = s.logProb.detach();
    out.evaluations = s.evaluations;
    return out;
}

ModelDensity proposalLogProbOf(AugmentedCouplingFlow& flow, const torch::Tensor& x, torch::Generator& generator) {
    const ConditionalGaussian& pi = flow->augmentedTarget();
    torch::Tensor a = pi.sample(x, flow->getConfig().numAugmented, generator);
    ModelDensity out;
    out.logQ = flow->logProb(x, a);
    out.logAugmented = pi.logProb(a, x);
    return out;
}

ModelDensity proposalLogProbOf(EquivariantCnf& cnf, const torch::Tensor& x, torch::Generator& generator) {
    ModelDensity out;
    out.logQ = cnf->logProb(x, generator).detach();
    return out;
}

torch::Tensor marginalLogProbOf(AugmentedCouplingFlow& flow, const torch::Tensor& x, int numDraws, torch::Generator& generator) {
    return flow->marginalLogProb(x, numDraws, generator);
}

torch::Tensor marginalLogProbOf(EquivariantCnf& cnf, const torch::Tensor& x, int, torch::Generator& generator) {
    return cnf->logProb(x, generator).detach();
}

std::string saveModel(AugmentedCouplingFlow& flow) {
    return saveFlow(flow);
}

std::string saveModel(EquivariantCnf& cnf) {
    return saveCnf(cnf);
}

} // namespace detail

AugmentedCouplingFlow& couplingFlowOf(GenerativeModel& model, const std::string& user) {
    auto* adapter = dynamic_cast<CouplingFlowModel*>(&model);
    if (adapter == nullptr)
        wrongKind(model, user, "eacf");
    return adapter->get();
}

EquivariantCnf& cnfOf(GenerativeModel& model, const std::string& user) {
    auto* adapter = dynamic_cast<CnfModel*>(&model);
    if (adapter == nullptr)
        wrongKind(model, user, "ecnf");
    return adapter->get();
}

} // namespace bg
