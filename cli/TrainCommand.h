#ifndef OPENMM_BG_CLI_TRAIN_COMMAND_H_
#define OPENMM_BG_CLI_TRAIN_COMMAND_H_

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace BoltzmannPlugin {
namespace cli {

/** Arguments of `openmm-bg train`. */
struct TrainArguments {
    std::string system, method, out;                      ///< reference problem, "ml" | "fab" | "fm", output directory
    std::string model = "eacf";                           ///< model kind: "eacf" (ml, fab) or "ecnf" (fm)
    std::string dataDir;                                  ///< data directory ("" = the default lookup)
    std::string flowConfigFile, trainingConfigFile;       ///< JSON files merged over the preset ("" = none)
    std::string initModel;                                ///< saved model to start from ("" = a new model from the configuration)
    std::vector<std::string> sets;                        ///< --set key=value assignments, in order
    int64_t seed = -1, evalEvery = -1, stopAfter = 0;     ///< -1: from the configuration; stopAfter 0 = run to the end
    int threads = 0, workers = 1;                         ///< torch threads (0: from the configuration); OpenMM Contexts
    std::string device;                                   ///< "" (from the configuration), "cpu" or "cuda[:i]"
    double temperature = 0.0, maxMinutes = 0.0;           ///< K (0: the problem's default); 0 = no time limit
    bool resume = false, quiet = false;
    bool distributed = false;                             ///< join a data-parallel run from RANK, WORLD_SIZE, ... (docs/distributed.md)
    double distributedTimeout = 300.0;                    ///< s a collective waits for the other ranks before failing
};

/**
 * Add the subcommand `train` with its options, which fill `arguments` when parsed, to `app`.
 *
 * @return the subcommand (owned by `app`)
 */
CLI::App* addTrainCommand(CLI::App& app, TrainArguments& arguments);

/**
 * Train a model on a reference problem: the E-ACF (--model eacf) by maximum likelihood or FAB, or
 * the E-CNF (--model ecnf) by flow matching. The preset of the problem and method, overridden by the
 * configuration files, then --set, then the dedicated flags; with --init-model the model (its
 * configuration and weights) is that file's instead, e.g. a warm start of FAB from maximum likelihood
 * on MD samples. Write flow-config.json (the model's
 * configuration), training-config.json and the driver's outputs (checkpoint.pt, model.bgflow,
 * train-log.csv, samples.npy, sample-logweights.npy) to `out`, and print progress and the final
 * figures.
 *
 * @return 0 on success (also when stopped early with a checkpoint)
 * @throws UsageError for bad arguments (a method that does not train the --model kind, --distributed
 *         with flow matching), configurations, output directories, missing data or an --init-model
 *         that cannot be read or does not fit the system and --model; other exceptions
 *         if training fails
 */
int train(const TrainArguments& arguments, std::ostream& out, std::ostream& err);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
