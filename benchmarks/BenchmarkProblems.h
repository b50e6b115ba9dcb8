#ifndef OPENMMBG_BENCHMARKS_BENCHMARK_PROBLEMS_H_
#define OPENMMBG_BENCHMARKS_BENCHMARK_PROBLEMS_H_

// Looking up a reference problem named on a benchmark's command line.

#include "ReferenceProblems.h"
#include "openmm/OpenMMException.h"

#include <cstdio>
#include <string>

/**
 * Set `problem` to the reference problem `name` (BoltzmannPlugin::referenceProblem); for an unknown
 * name print "<program>: <the error>" to stderr and return false (the caller exits with code 2).
 */
inline bool findReferenceProblem(const std::string& name, const char* program, BoltzmannPlugin::ReferenceProblem& problem) {
    try {
        problem = BoltzmannPlugin::referenceProblem(name);
        return true;
    }
    catch (const OpenMM::OpenMMException& e) {
        std::fprintf(stderr, "%s: %s\n", program, e.what());
        return false;
    }
}

#endif
