#include "EvaluateCommand.h"
#include "CommandSupport.h"

#include "ReferenceData.h"
#include "bg/Evaluation.h"
#include "bg/EquivariantCnf.h"
#include "bg/GenerativeModel.h"
#include "bg/ModelAdapters.h"
#include "bg/NpyIO.h"

#include <ATen/CPUGeneratorImpl.h>
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <iomanip>
#include <iostream>

namespace BoltzmannPlugin {
namespace cli {

CLI::App* addEvaluateCommand(CLI::App& app, EvaluateArguments& arguments) {
    CLI::App* command = arguments.testMetrics
                            ? app.add_subcommand("evaluate", "evaluate a trained model (E-ACF or E-CNF): reverse ESS from flow samples, test NLL "
                                                             "and forward ESS")
                            : app.add_subcommand("sample", "draw flow samples with importance weights and write them as .npy");
    command->add_option("--model", arguments.model, "model.bgflow written by openmm-bg train (either model kind: the file says which)")->required();
    command->add_option("--system", arguments.system, "reference problem, e.g. dw4 | lj13 | aldp (all: openmm-bg problems)")->required();
    command->add_option("--out", arguments.out, "directory for samples.npy and sample-logweights.npy")->required(!arguments.testMetrics);
    command->add_option("--samples", arguments.samples, "flow samples (default 10000)");
    command->add_option("--temperature", arguments.temperature, "temperature in K (default: the problem's, e.g. 800 for aldp, 300 for dw4/lj13)");
    command->add_option("--data-dir", arguments.dataDir, "data directory (default: OPENMMBG_DATA_DIR or the repository's data/)");
    command->add_option("--seed", arguments.seed, "random seed of the draws (default 0)");
    command->add_option("--threads", arguments.threads, "torch threads (default 1)");
    command->add_option("--workers", arguments.workers, "OpenMM Contexts evaluating the target (default 1)");
    command->add_option("--device", arguments.device, "where the flow runs: cpu (default) or cuda[:index]");
    command->add_option("--solver", arguments.solver,
                        "E-CNF only: ODE solver of the draws and densities, dopri5 (adaptive, the model's tolerances) or rk4 "
                        "(fixed steps, 4 field evaluations each; default: the model's own)")
            ->check(CLI::IsMember({"dopri5", "rk4"}));
    command->add_option("--rk4-steps", arguments.rk4Steps, "E-CNF only: fixed RK4 steps over t in [0, 1] (implies --solver rk4)");
    command->add_option("--divergence", arguments.divergence,
                        "E-CNF only: divergence of the densities, exact (autograd trace, (N-1) D backward passes per field "
                        "evaluation) or hutchinson (one probe, biased weights); default: the model's own")
            ->check(CLI::IsMember({"exact", "hutchinson"}));
    command->add_option("--weight-draws", arguments.weightDraws,
                        "E-ACF only: augmented draws behind each sample's importance weight (default 1, the joint weight; "
                        "more bring the weights towards the marginal's and stay exact, at one flow pass per draw)")
            ->check(CLI::PositiveNumber);
    if (arguments.testMetrics)
        command->add_option("--draws", arguments.draws,
                            "augmented draws per test configuration for the E-ACF's marginal NLL (default 20; the E-CNF's is exact)");
    return command;
}

namespace {

/** The trained model (either kind) of the file `path`, checked against the problem's particle count and dimension. */
std::shared_ptr<bg::GenerativeModel> loadModel(const std::string& path, const ReferenceProblem& problem) {
    std::shared_ptr<bg::GenerativeModel> model;
    try {
        model = bg::loadModelFromFile(path);
    }
    catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    if (model->numParticles() != problem.numParticles || model->dimension() != problem.dimension)
        throw UsageError(path + " models " + std::to_string(model->numParticles()) + " particles in " + std::to_string(model->dimension()) +
                         "D, but " + problem.name + " has " + std::to_string(problem.numParticles) + " in " +
                         std::to_string(problem.dimension) + "D");
    return model;
}

/** Write the flow samples (float64, nm) and their log-weights as .npy files into `directory`. */
void writeSamples(const std::string& directory, const bg::EvaluationSamples& samples, std::ostream& out) {
    std::filesystem::create_directories(directory);
    bg::writeNpy((std::filesystem::path(directory) / "samples.npy").string(), samples.x.to(torch::kCPU, torch::kFloat64));
    bg::writeNpy((std::filesystem::path(directory) / "sample-logweights.npy").string(), samples.logWeights);
    out << "output: " << directory << " (samples.npy [n, N, D] in nm, sample-logweights.npy)\n";
}

/**
 * Apply --solver / --rk4-steps to an E-CNF (how its ODE is solved for draws and densities); refused
 * for the E-ACF, which has no ODE.
 */
void applySolverOptions(const EvaluateArguments& a, bg::GenerativeModel& model) {
    if (a.solver.empty() && a.rk4Steps == 0 && a.divergence.empty())
        return;
    if (a.rk4Steps < 0)
        throw UsageError("--rk4-steps must be positive");
    if (a.solver == "dopri5" && a.rk4Steps > 0)
        throw UsageError("--rk4-steps goes with --solver rk4, not dopri5");
    if (model.kind() != "ecnf")
        throw UsageError("--solver, --rk4-steps and --divergence apply to the E-CNF (an ODE); " + a.model + " is the E-ACF");
    bg::EquivariantCnf& cnf = bg::cnfOf(model, "openmm-bg evaluate");
    if (!a.divergence.empty())
        cnf->setDivergenceMethod(a.divergence == "exact" ? bg::DivergenceMethod::Exact : bg::DivergenceMethod::Hutchinson);
    if (a.solver.empty() && a.rk4Steps == 0)
        return;
    bg::OdeOptions& options = cnf->solverOptions();
    options.method = a.solver == "dopri5" ? bg::OdeMethod::Dopri5 : bg::OdeMethod::Rk4;
    if (a.rk4Steps > 0)
        options.rk4Steps = a.rk4Steps;
}

} // namespace

int evaluate(const EvaluateArguments& a, std::ostream& out, std::ostream& err) {
    const std::string command = a.testMetrics ? "evaluate" : "sample";
    if (a.samples < (a.testMetrics ? 0 : 1))
        throw UsageError("--samples must be " + std::string(a.testMetrics ? "non-negative" : "positive"));
    if (a.draws < 1)
        throw UsageError("--draws must be positive");
    if (!a.testMetrics && a.out.empty())
        throw UsageError("sample needs --out, the directory for samples.npy and sample-logweights.npy");
    const ReferenceProblem problem = findProblem(a.system);
    std::shared_ptr<bg::GenerativeModel> model = loadModel(a.model, problem);
    applySolverOptions(a, *model);
    const double temperature = targetTemperature(problem, a.temperature);
    const std::string data = dataDirectory(a.dataDir);
    torch::Tensor testData, floorFrames;
    try {
        if (a.testMetrics) {
            const std::string set = problem.referenceSet(temperature);
            testData = loadReferenceSplit(data, set, "test", problem.numParticles, problem.dimension, false);
            floorFrames = loadReferenceSplit(data, set, "train", problem.numParticles, problem.dimension, false);
        }
    }
    catch (const std::runtime_error& e) {
        throw UsageError(e.what());
    }
    if (a.testMetrics && !testData.defined())
        err << "openmm-bg evaluate: no test data for " << a.system << " at " << temperature << " K; test metrics are skipped\n";
    std::unique_ptr<SystemTarget> target = makeTarget(problem, data, temperature, a.workers);
    const bg::EvaluationHook hook = evaluationHook(problem, testData, floorFrames);
    torch::set_num_threads(std::max(1, a.threads));
    if (!a.device.empty() && a.device != "cpu") {
        if (!torch::cuda::is_available())
            throw UsageError("--device " + a.device + ": LibTorch sees no CUDA device");
        model->to(torch::Device(a.device));
    }
    model->train(false);
    torch::Generator generator = at::make_generator<at::CPUGeneratorImpl>(a.seed);
    bg::EvaluationOptions options;
    options.flowSamples = a.samples;
    options.marginalDraws = a.draws;
    options.weightDraws = a.weightDraws;
    bg::EvaluationSamples samples;
    bg::NamedValues values = bg::evaluateFlow(*model, testData, target.get(), options, generator, &samples);
    if (hook && samples.x.defined()) {
        bg::NamedValues extra = hook(*model, samples);
        values.insert(values.end(), extra.begin(), extra.end());
    }
    out << "openmm-bg " << command << ": " << a.model << " (" << bg::modelKindName(model->kind()) << ") on " << a.system << " at " << temperature << " K, " << a.samples
        << " flow samples\n";
    printFigures(out, values);
    if (!a.out.empty() && samples.x.defined())
        writeSamples(a.out, samples, out);
    out << std::flush;
    return 0;
}

} // namespace cli
} // namespace BoltzmannPlugin
