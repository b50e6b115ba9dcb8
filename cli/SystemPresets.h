#ifndef OPENMM_BG_CLI_SYSTEM_PRESETS_H_
#define OPENMM_BG_CLI_SYSTEM_PRESETS_H_

#include "bg/FlowConfig.h"
#include "bg/TrainingConfig.h"

#include <string>
#include <vector>

namespace BoltzmannPlugin {
namespace cli {

/** The flow and training defaults of one reference problem and training method (model-spec 14). */
struct SystemPreset {
    std::string system;          ///< "dw4", "lj13" or "aldp"
    bg::FlowConfig flow;
    bg::TrainingConfig training;
};

/** The names accepted by systemPreset(). */
std::vector<std::string> presetSystemNames();

/**
 * The paper's configuration for a system and method:
 *  - dw4 ml: spherical, 12 blocks, EGNN 3 x 64, F 128, eta 0.1, B 32, 100 epochs;
 *  - lj13 ml: as dw4 for 13 particles in 3D, B 32, 400 epochs, aux-loss weight 10;
 *  - aldp ml: 22 atoms, 20 blocks, EGNN width 128, a 32-wide embedding of the 22 atom indices,
 *    eta 0.5, aux weight 1, float64, schedule 0 / 1e-4 / 0 with a 1-epoch warm-up, ignore factor 20,
 *    B 20, 50 epochs, one augmented draw for the marginal likelihood;
 *  - dw4/lj13 fab: B 128 / 1024, 20,000 / 14,000 iterations (aux weight 0 / 1).
 * The per-block scaling layer of the ALDP reference configuration is not part of FlowConfig.
 *
 * @throws std::invalid_argument for an unknown system or method
 */
SystemPreset systemPreset(const std::string& system, const std::string& method);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
