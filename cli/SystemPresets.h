#ifndef OPENMM_BG_CLI_SYSTEM_PRESETS_H_
#define OPENMM_BG_CLI_SYSTEM_PRESETS_H_

#include "ReferenceProblems.h"
#include "bg/CnfConfig.h"
#include "bg/FlowConfig.h"
#include "bg/TrainingConfig.h"

#include <string>

namespace BoltzmannPlugin {
namespace cli {

/** The model and training defaults of one reference problem and training method. */
struct SystemPreset {
    std::string system;          ///< the problem's name
    std::string model = "eacf";  ///< the model kind the method trains: "eacf" (ml, fab) or "ecnf" (fm)
    bg::FlowConfig flow;         ///< the E-ACF's configuration (model "eacf")
    bg::CnfConfig cnf;           ///< the E-CNF's configuration (model "ecnf")
    bg::TrainingConfig training;
    /** The configuration of the preset's model as JSON text (FlowConfig or CnfConfig::toJson()). */
    std::string modelJson() const {
        return model == "ecnf" ? cnf.toJson() : flow.toJson();
    }
};

/**
 * The preset of a problem and training method, from its problem file (data/problems/<name>.json,
 * the paper's configurations of model-spec 14 and ecnf-spec 1.2, 5): the library defaults of
 * FlowConfig (CnfConfig for a method whose flow preset names "model": "ecnf") and TrainingConfig,
 * merged with the problem's shared settings and then the method's; numParticles and dimension from
 * the problem, the FAB and flow-matching settings written out in full.
 *
 * @throws std::invalid_argument for a method without a preset (listing those with one), a preset
 *         whose model is not the one the method trains, or settings that FlowConfig / CnfConfig /
 *         TrainingConfig refuse
 */
SystemPreset systemPreset(const ReferenceProblem& problem, const std::string& method);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
