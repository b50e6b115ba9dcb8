#ifndef OPENMM_BG_CLI_COMMAND_SUPPORT_H_
#define OPENMM_BG_CLI_COMMAND_SUPPORT_H_

// What the openmm-bg subcommands share: the error type for bad input, plugin loading, the
// reference problems as targets, small file helpers and the alanine dipeptide evaluation hook.

#include "SystemTarget.h"
#include "bg/TrainingDriver.h"

#include <memory>
#include <stdexcept>
#include <string>

namespace BoltzmannPlugin {
namespace cli {

/** Bad arguments or configuration: exit code 2. */
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/** Load OpenMM's plugins once (the CPU platform), from OPENMM_PLUGIN_DIR or OpenMM's default directory. */
void loadOpenMMPlugins();

/** "CPU" when OpenMM's CPU platform is available, else "Reference". */
std::string platformName();

/**
 * The target of a reference problem ("dw4", "lj13" or "aldp") at a temperature (K), evaluated by
 * `workers` OpenMM Contexts; the alanine dipeptide files come from dataDirectory. Throws
 * UsageError if OpenMM refuses it.
 */
std::unique_ptr<SystemTarget> makeTarget(const std::string& system, const std::string& dataDirectory, double temperature, int workers);

/** The target temperature in K: `requested` if positive, else 800 K for aldp and 300 K for dw4/lj13. */
double targetTemperature(const std::string& system, double requested);

/** Write text (plus a newline) to a file; throws std::runtime_error if it cannot. */
void writeText(const std::string& path, const std::string& text);

/** Ramachandran figures (phi/psi/Ramachandran KLDs, L fraction) of alanine dipeptide flow samples against reference configurations. */
bg::EvaluationHook aldpHook(const torch::Tensor& reference);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
