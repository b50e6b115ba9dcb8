#ifndef OPENMM_BG_CLI_PYTHON_COMMAND_H_
#define OPENMM_BG_CLI_PYTHON_COMMAND_H_

// Subcommands that live in the openmmbg Python package (like git's external commands): `reweight`
// reads trajectories with mdtraj, so openmm-bg hands it to `openmmbg.cli_reweight`.

#include <iosfwd>
#include <string>
#include <vector>

namespace BoltzmannPlugin {
namespace cli {

/**
 * The Python interpreter the subcommands run with: $OPENMMBG_PYTHON if set, else the interpreter
 * this build was configured with (CMake's Python3_EXECUTABLE).
 */
std::string pythonInterpreter();

/**
 * Run the `main(argv)` of the Python module openmmbg.<module> with `args` in a child process that
 * shares this process's standard input, output and error (so its output does not go to the
 * in-process streams of runCommandLine), with this build's Python package directory put first on
 * PYTHONPATH when it exists, and wait for it.
 *
 * @param name  the subcommand, for messages ("reweight")
 * @return the child's exit code; 2 with a message on `err` if the interpreter is missing or
 *         openmmbg cannot be imported by it, 1 if the child cannot be started or is killed
 */
int runPythonCommand(const std::string& name, const std::string& module, const std::vector<std::string>& args, std::ostream& err);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
