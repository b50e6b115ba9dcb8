#include "PythonCommand.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

namespace BoltzmannPlugin {
namespace cli {

namespace {

/** Python run with `-c`: import the module (exit 2 with a clear message if that fails), then its main(). */
std::string bootstrap(const std::string& name, const std::string& module) {
    return "import sys\n"
           "try:\n"
           "    from openmmbg import " + module + " as command\n"
           "except ImportError as error:\n"
           "    sys.stderr.write('openmm-bg " + name + ": cannot import openmmbg." + module + " with %s (%s); build the Python "
           "package (target _openmmbgswig), put it on PYTHONPATH or set OPENMMBG_PYTHON to an interpreter that has it\\n'"
           " % (sys.executable, error))\n"
           "    sys.exit(2)\n"
           "sys.exit(command.main(sys.argv[1:]))\n";
}

/** PYTHONPATH with this build's package directory first (when it exists). */
void prependPythonPath() {
#ifdef OPENMMBG_PYTHON_DIR
    if (!std::filesystem::is_directory(OPENMMBG_PYTHON_DIR))
        return;
    const char* current = std::getenv("PYTHONPATH");
    std::string path = OPENMMBG_PYTHON_DIR;
    if (current != nullptr && *current != '\0')
        path += std::string(":") + current;
    setenv("PYTHONPATH", path.c_str(), 1);
#endif
}

} // namespace

std::string pythonInterpreter() {
    if (const char* python = std::getenv("OPENMMBG_PYTHON"))
        return python;
#ifdef OPENMMBG_PYTHON_EXECUTABLE
    return OPENMMBG_PYTHON_EXECUTABLE;
#else
    return "python3";
#endif
}

int runPythonCommand(const std::string& name, const std::string& module, const std::vector<std::string>& args, std::ostream& err) {
    const std::string python = pythonInterpreter();
    if (access(python.c_str(), X_OK) != 0) {
        err << "openmm-bg " << name << ": no Python interpreter at " << python
            << " (the one this build was configured with); set OPENMMBG_PYTHON to one that has openmmbg" << std::endl;
        return 2;
    }
    const std::string code = bootstrap(name, module);
    std::vector<std::string> argvStrings = {python, "-c", code};
    argvStrings.insert(argvStrings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : argvStrings)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    std::cout.flush();
    std::cerr.flush();
    const pid_t child = fork();
    if (child < 0) {
        err << "openmm-bg " << name << ": cannot start " << python << ": " << std::strerror(errno) << std::endl;
        return 1;
    }
    if (child == 0) {
        prependPythonPath();
        execv(python.c_str(), argv.data());
        _exit(127);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR) {
            err << "openmm-bg " << name << ": lost the Python process: " << std::strerror(errno) << std::endl;
            return 1;
        }
    if (WIFEXITED(status))
        return WEXITSTATUS(status) == 127 ? 1 : WEXITSTATUS(status);
    err << "openmm-bg " << name << ": the Python process was killed by signal " << WTERMSIG(status) << std::endl;
    return 1;
}

} // namespace cli
} // namespace BoltzmannPlugin
