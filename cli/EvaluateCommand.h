#ifndef OPENMM_BG_CLI_EVALUATE_COMMAND_H_
#define OPENMM_BG_CLI_EVALUATE_COMMAND_H_

#include <cstdint>
#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace BoltzmannPlugin {
namespace cli {

/** Arguments of `openmm-bg evaluate` and `openmm-bg sample`. */
struct EvaluateArguments {
    std::string model;             ///< a model.bgflow file written by `openmm-bg train` (E-ACF or E-CNF)
    std::string system;            ///< "dw4", "lj13" or "aldp"
    std::string out;               ///< directory for samples.npy and sample-logweights.npy ("" = none)
    std::string dataDir;           ///< data directory ("" = the default lookup)
    std::string device;            ///< "" or "cpu" or "cuda[:i]"
    int64_t samples = 10000;       ///< flow samples drawn
    int draws = 20;                ///< augmented draws per test configuration for the E-ACF's marginal NLL (the E-CNF's is exact)
    int weightDraws = 1;           ///< augmented draws behind each flow sample's importance weight (E-ACF; bg::multiDrawLogProposal)
    uint64_t seed = 0;             ///< random seed of the draws
    int threads = 1, workers = 1;  ///< torch threads; OpenMM Contexts for the target
    double temperature = 0.0;      ///< K; 0 = the system's default
    bool testMetrics = true;       ///< false for `sample`: flow samples and reverse ESS only
    std::string solver;            ///< E-CNF only: "" (the model's own), "dopri5" or "rk4"
    int rk4Steps = 0;              ///< E-CNF only: fixed RK4 steps (0 = the model's own); implies --solver rk4
    std::string divergence;        ///< E-CNF only: "" (the model's own), "exact" or "hutchinson"
};

/**
 * Add the subcommand `evaluate` (arguments.testMetrics true) or `sample` (false) with its options,
 * which fill `arguments` when parsed, to the command line `app`.
 *
 * @return the subcommand (owned by `app`)
 */
CLI::App* addEvaluateCommand(CLI::App& app, EvaluateArguments& arguments);

/**
 * Evaluate a trained model of either kind (the file says which: bg::loadModelFromFile) on a
 * reference problem: draw flow samples and their importance weights
 * (reverse ESS), and with testMetrics the test-set NLL and forward ESS (plus the Ramachandran
 * figures for alanine dipeptide); print the figures and, with `out`, write the samples.
 *
 * @return 0 on success
 * @throws UsageError for bad arguments or files, other exceptions if the evaluation fails
 */
int evaluate(const EvaluateArguments& arguments, std::ostream& out, std::ostream& err);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
