#include "SystemPresets.h"

#include "bg/FabMethod.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace BoltzmannPlugin {
namespace cli {

using nlohmann::json;

SystemPreset systemPreset(const ReferenceProblem& problem, const std::string& method) {
    const auto flowPreset = problem.flowPresets.find(method);
    if (flowPreset == problem.flowPresets.end()) {
        std::string methods;
        for (const std::string& name : problem.methodNames())
            methods += (methods.empty() ? "" : " | ") + name;
        throw std::invalid_argument("unknown training method '" + method + "' for " + problem.name + " (" + methods + ")");
    }
    json flow = json::parse(bg::FlowConfig().toJson()), training = json::parse(bg::TrainingConfig().toJson());
    const json trainingPreset = json::parse(problem.trainingPresets.at(method));
    flow.merge_patch(json::parse(flowPreset->second));
    training.merge_patch(trainingPreset);
    flow["numParticles"] = problem.numParticles;
    flow["dimension"] = problem.dimension;
    training["method"] = method;
    SystemPreset p;
    p.system = problem.name;
    p.flow = bg::FlowConfig::fromJson(flow.dump());
    p.training = bg::TrainingConfig::fromJson(training.dump());
    if (trainingPreset.contains("fab"))   // every FAB setting, as the method reads them
        p.training.fab = bg::FabSettings::fromJson(p.training.fab).toJson();
    p.flow.validate();
    p.training.validate();
    return p;
}

} // namespace cli
} // namespace BoltzmannPlugin
