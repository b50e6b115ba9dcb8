#ifndef OPENMM_BG_CLI_SYSTEM_PRESETS_H_
#define OPENMM_BG_CLI_SYSTEM_PRESETS_H_

#include "ReferenceProblems.h"
#include "bg/FlowConfig.h"
#include "bg/TrainingConfig.h"

#include <string>

namespace BoltzmannPlugin {
namespace cli {

/** The flow and training defaults of one reference problem and training method. */
struct SystemPreset {
    std::string system;          ///< the problem's name
    bg::FlowConfig flow;
    bg::TrainingConfig training;
};

/**
 * The preset of a problem and training method, from its problem file (data/problems/<name>.json,
 * the paper's configurations of model-spec 14): the library defaults of FlowConfig and
 * TrainingConfig, merged with the problem's shared settings and then the method's; numParticles
 * and dimension from the problem, the FAB settings written out in full.
 *
 * @throws std::invalid_argument for a method without a preset (listing those with one) or
 *         settings that FlowConfig / TrainingConfig refuse
 */
SystemPreset systemPreset(const ReferenceProblem& problem, const std::string& method);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
