// openmm-bg: the command line of openmm-bg (subcommands `train`, `evaluate`, `sample`, `problems`).

#include "CommandLine.h"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    return BoltzmannPlugin::cli::runCommandLine(args, std::cout, std::cerr);
}
