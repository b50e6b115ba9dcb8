// Cost of a BoltzmannGeneratorIntegrator step on the CPU platform: Langevin dynamics alone, and
// with an independence Metropolis-Hastings flow move at every step (proposals drawn in batches of
// 16, or one at a time). The flow is a small untrained E-ACF (4 blocks, EGNN 2 x 32, F 32,
// float32); its cost per move does not depend on training. Prints the median over repeats of the
// wall time per step, and the derived cost of one flow move.
//
// Usage: BenchmarkIntegratorStep [problem: dw4|lj13|aldp|... (data/problems)] [steps] [repeats]
// Defaults: dw4 200 5.

#include "BoltzmannGeneratorForce.h"
#include "BoltzmannGeneratorIntegrator.h"
#include "BenchmarkStatistics.h"
#include "PluginTestEnvironment.h"
#include "ReferenceProblems.h"
#include "openmm/OpenMMException.h"
#include "openmm/Context.h"
#include "openmm/Platform.h"
#include "openmm/System.h"
#include "openmm/serialization/XmlSerializer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

using namespace BoltzmannPlugin;
using namespace OpenMM;

namespace {

struct Problem {
    std::unique_ptr<System> system;
    std::vector<Vec3> positions;
    double temperature;
    int dimension;
    double stepSize;   // ps
};

/** The reference problem `name` (its System, temperature, dimension and, where it has one, its structure). */
Problem makeProblem(const std::string& name) {
    const ReferenceProblem reference = referenceProblem(name);
    Problem p;
    p.system.reset(createReferenceProblemSystem(reference, OPENMMBG_DATA_DIR, p.positions));
    p.temperature = reference.temperature;
    p.dimension = reference.dimension;
    const int n = p.system->getNumParticles();
    const bool hasStructure = std::any_of(p.positions.begin(), p.positions.end(), [](const Vec3& x) { return x.dot(x) > 0.0; });
    p.stepSize = hasStructure ? 0.001 : 0.005;   // a molecule (fs steps) or a reduced-unit cluster
    if (!hasStructure)
        for (int i = 0; i < n; i++)   // a ring of radius 1 nm (in the plane for 2D problems)
            p.positions[i] = Vec3(std::cos(2 * M_PI * i / n), std::sin(2 * M_PI * i / n), p.dimension == 2 ? 0.0 : 0.1 * (i % 2));
    return p;
}

/** Median wall seconds per step over repeats of `steps` steps. */
double timeSteps(const Problem& problem, int flowMoveInterval, int proposalBatch, int steps, int repeats, double& acceptance) {
    std::unique_ptr<System> system(XmlSerializer::clone<System>(*problem.system));
    const int n = system->getNumParticles();
    std::vector<int> particles(n);
    for (int i = 0; i < n; i++)
        particles[i] = i;
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce(particles, problem.temperature);
    force->setPlanar(problem.dimension == 2);
    force->setFlow("{\"numParticles\": " + std::to_string(n) + ", \"dimension\": " + std::to_string(problem.dimension) +
                   ", \"numBlocks\": 4, \"egnnLayers\": 2, \"egnnWidth\": 32, \"invariantFeatures\": 32, \"headWidths\": [32, 32]}");
    force->setRandomNumberSeed(1);
    system->addForce(force);
    BoltzmannGeneratorIntegrator integrator(1.0, problem.stepSize);
    integrator.setFlowMoveInterval(flowMoveInterval);
    integrator.setProposalBatchSize(proposalBatch);
    integrator.setRandomNumberSeed(2);
    Context context(*system, integrator, Platform::getPlatformByName("CPU"), {{"Threads", "1"}});
    context.setPositions(problem.positions);
    context.setVelocitiesToTemperature(problem.temperature, 3);
    integrator.step(std::max(1, steps / 10));   // warm-up (first flow pass, target Context creation)
    std::vector<double> times;
    for (int r = 0; r < repeats; r++) {
        auto start = std::chrono::steady_clock::now();
        integrator.step(steps);
        times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / steps);
    }
    acceptance = integrator.getAcceptanceRate();
    return median(times);
}

} // namespace

int main(int argc, char** argv) {
    const std::string name = argc > 1 ? argv[1] : "dw4";
    const int steps = argc > 2 ? std::atoi(argv[2]) : 200;
    const int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
    loadOpenMMBGPlugins();
    Problem problem;
    try {
        problem = makeProblem(name);
    }
    catch (const OpenMMException& e) {
        std::fprintf(stderr, "BenchmarkIntegratorStep: %s\n", e.what());
        return 2;
    }
    std::printf("BoltzmannGeneratorIntegrator on the CPU platform (1 thread), %s (%d particles), %d steps x %d repeats\n", name.c_str(),
                problem.system->getNumParticles(), steps, repeats);
    double acceptance = 0.0;
    const double langevin = timeSteps(problem, 0, 16, steps, repeats, acceptance);
    std::printf("  Langevin only                      %8.3f ms per step\n", 1e3 * langevin);
    const double batched = timeSteps(problem, 1, 16, steps, repeats, acceptance);
    std::printf("  + flow move every step, batch 16   %8.3f ms per step (%.3f ms per move; acceptance %.3f)\n", 1e3 * batched,
                1e3 * (batched - langevin), acceptance);
    const double single = timeSteps(problem, 1, 1, steps, repeats, acceptance);
    std::printf("  + flow move every step, batch 1    %8.3f ms per step (%.3f ms per move)\n", 1e3 * single, 1e3 * (single - langevin));
    return 0;
}
