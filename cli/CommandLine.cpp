#include "CommandLine.h"

#include "CommandSupport.h"
#include "EvaluateCommand.h"
#include "ProblemsCommand.h"
#include "PythonCommand.h"
#include "TrainCommand.h"

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>

namespace BoltzmannPlugin {
namespace cli {

namespace {

/** Run a parsed subcommand, turning its exceptions into exit codes (2: usage, 1: failure) and messages on err. */
int runSubcommand(const std::string& name, const std::function<int()>& command, std::ostream& err) {
    try {
        return command();
    }
    catch (const UsageError& error) {
        err << "openmm-bg " << name << ": " << error.what() << std::endl;
        return 2;
    }
    catch (const std::exception& error) {
        err << "openmm-bg " << name << ": failed: " << error.what() << std::endl;
        return 1;
    }
}

} // namespace

int runCommandLine(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    // Subcommands of the Python package get every argument after their name, unparsed.
    if (!args.empty() && args[0] == "reweight")
        return runPythonCommand("reweight", "cli_reweight", std::vector<std::string>(args.begin() + 1, args.end()), err);
    CLI::App app{"openmm-bg: train, evaluate and sample Boltzmann generators for OpenMM Systems, reweight trajectories", "openmm-bg"};
    app.require_subcommand(1);
    // Listed for --help only: runs in Python (openmmbg.cli_reweight, see above).
    app.add_subcommand("reweight", "importance weights of a trajectory towards a trained BoltzmannGeneratorForce in a System XML "
                                   "(Python: openmmbg.cli_reweight; see openmm-bg reweight --help)");
    TrainArguments trainArgs;
    EvaluateArguments evaluateArgs, sampleArgs;
    sampleArgs.testMetrics = false;
    CLI::App* trainCommand = addTrainCommand(app, trainArgs);
    CLI::App* evaluateCommand = addEvaluateCommand(app, evaluateArgs);
    CLI::App* sampleCommand = addEvaluateCommand(app, sampleArgs);
    ProblemsArguments problemsArgs;
    CLI::App* problemsCommand = addProblemsCommand(app, problemsArgs);
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
    if (trainCommand->parsed())
        return runSubcommand("train", [&] { return train(trainArgs, out, err); }, err);
    if (evaluateCommand->parsed())
        return runSubcommand("evaluate", [&] { return evaluate(evaluateArgs, out, err); }, err);
    if (sampleCommand->parsed())
        return runSubcommand("sample", [&] { return evaluate(sampleArgs, out, err); }, err);
    if (problemsCommand->parsed())
        return runSubcommand("problems", [&] { return listProblems(problemsArgs, out); }, err);
    return 2;
}

} // namespace cli
} // namespace BoltzmannPlugin
