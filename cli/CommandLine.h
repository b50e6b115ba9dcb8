#ifndef OPENMM_BG_CLI_COMMAND_LINE_H_
#define OPENMM_BG_CLI_COMMAND_LINE_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace BoltzmannPlugin {
namespace cli {

/**
 * Run the openmm-bg command line in-process: `args` are the arguments after the program name
 * (e.g. {"train", "--system", "dw4", "--method", "ml", "--out", "run1"}, "evaluate" / "sample"
 * with --model and --system, or "problems"). Parses the arguments, hands them to the subcommand and
 * maps its errors to exit codes. Output goes to `out`, messages about errors to `err`. "reweight"
 * and everything after it go to the Python module openmmbg.cli_reweight (runPythonCommand), whose
 * output goes to this process's standard output and error.
 *
 * @return the exit code: 0 on success, 2 for bad arguments or configuration (unknown system,
 *         method or key, invalid values, missing data), 1 if the subcommand itself fails; for
 *         "reweight" the Python command's exit code
 */
int runCommandLine(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
