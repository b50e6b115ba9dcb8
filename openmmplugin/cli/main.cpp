// openmm-bg: command-line front end of the plugin (subcommands `train`, `evaluate`, `sample`).

#include "TrainCommand.h"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    return BoltzmannPlugin::runCommandLine(args, std::cout, std::cerr);
}
