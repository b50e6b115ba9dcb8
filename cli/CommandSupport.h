#ifndef OPENMM_BG_CLI_COMMAND_SUPPORT_H_
#define OPENMM_BG_CLI_COMMAND_SUPPORT_H_

// What the openmm-bg subcommands share: the error type for bad input, plugin loading, the
// reference problems as targets, small file helpers and the alanine dipeptide evaluation hook.

#include "ReferenceProblems.h"
#include "SystemTarget.h"
#include "bg/TrainingDriver.h"

#include <iosfwd>
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
 * The reference problem `name` from the registry (data/problems/<name>.json).
 *
 * @throws UsageError for an unknown name (listing the known ones) or an unreadable problem file
 */
ReferenceProblem findProblem(const std::string& name);

/**
 * The data directory: `requested` if not empty, else the registry's lookup (findDataDirectory).
 *
 * @throws UsageError if there is none
 */
std::string dataDirectory(const std::string& requested);

/**
 * The target of a reference problem at a temperature (K), evaluated by `workers` OpenMM Contexts
 * on platformName(); files of the System (alanine dipeptide) come from dataDirectory.
 *
 * @throws UsageError if OpenMM refuses it
 */
std::unique_ptr<SystemTarget> makeTarget(const ReferenceProblem& problem, const std::string& dataDirectory, double temperature, int workers);

/** The target temperature in K: `requested` if positive, else the problem's default temperature. */
double targetTemperature(const ReferenceProblem& problem, double requested);

/** Write text (plus a newline) to a file; throws std::runtime_error if it cannot. */
void writeText(const std::string& path, const std::string& text);

/**
 * Print named figures one per line, "  name  value", the values aligned in one column after the
 * longest name (at least 24 characters wide) with 6 significant digits.
 */
void printFigures(std::ostream& out, const bg::NamedValues& values);

/**
 * The extra evaluation figures of a problem (ReferenceProblem::evaluation) against reference
 * configurations [n, N, D] (nm) as one hook: "ramachandran" gives, for alanine dipeptide flow
 * samples, l_fraction (the fraction in the L form, bg::isLAlanine), phi_kld, psi_kld and
 * ramachandran_kld (model-spec 13: 200 bins, 64 x 64) against the reference configurations, and
 * the same three on the L-form samples alone (phi_kld_l, psi_kld_l, ramachandran_kld_l; NaN if
 * there is none), as the E-ACF paper evaluates its ALDP flows (appendix C.3.2). With `mdFrames`
 * [m, N, D] (MD configurations independent of the reference, e.g. the training split) it adds
 * their floors: the same six divergences for min(samples, m) and min(L-form samples, m) MD frames
 * evenly spaced along the chain (phi_kld_floor, ..., ramachandran_kld_l_floor; NaN without
 * `mdFrames`). At the reference set's size (1200 at 800 K) the 64 x 64 divergence of MD against MD
 * is about 3, not 0, so a flow's figure reads against its floor. An empty hook if the problem has
 * no extras or `reference` is undefined.
 *
 * @throws UsageError for an extra this command line does not know
 */
bg::EvaluationHook evaluationHook(const ReferenceProblem& problem, const torch::Tensor& reference,
                                  const torch::Tensor& mdFrames = torch::Tensor());

} // namespace cli
} // namespace BoltzmannPlugin

#endif
