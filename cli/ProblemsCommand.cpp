#include "ProblemsCommand.h"

#include "CommandSupport.h"
#include "ReferenceProblems.h"
#include "openmm/OpenMMException.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

namespace BoltzmannPlugin {
namespace cli {

CLI::App* addProblemsCommand(CLI::App& app, ProblemsArguments& arguments) {
    CLI::App* command = app.add_subcommand("problems", "list the reference problems (data/problems/*.json) for --system");
    command->add_flag("--json", arguments.json, "print the problems as a JSON array");
    return command;
}

int listProblems(const ProblemsArguments& arguments, std::ostream& out) {
    std::vector<ReferenceProblem> problems;
    try {
        for (const std::string& name : referenceProblemNames())
            problems.push_back(referenceProblem(name));
    }
    catch (const OpenMM::OpenMMException& e) {
        throw UsageError(e.what());
    }
    if (arguments.json) {
        nlohmann::json all = nlohmann::json::array();
        for (const ReferenceProblem& p : problems)
            all.push_back(nlohmann::json::parse(p.toJson()));
        out << all.dump(2) << std::endl;
        return 0;
    }
    for (const ReferenceProblem& p : problems) {
        std::string sets, methods;
        for (const ReferenceDataSet& s : p.referenceSets)
            sets += (sets.empty() ? "" : ",") + s.set;
        for (const std::string& m : p.methodNames())
            methods += (methods.empty() ? "" : ",") + m;
        out << p.name << ": N " << p.numParticles << ", D " << p.dimension << ", " << p.temperature << " K, reference sets "
            << (sets.empty() ? "-" : sets) << ", methods " << methods << "; " << p.description << "\n";
    }
    out << std::flush;
    return 0;
}

} // namespace cli
} // namespace BoltzmannPlugin
