#include "SystemPresets.h"

#include "bg/FabMethod.h"
#include "bg/FlowMatchingMethod.h"
#include "bg/GenerativeModel.h"
#include "bg/TrainingMethodFactory.h"

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
    SystemPreset p;
    p.system = problem.name;
    p.model = bg::modelKindOfConfig(flowPreset->second);
    if (p.model != bg::trainingMethodModelKind(method))
        throw std::invalid_argument(problem.name + ": the preset of method '" + method + "' is for " + bg::modelKindName(p.model) +
                                    ", which '" + method + "' does not train");
    json flow = json::parse(p.modelJson()), training = json::parse(bg::TrainingConfig().toJson());
    const json trainingPreset = json::parse(problem.trainingPresets.at(method));
    flow.merge_patch(json::parse(flowPreset->second));
    training.merge_patch(trainingPreset);
    flow["numParticles"] = problem.numParticles;
    flow["dimension"] = problem.dimension;
    training["method"] = method;
    if (p.model == "ecnf") {
        p.cnf = bg::CnfConfig::fromJson(flow.dump());
    }
    else {
        flow.erase("model");   // "eacf" may be named; FlowConfig has no such key
        p.flow = bg::FlowConfig::fromJson(flow.dump());
    }
    p.training = bg::TrainingConfig::fromJson(training.dump());
    if (trainingPreset.contains("fab")) {   // every FAB setting, as the method reads them
        nlohmann::ordered_json fab = nlohmann::ordered_json::parse(bg::FabSettings::fromJson(p.training.fab).toJson());
        fab.erase("batchSize");   // FAB's batch is the run's batchSize (TrainingConfig::validate)
        p.training.fab = fab.dump(2);
    }
    if (trainingPreset.contains("fm"))
        p.training.fm = bg::FlowMatchingSettings::fromJson(p.training.fm).toJson();
    p.training.validate();
    return p;
}

} // namespace cli
} // namespace BoltzmannPlugin
