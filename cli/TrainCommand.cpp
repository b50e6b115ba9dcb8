#include "TrainCommand.h"

#include "CommandSupport.h"
#include "ConfigOverrides.h"
#include "ReferenceData.h"
#include "SystemPresets.h"
#include "SystemTarget.h"
#include "bg/GenerativeModel.h"
#include "bg/ModelAdapters.h"
#include "bg/DistributedContext.h"
#include "bg/TrainingConfig.h"
#include "bg/TrainingDriver.h"
#include "bg/TrainingMethodFactory.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace BoltzmannPlugin {
namespace cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/** The model and training configuration of a run. */
struct RunConfiguration {
    std::string model;            ///< "eacf" or "ecnf"
    std::string modelJson;        ///< the model's configuration, normalised (FlowConfig or CnfConfig JSON)
    int numParticles = 0, dimension = 0;
    bg::TrainingConfig training;
};

/** What a training method is called in messages, e.g. "FAB (--method fab)". */
std::string methodDescription(const std::string& method) {
    return bg::trainingMethodDescription(method) + " (--method " + method + ")";
}

/** Refuse an unknown --model, a method that trains another model kind, and --distributed for the E-CNF. */
void checkModelAndMethod(const TrainArguments& a) {
    if (a.model != "eacf" && a.model != "ecnf")
        throw UsageError("--model must be eacf (the augmented coupling flow) or ecnf (the continuous normalizing flow), got '" + a.model + "'");
    const std::string kind = bg::trainingMethodModelKind(a.method);
    if (!kind.empty() && kind != a.model)
        throw UsageError(methodDescription(a.method) + " needs " + bg::modelKindName(kind) + " (--model " + kind + "), not " +
                         bg::modelKindName(a.model) + "; " + bg::modelKindName(a.model) + " trains with --method " +
                         (a.model == "ecnf" ? "fm" : "ml or fab"));
    if (a.distributed && a.model == "ecnf")
        throw UsageError("--distributed: " + methodDescription(a.method) + " of the E-CNF runs in one process only (data-parallel training "
                         "is not available for it)");
}

/** The preset of the system and method, then the configuration files, then --set, then the dedicated flags. */
RunConfiguration configure(const TrainArguments& a, const ReferenceProblem& problem) {
    checkModelAndMethod(a);
    SystemPreset preset;
    try {
        preset = systemPreset(problem, a.method);
    }
    catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    json flowJson = json::parse(preset.modelJson()), trainingJson = json::parse(preset.training.toJson());
    if (!a.flowConfigFile.empty())
        flowJson.merge_patch(readJsonFile(a.flowConfigFile));
    if (!a.trainingConfigFile.empty())
        trainingJson.merge_patch(readJsonFile(a.trainingConfigFile));
    for (const std::string& s : a.sets) {
        if (!a.initModel.empty() && s.rfind("flow.", 0) == 0)
            throw UsageError("--init-model: the model's settings are the file's; --set " + s + " cannot change them");
        applySet(trainingJson, flowJson, s);
    }
    if (!a.initModel.empty() && !a.flowConfigFile.empty())
        throw UsageError("--init-model: the model's settings are the file's; drop --flow-config");
    if (a.seed >= 0)
        trainingJson["seed"] = a.seed;
    if (a.threads > 0)
        trainingJson["numThreads"] = a.threads;
    if (!a.device.empty())
        trainingJson["device"] = a.device;
    if (a.evalEvery >= 0)
        trainingJson["evalEvery"] = a.evalEvery;
    RunConfiguration c;
    try {
        c.model = bg::modelKindOfConfig(flowJson.dump());
        if (c.model != a.model)
            throw UsageError("the flow configuration is for " + bg::modelKindName(c.model) + ", but --model is " + a.model);
        c.modelJson = bg::normalisedModelConfig(flowJson.dump());
        c.training = bg::TrainingConfig::fromJson(trainingJson.dump());
    }
    catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    if (c.training.method != a.method)
        throw UsageError("the training configuration's method '" + c.training.method + "' differs from --method " + a.method);
    const json model = json::parse(c.modelJson);
    c.numParticles = model.at("numParticles").get<int>();
    c.dimension = model.at("dimension").get<int>();
    if (c.numParticles != problem.numParticles || c.dimension != problem.dimension)
        throw UsageError("flow.numParticles and flow.dimension must match the system (" + std::to_string(problem.numParticles) +
                         " particles in " + std::to_string(problem.dimension) + "D)");
    return c;
}

/** Refuse to overwrite a run without --resume, and --resume without a run. */
void checkOutputDirectory(const TrainArguments& a) {
    const bool haveCheckpoint = fs::exists(fs::path(a.out) / "checkpoint.pt");
    if (a.resume && !haveCheckpoint)
        throw UsageError("--resume: no checkpoint.pt in " + a.out);
    if (!a.resume && haveCheckpoint)
        throw UsageError(a.out + " already holds a run (checkpoint.pt); pass --resume to continue it or choose another --out");
}

/** A temperature for messages, e.g. "300 K". */
std::string kelvinText(double t) {
    std::ostringstream text;
    text << t << " K";
    return text.str();
}

/**
 * The data directory and the reference splits of a run: train (required for ML and FM), test
 * (optional) and the MD frames of the evaluation floors (the train split, for FAB too; optional).
 */
struct RunData {
    std::string directory;
    torch::Tensor train, test, floorFrames;
};

RunData loadRunData(const TrainArguments& a, const ReferenceProblem& problem, const RunConfiguration& c, double temperature) {
    RunData data;
    data.directory = dataDirectory(a.dataDir);
    try {
        const std::string set = problem.referenceSet(temperature);
        const bool onSamples = c.training.method != "fab";   // ml and fm train on reference samples
        if (set.empty() && onSamples) {
            std::string available;
            for (const ReferenceDataSet& s : problem.referenceSets)
                available += (available.empty() ? "" : ", ") + kelvinText(s.temperature);
            throw UsageError("--method " + c.training.method + " trains on reference samples, and " + a.system + " has none at " +
                             kelvinText(temperature) +
                             (available.empty() ? std::string() : " (it has them at " + available + ": pass --temperature accordingly)") +
                             "; --method fab (the E-ACF) trains from the energy alone at any temperature");
        }
        if (onSamples)
            data.train = loadReferenceSplit(data.directory, set, "train", c.numParticles, c.dimension, true);
        data.test = loadReferenceSplit(data.directory, set, "test", c.numParticles, c.dimension, false);
        data.floorFrames = onSamples ? data.train : loadReferenceSplit(data.directory, set, "train", c.numParticles, c.dimension, false);
    }
    catch (const std::runtime_error& e) {
        throw UsageError(e.what());
    }
    return data;
}

/**
 * The model a run trains: a new one from the configuration (parameters from the run's seed), or the
 * --init-model file's, whose configuration then replaces c.modelJson.
 */
std::shared_ptr<bg::GenerativeModel> createRunModel(const TrainArguments& a, const ReferenceProblem& problem, RunConfiguration& c) {
    torch::manual_seed(c.training.seed);   // parameter initialisation
    if (a.initModel.empty())
        return bg::createModel(c.modelJson);
    std::shared_ptr<bg::GenerativeModel> model;
    try {
        model = bg::loadModelFromFile(a.initModel);
    }
    catch (const std::exception& e) {
        throw UsageError("--init-model: " + std::string(e.what()));
    }
    if (model->kind() != a.model)
        throw UsageError("--init-model: " + a.initModel + " holds " + bg::modelKindName(model->kind()) + ", but --model is " + a.model);
    if (model->numParticles() != problem.numParticles || model->dimension() != problem.dimension)
        throw UsageError("--init-model: " + a.initModel + " models " + std::to_string(model->numParticles()) + " particles in " +
                         std::to_string(model->dimension()) + "D, but " + a.system + " has " + std::to_string(problem.numParticles) +
                         " in " + std::to_string(problem.dimension) + "D");
    c.modelJson = model->configJson();
    return model;
}

/** Print the outcome of a run: where it stopped, or the final figures and the output files. */
void printResult(const bg::RunResult& result, double wallSeconds, const std::string& outDir, std::ostream& out) {
    if (!result.finished) {
        out << "stopped (" << result.stopReason << ") at step " << result.step << "/" << result.totalSteps << "; continue with --resume"
            << std::endl;
        return;
    }
    out << "\nfinal evaluation at step " << result.step << " (wall time " << std::fixed << std::setprecision(1) << wallSeconds << " s)\n";
    printFigures(out, result.finalMetrics);
    out << "output: " << outDir << " (model.bgflow, checkpoint.pt, train-log.csv, samples.npy, sample-logweights.npy)" << std::endl;
}

} // namespace

CLI::App* addTrainCommand(CLI::App& app, TrainArguments& t) {
    CLI::App* command =
        app.add_subcommand("train", "train a model on a reference system (the E-ACF by maximum likelihood or FAB, the E-CNF by flow matching)");
    command->add_option("--system", t.system, "reference problem, e.g. dw4 | lj13 | aldp (all: openmm-bg problems)")->required();
    command->add_option("--method", t.method, "ml | fab (the E-ACF) | fm (flow matching, the E-CNF)")->required();
    command->add_option("--model", t.model, "eacf (augmented coupling flow, default) | ecnf (continuous normalizing flow)");
    command->add_option("--out", t.out, "output directory")->required();
    command->add_option("--data-dir", t.dataDir, "data directory with reference/<set>-<split>.npy (default: OPENMMBG_DATA_DIR or the repository's data/)");
    command->add_option("--seed", t.seed, "random seed (default from the configuration)");
    command->add_option("--threads", t.threads, "torch threads");
    command->add_option("--device", t.device, "where the flow runs: cpu (default) or cuda[:index]; OpenMM energies stay on the CPU");
    command->add_option("--workers", t.workers, "OpenMM Contexts evaluating the target (CPU platform)");
    command->add_option("--temperature", t.temperature, "temperature in K (default: the problem's, e.g. 800 for aldp, 300 for dw4/lj13)");
    command->add_option("--flow-config", t.flowConfigFile, "JSON file with flow settings (merged over the preset)");
    command->add_option("--training-config", t.trainingConfigFile, "JSON file with training settings (merged over the preset)");
    command->add_option("--init-model", t.initModel,
                        "start from this saved model (model.bgflow of an earlier run, e.g. maximum likelihood on MD samples before "
                        "FAB: a warm start); its configuration replaces the preset's flow settings");
    command->add_option("--set", t.sets, "override a setting: key=value, e.g. batchSize=64, schedule.peakLr=1e-3, flow.numBlocks=4");
    command->add_flag("--resume", t.resume, "continue the run in --out from its checkpoint");
    command->add_option("--eval-every", t.evalEvery, "steps between evaluations (0 = only at the end)");
    command->add_option("--max-minutes", t.maxMinutes, "stop with a checkpoint after this many minutes of training");
    command->add_option("--stop-after", t.stopAfter, "stop with a checkpoint after this many steps");
    command->add_flag("--quiet", t.quiet, "no progress lines");
    command->add_flag("--distributed", t.distributed,
                      "join a data-parallel run from RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (as torchrun sets them); rank 0 writes --out");
    command->add_option("--distributed-timeout", t.distributedTimeout, "seconds a rank waits for the others before the run fails (default 300)")
        ->check(CLI::PositiveNumber);
    return command;
}

int train(const TrainArguments& a, std::ostream& out, std::ostream& err) {
    const ReferenceProblem problem = findProblem(a.system);
    RunConfiguration c = configure(a, problem);
    std::shared_ptr<bg::DistributedContext> distributed;
    if (a.distributed) {
        try {
            distributed = bg::DistributedContext::fromEnvironment(a.distributedTimeout);
        }
        catch (const std::invalid_argument& e) {
            throw UsageError(std::string("--distributed: ") + e.what());
        }
    }
    const bool mainRank = !distributed || distributed->isMain();   // rank 0 alone reads and writes --out
    if (mainRank)
        checkOutputDirectory(a);
    const double temperature = targetTemperature(problem, a.temperature);
    RunData data = loadRunData(a, problem, c, temperature);
    if (!data.test.defined())
        err << "openmm-bg train: no test data for " << a.system << " at " << temperature << " K; test metrics are skipped\n";
    std::unique_ptr<SystemTarget> target = makeTarget(problem, data.directory, temperature, a.workers);

    torch::set_num_threads(c.training.numThreads);
    std::shared_ptr<bg::GenerativeModel> model = createRunModel(a, problem, c);
    if (auto* eacf = dynamic_cast<bg::CouplingFlowModel*>(model.get()))
        eacf->get()->setInferenceBatchSize(c.training.evalBatchSize);
    bg::TrainingMethodInputs inputs;
    inputs.target = target.get();
    inputs.trainingData = data.train;
    inputs.config = c.training;
    inputs.model = model;
    std::unique_ptr<bg::TrainingMethod> method;
    try {
        method = bg::createTrainingMethod(c.training.method, inputs);
    }
    catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    bg::DriverOptions options;
    options.outputDirectory = a.out;
    options.quiet = a.quiet;
    options.maxMinutes = a.maxMinutes;
    options.stopAfter = a.stopAfter;
    options.progress = &out;
    options.distributed = distributed;
    bg::TrainingDriver driver(model, c.training, std::move(method), data.test, target.get(), options);
    driver.setEvaluationHook(evaluationHook(problem, data.test, data.floorFrames));
    if (mainRank) {
        writeText(driver.outputPath("flow-config.json"), c.modelJson);
        writeText(driver.outputPath("training-config.json"), c.training.toJson());
    }
    if (a.resume)
        driver.resumeFromCheckpoint();
    if (!a.quiet && mainRank)
        out << "openmm-bg train: " << a.system << " " << c.training.method << " of " << bg::modelKindName(c.model) << " at " << temperature
            << " K, " << model->numParameters()
            << " parameters, " << driver.getTotalSteps() << " steps (" << c.training.epochs << " epochs), output " << a.out
            << (a.resume ? ", resumed at step " + std::to_string(driver.getStep()) : std::string()) << std::endl;
    const auto start = std::chrono::steady_clock::now();
    const bg::RunResult result = driver.run();
    if (mainRank)
        printResult(result, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), a.out, out);
    return 0;
}

} // namespace cli
} // namespace BoltzmannPlugin
