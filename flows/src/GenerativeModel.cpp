#include "bg/GenerativeModel.h"

#include "bg/CnfFiles.h"
#include "bg/ModelAdapters.h"

#include "FileBytes.h"
#include "JsonObject.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace bg {

using nlohmann::json;

int64_t GenerativeModel::numParameters() {
    int64_t count = 0;
    for (const torch::Tensor& p : parameters())
        count += p.numel();
    return count;
}

void GenerativeModel::saveToFile(const std::string& path) {
    writeFileBytes(path, save(), "GenerativeModel::saveToFile");
}

torch::Tensor multiDrawLogProposal(GenerativeModel& model, const ModelSample& sample, int draws, torch::Generator& generator) {
    if (draws < 1)
        throw std::invalid_argument("multiDrawLogProposal: draws must be at least 1, got " + std::to_string(draws));
    torch::Tensor own = sample.logProposal().to(torch::kFloat64);
    if (!model.augmented() || draws == 1)
        return own;
    torch::NoGradGuard noGrad;
    std::vector<torch::Tensor> terms{own};
    for (int m = 1; m < draws; m++)   // one pass of n rows per draw: memory as for the samples themselves
        terms.push_back(model.proposalLogProb(sample.x, generator).logProposal().to(torch::kFloat64));
    return torch::logsumexp(torch::stack(terms), 0) - std::log(double(draws));
}

std::shared_ptr<GenerativeModel> loadModel(const std::string& bytes) {
    const std::string kind = savedModelKind(bytes);
    if (kind == "eacf")
        return std::make_shared<CouplingFlowModel>(loadFlow(bytes));
    if (kind == "ecnf")
        return std::make_shared<CnfModel>(loadCnf(bytes));
    throw std::invalid_argument("loadModel: the data is neither a saved E-ACF (saveFlow) nor a saved E-CNF (saveCnf)");
}

std::shared_ptr<GenerativeModel> loadModelFromFile(const std::string& path) {
    return loadModel(readFileBytes(path, "loadModelFromFile"));
}

namespace {

/** The model kind of a parsed configuration object, and the object without "model" for the E-ACF's FlowConfig. */
std::string kindOf(json& j) {
    if (!j.contains("model"))
        return "eacf";
    if (!j.at("model").is_string())
        throw std::invalid_argument("GenerativeModel: \"model\" must be \"eacf\" or \"ecnf\"");
    const std::string kind = j.at("model").get<std::string>();
    if (kind == "eacf")
        j.erase("model");   // FlowConfig knows no "model" key
    else if (kind != "ecnf")
        throw std::invalid_argument("GenerativeModel: unknown model '" + kind + "' (eacf | ecnf)");
    return kind;
}

} // namespace

std::string modelKindOfConfig(const std::string& configJson) {
    json j = parseJsonObject(configJson, "GenerativeModel");
    return kindOf(j);
}

std::string normalisedModelConfig(const std::string& configJson) {
    json j = parseJsonObject(configJson, "GenerativeModel");
    if (kindOf(j) == "ecnf")
        return CnfConfig::fromJson(j.dump()).toJson();
    return FlowConfig::fromJson(j.dump()).toJson();
}

std::shared_ptr<GenerativeModel> createModel(const std::string& configJson) {
    json j = parseJsonObject(configJson, "GenerativeModel");
    if (kindOf(j) == "ecnf")
        return std::make_shared<CnfModel>(EquivariantCnf(CnfConfig::fromJson(j.dump())));
    return std::make_shared<CouplingFlowModel>(AugmentedCouplingFlow(FlowConfig::fromJson(j.dump())));
}

std::string modelKindName(const std::string& kind) {
    if (kind == "eacf")
        return "the E-ACF";
    if (kind == "ecnf")
        return "the E-CNF";
    return "model '" + kind + "'";
}

} // namespace bg
