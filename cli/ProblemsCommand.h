#ifndef OPENMM_BG_CLI_PROBLEMS_COMMAND_H_
#define OPENMM_BG_CLI_PROBLEMS_COMMAND_H_

#include <iosfwd>

namespace CLI {
class App;
}

namespace BoltzmannPlugin {
namespace cli {

/** Arguments of `openmm-bg problems`. */
struct ProblemsArguments {
    bool json = false;   ///< print the registry as a JSON array of ReferenceProblem::toJson()
};

/** Add the subcommand `problems` (list the reference problems) to `app`. @return the subcommand (owned by `app`) */
CLI::App* addProblemsCommand(CLI::App& app, ProblemsArguments& arguments);

/**
 * Print the reference problems of the registry (data/problems/*.json): one line per problem
 * (name, N, D, temperature in K, reference sets, training methods, description), or with `json`
 * a JSON array of the problems (the form the Python registry's test compares with).
 *
 * @return 0
 * @throws UsageError if the problem files cannot be found or read
 */
int listProblems(const ProblemsArguments& arguments, std::ostream& out);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
