#include "TrainCommand.h"
#include "CommandSupport.h"
#include "EvaluateCommand.h"

#include "ReferenceData.h"
#include "ReferenceSystems.h"
#include "SystemPresets.h"
#include "SystemTarget.h"
#include "bg/AugmentedCouplingFlow.h"
#include "bg/JsonText.h"
#include "bg/Ramachandran.h"
#include "bg/TrainingConfig.h"
#include "bg/TrainingDriver.h"
#include "bg/TrainingMethodFactory.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace BoltzmannPlugin {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace cli;

namespace {

struct TrainArguments {
    std::string system, method, out, dataDir, flowConfigFile, trainingConfigFile;
    std::vector<std::string> sets;
    int64_t seed = -1, evalEvery = -1, stopAfter = 0;
    int threads = 0, workers = 1;
    std::string device;
    double temperature = 0.0, maxMinutes = 0.0;
    bool resume = false, quiet = false;
};

json readJsonFile(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw UsageError("cannot read " + path);
    std::stringstream text;
    text << in.rdbuf();
    try {
        // Malformed JSON, not an object, or duplicate keys (which json::parse would take silently).
        bg::checkJsonObjectText(text.str(), path);
        return json::parse(text.str());
    }
    catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    catch (const json::exception& e) {
        throw UsageError(path + ": invalid JSON: " + e.what());
    }
}

/** Set a dotted key ("schedule.peakLr") inside a JSON object. */
void setDotted(json& j, const std::string& key, const json& value) {
    json* node = &j;
    std::stringstream ss(key);
    std::string part;
    std::vector<std::string> parts;
    while (std::getline(ss, part, '.'))
        parts.push_back(part);
    if (parts.empty() || key.back() == '.')
        throw UsageError("--set: malformed key '" + key + "'");
    for (size_t i = 0; i + 1 < parts.size(); i++) {
        if (!node->is_object())
            throw UsageError("--set: '" + key + "': '" + parts[i] + "' is not a group of settings");
        node = &(*node)[parts[i]];
        if (node->is_null())
            *node = json::object();
    }
    if (!node->is_object())
        throw UsageError("--set: '" + key + "' does not name a setting");
    (*node)[parts.back()] = value;
}

void applySet(json& training, json& flow, const std::string& assignment) {
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0)
        throw UsageError("--set expects key=value, got '" + assignment + "'");
    const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
    json value;
    try {
        value = json::parse(text);
    }
    catch (const json::exception&) {
        value = text;   // a bare word such as float64
    }
    if (key.rfind("flow.", 0) == 0)
        setDotted(flow, key.substr(5), value);
    else if (key.rfind("training.", 0) == 0)
        setDotted(training, key.substr(9), value);
    else
        setDotted(training, key, value);
}


int train(const TrainArguments& a, std::ostream& out, std::ostream& err) {
    // 1. Configuration: preset, then files, then --set, then the dedicated flags.
    SystemPreset preset;
    try {
        preset = systemPreset(a.system, a.method);
    }
    catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    json flowJson = json::parse(preset.flow.toJson()), trainingJson = json::parse(preset.training.toJson());
    if (!a.flowConfigFile.empty())
        flowJson.merge_patch(readJsonFile(a.flowConfigFile));
    if (!a.trainingConfigFile.empty())
        trainingJson.merge_patch(readJsonFile(a.trainingConfigFile));
    for (const std::string& s : a.sets)
        applySet(trainingJson, flowJson, s);
    if (a.seed >= 0)
        trainingJson["seed"] = a.seed;
    if (a.threads > 0)
        trainingJson["numThreads"] = a.threads;
    if (!a.device.empty())
        trainingJson["device"] = a.device;
    if (a.evalEvery >= 0)
        trainingJson["evalEvery"] = a.evalEvery;
    bg::FlowConfig flowConfig;
    bg::TrainingConfig config;
    try {
        flowConfig = bg::FlowConfig::fromJson(flowJson.dump());
        config = bg::TrainingConfig::fromJson(trainingJson.dump());
    }
    catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    if (config.method != a.method)
        throw UsageError("the training configuration's method '" + config.method + "' differs from --method " + a.method);
    if (flowConfig.numParticles != preset.flow.numParticles || flowConfig.dimension != preset.flow.dimension)
        throw UsageError("flow.numParticles and flow.dimension must match the system (" + std::to_string(preset.flow.numParticles) + " particles in " +
                         std::to_string(preset.flow.dimension) + "D)");

    // 2. Output directory.
    const fs::path outDir(a.out);
    const bool haveCheckpoint = fs::exists(outDir / "checkpoint.pt");
    if (a.resume && !haveCheckpoint)
        throw UsageError("--resume: no checkpoint.pt in " + a.out);
    if (!a.resume && haveCheckpoint)
        throw UsageError(a.out + " already holds a run (checkpoint.pt); pass --resume to continue it or choose another --out");

    // 3. Data and target.
    const double temperature = targetTemperature(a.system, a.temperature);
    std::string dataDirectory;
    try {
        dataDirectory = findDataDirectory(a.dataDir);
    }
    catch (const std::runtime_error& e) {
        throw UsageError(e.what());
    }
    const std::string set = referenceSetName(a.system, temperature);
    torch::Tensor trainData, testData;
    try {
        if (config.method == "ml")
            trainData = loadReferenceSplit(dataDirectory, set, "train", flowConfig.numParticles, flowConfig.dimension, true);
        testData = loadReferenceSplit(dataDirectory, set, "test", flowConfig.numParticles, flowConfig.dimension, false);
    }
    catch (const std::runtime_error& e) {
        throw UsageError(e.what());
    }
    if (!testData.defined())
        err << "openmm-bg train: no test data for " << a.system << " at " << temperature << " K; test metrics are skipped\n";
    std::unique_ptr<SystemTarget> target = makeTarget(a.system, dataDirectory, temperature, a.workers);

    // 4. Flow, method and driver.
    torch::set_num_threads(config.numThreads);
    torch::manual_seed(config.seed);   // parameter initialisation
    bg::AugmentedCouplingFlow flow(flowConfig);
    flow->setInferenceBatchSize(config.evalBatchSize);
    bg::TrainingMethodInputs inputs{flow, target.get(), trainData, config};
    std::unique_ptr<bg::TrainingMethod> method;
    try {
        method = bg::createTrainingMethod(config.method, inputs);
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
    bg::TrainingDriver driver(flow, config, std::move(method), testData, target.get(), options);
    if (a.system == "aldp" && testData.defined())
        driver.setEvaluationHook(aldpHook(testData));
    writeText(driver.outputPath("flow-config.json"), flowConfig.toJson());
    writeText(driver.outputPath("training-config.json"), config.toJson());
    if (a.resume)
        driver.resumeFromCheckpoint();
    if (!a.quiet)
        out << "openmm-bg train: " << a.system << " " << config.method << " at " << temperature << " K, " << flow->numParameters()
            << " parameters, " << driver.getTotalSteps() << " steps (" << config.epochs << " epochs), output " << a.out
            << (a.resume ? ", resumed at step " + std::to_string(driver.getStep()) : std::string()) << std::endl;
    const auto start = std::chrono::steady_clock::now();
    bg::RunResult result = driver.run();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!result.finished) {
        out << "stopped (" << result.stopReason << ") at step " << result.step << "/" << result.totalSteps << "; continue with --resume"
            << std::endl;
        return 0;
    }
    out << "\nfinal evaluation at step " << result.step << " (wall time " << std::fixed << std::setprecision(1) << wall << " s)\n";
    out << std::defaultfloat;
    for (const auto& [name, value] : result.finalMetrics)
        out << "  " << std::left << std::setw(24) << name << std::right << std::setprecision(6) << value << "\n";
    out << "output: " << a.out << " (model.bgflow, checkpoint.pt, train-log.csv, samples.npy, sample-logweights.npy)" << std::endl;
    return 0;
}

} // namespace

int runCommandLine(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    CLI::App app{"openmm-bg: train, evaluate and sample Boltzmann generators for OpenMM Systems", "openmm-bg"};
    app.require_subcommand(1);
    TrainArguments t;
    CLI::App* trainCommand = app.add_subcommand("train", "train a flow on a reference system (maximum likelihood or FAB)");
    trainCommand->add_option("--system", t.system, "dw4 | lj13 | aldp")->required();
    trainCommand->add_option("--method", t.method, "ml | fab")->required();
    trainCommand->add_option("--out", t.out, "output directory")->required();
    trainCommand->add_option("--data-dir", t.dataDir, "data directory with reference/<set>-<split>.npy (default: OPENMMBG_DATA_DIR or the repository's data/)");
    trainCommand->add_option("--seed", t.seed, "random seed (default from the configuration)");
    trainCommand->add_option("--threads", t.threads, "torch threads");
    trainCommand->add_option("--device", t.device, "where the flow runs: cpu (default) or cuda[:index]; OpenMM energies stay on the CPU");
    trainCommand->add_option("--workers", t.workers, "OpenMM Contexts evaluating the target (CPU platform)");
    trainCommand->add_option("--temperature", t.temperature, "temperature in K (default: 800 for aldp, 300 for dw4/lj13)");
    trainCommand->add_option("--flow-config", t.flowConfigFile, "JSON file with flow settings (merged over the preset)");
    trainCommand->add_option("--training-config", t.trainingConfigFile, "JSON file with training settings (merged over the preset)");
    trainCommand->add_option("--set", t.sets, "override a setting: key=value, e.g. batchSize=64, schedule.peakLr=1e-3, flow.numBlocks=4");
    trainCommand->add_flag("--resume", t.resume, "continue the run in --out from its checkpoint");
    trainCommand->add_option("--eval-every", t.evalEvery, "steps between evaluations (0 = only at the end)");
    trainCommand->add_option("--max-minutes", t.maxMinutes, "stop with a checkpoint after this many minutes of training");
    trainCommand->add_option("--stop-after", t.stopAfter, "stop with a checkpoint after this many steps");
    trainCommand->add_flag("--quiet", t.quiet, "no progress lines");
    EvaluateArguments evaluateArgs, sampleArgs;
    sampleArgs.testMetrics = false;
    CLI::App* evaluateCommand = app.add_subcommand("evaluate", "evaluate a trained flow: reverse ESS from flow samples, test NLL and forward ESS");
    CLI::App* sampleCommand = app.add_subcommand("sample", "draw flow samples with importance weights and write them as .npy");
    for (auto [command, arguments] : {std::make_pair(evaluateCommand, &evaluateArgs), std::make_pair(sampleCommand, &sampleArgs)}) {
        command->add_option("--model", arguments->model, "model.bgflow written by openmm-bg train")->required();
        command->add_option("--system", arguments->system, "dw4 | lj13 | aldp")->required();
        command->add_option("--out", arguments->out, "directory for samples.npy and sample-logweights.npy")->required(!arguments->testMetrics);
        command->add_option("--samples", arguments->samples, "flow samples (default 10000)");
        command->add_option("--temperature", arguments->temperature, "temperature in K (default: 800 for aldp, 300 for dw4/lj13)");
        command->add_option("--data-dir", arguments->dataDir, "data directory (default: OPENMMBG_DATA_DIR or the repository's data/)");
        command->add_option("--seed", arguments->seed, "random seed of the draws (default 0)");
        command->add_option("--threads", arguments->threads, "torch threads (default 1)");
        command->add_option("--workers", arguments->workers, "OpenMM Contexts evaluating the target (default 1)");
        command->add_option("--device", arguments->device, "where the flow runs: cpu (default) or cuda[:index]");
    }
    evaluateCommand->add_option("--draws", evaluateArgs.draws, "augmented draws per test configuration for the marginal NLL (default 20)");
    std::vector<std::string> argvStrings = {"openmm-bg"};
    argvStrings.insert(argvStrings.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const std::string& s : argvStrings)
        argv.push_back(s.c_str());
    try {
        app.parse(int(argv.size()), argv.data());
    }
    catch (const CLI::ParseError& e) {
        const int code = app.exit(e, out, err);
        return code == 0 ? 0 : 2;
    }
    const std::string name = trainCommand->parsed() ? "train" : evaluateCommand->parsed() ? "evaluate" : "sample";
    try {
        if (trainCommand->parsed())
            return train(t, out, err);
        return evaluate(evaluateCommand->parsed() ? evaluateArgs : sampleArgs, out, err);
    }
    catch (const UsageError& error) {
        err << "openmm-bg " << name << ": " << error.what() << std::endl;
        return 2;
    }
    catch (const std::exception& error) {
        err << "openmm-bg " << name << ": failed: " << error.what() << std::endl;
        return 1;
    }
    return 2;
}

} // namespace BoltzmannPlugin
