/*
 * Dw4FabIntegrator: train a Boltzmann generator on the 4-particle double well (DW4) with FAB while
 * running Langevin dynamics, using openmm-bg's C++ API only.
 *
 * What it does
 *   - loads OpenMM's plugins and openmm-bg's plugin directory;
 *   - builds DW4 with BoltzmannPlugin::createDoubleWell4System() (reduced units: 1 nm, kT at 300 K,
 *     masses 1 amu) and adds a planar BoltzmannGeneratorForce over its 4 particles at 300 K;
 *   - integrates with a BoltzmannGeneratorIntegrator (friction 1/ps, step 0.01 ps) doing one FAB
 *     iteration and one flow Metropolis move per MD step;
 *   - prints the flow-move acceptance rate, the running ESS and the last FAB loss, then draws 1000
 *     flow samples and prints the reverse ESS of their importance weights;
 *   - writes the System, including the trained flow, as XML.
 *
 * How to run (after `ninja -C build dw4-fab-integrator`)
 *     OMP_NUM_THREADS=1 build/bin/dw4-fab-integrator [steps=100] [output=dw4-system.xml]
 * The plugin directories of the build are compiled in; the environment variables
 * OPENMM_PLUGIN_DIR and OPENMMBG_PLUGIN_DIR override them (e.g. for an installed copy).
 *
 * Runtime with the defaults: 146 s wall (about 1.3 s per step, i.e. per FAB iteration with batch 128)
 * on the development machine (2 CPU cores shared with another run, OMP_NUM_THREADS=1). 100 FAB
 * iterations only start the training (reverse ESS below 1 %); pass more steps for a usable flow.
 *
 * Output: the file named by the second argument (default dw4-system.xml in the working directory).
 */

#include "BoltzmannGeneratorForce.h"
#include "BoltzmannGeneratorIntegrator.h"
#include "ReferenceSystems.h"
#include "openmm/Context.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/System.h"
#include "openmm/serialization/XmlSerializer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

/** Load OpenMM's plugins (CPU platform) and then openmm-bg's (its kernels), as any user program must. */
void loadPlugins() {
    const char* openmmDir = getenv("OPENMM_PLUGIN_DIR");
    const char* openmmbgDir = getenv("OPENMMBG_PLUGIN_DIR");
    Platform::loadPluginsFromDirectory(openmmDir != nullptr ? openmmDir : OPENMM_PLUGIN_DIR);
    Platform::loadPluginsFromDirectory(openmmbgDir != nullptr ? openmmbgDir : OPENMMBG_PLUGIN_DIR);
}

/** The flow: 4 particles in 2D, the small configuration of examples/dw4-fab-quick/flow.json. */
string flowConfig() {
    return "{\"numParticles\": 4, \"dimension\": 2, \"numBlocks\": 4, \"egnnLayers\": 2, \"egnnWidth\": 32, "
           "\"invariantFeatures\": 32, \"headWidths\": [32, 32]}";
}

/** FAB settings: batches of 128, learning-rate schedule planned over `iterations` FAB iterations. */
string trainingSettings(int iterations) {
    return "{\"method\": \"fab\", \"batchSize\": 128, \"epochs\": " + to_string(iterations) +
           ", \"schedule\": {\"initialLr\": 1e-4, \"peakLr\": 1e-3, \"endLr\": 1e-4, \"warmupEpochs\": " +
           to_string(max(1, iterations / 10)) + "}, \"seed\": 1, \"fab\": {\"evalAisSamples\": 256, \"bufferMinBatches\": 16}}";
}

/** Reverse effective sample size fraction 1 / (n sum_i wbar_i^2) from log-weights (-inf counts as weight 0). */
double reverseEss(const vector<double>& logWeights) {
    double top = -numeric_limits<double>::infinity();
    for (double lw : logWeights)
        top = max(top, lw);
    if (!isfinite(top))
        return 0.0;
    double sum = 0.0, sumSquares = 0.0;
    for (double lw : logWeights) {
        double w = exp(lw - top);
        sum += w;
        sumSquares += w * w;
    }
    return sum * sum / (logWeights.size() * sumSquares);
}

/** A planar starting configuration: the four particles near the corners of a square of side d0 = 4 nm. */
vector<Vec3> startingPositions() {
    return {Vec3(0.0, 0.0, 0.0), Vec3(4.0, 0.1, 0.0), Vec3(4.1, 4.0, 0.0), Vec3(-0.1, 3.9, 0.0)};
}

} // namespace

int main(int argc, char* argv[]) {
    try {
        const int steps = argc > 1 ? atoi(argv[1]) : 100;
        const string outputFile = argc > 2 ? argv[2] : "dw4-system.xml";
        if (steps < 1) {
            cerr << "usage: " << argv[0] << " [steps >= 1] [output.xml]" << endl;
            return 1;
        }
        loadPlugins();

        // DW4 in reduced units: the target exp(-U/kT) at 300 K is the published exp(-E(x)).
        unique_ptr<System> system(createDoubleWell4System());
        BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce({0, 1, 2, 3}, referenceSystemTemperature());
        force->setPlanar(true);
        force->setFlow(flowConfig());
        force->setTrainingSettings(trainingSettings(steps));
        force->setRandomNumberSeed(1);
        system->addForce(force);  // the System owns the force

        // Particles of 1 amu in wells of curvature 40-120 kJ/mol/nm^2 vibrate with periods of 0.6-1 ps,
        // so 0.01 ps steps (~60 per period) are stable. Each step: Langevin step, one flow move, one FAB iteration.
        BoltzmannGeneratorIntegrator integrator(1.0, 0.01);
        integrator.setTrainingInterval(1);
        integrator.setFlowMoveInterval(1);
        integrator.setRandomNumberSeed(2);
        Context context(*system, integrator, Platform::getPlatformByName("CPU"));
        context.setPositions(startingPositions());
        context.setVelocitiesToTemperature(referenceSystemTemperature(), 3);

        auto start = chrono::steady_clock::now();
        auto elapsed = [&] { return chrono::duration<double>(chrono::steady_clock::now() - start).count(); };
        const int reportEvery = max(1, steps / 10);
        for (int done = 0; done < steps;) {
            int chunk = min(reportEvery, steps - done);
            integrator.step(chunk);
            done += chunk;
            printf("step %5d  %7.1f s  loss %9.4f  acceptance %.3f  running ESS %.3f\n", done, elapsed(),
                   integrator.getLastLoss(), integrator.getAcceptanceRate(), integrator.getRunningEss());
            fflush(stdout);
        }
        printf("\nafter %lld steps (%lld FAB iterations, %lld flow moves) in %.1f s:\n", integrator.getStepCount(),
               integrator.getNumTrainingIterations(), integrator.getNumFlowMoves(), elapsed());
        printf("  flow-move acceptance rate  %.4f\n", integrator.getAcceptanceRate());
        printf("  running ESS                %.4f\n", integrator.getRunningEss());
        printf("  last FAB loss              %.4f\n", integrator.getLastLoss());

        // Independent flow samples: their importance weights measure how close the flow is to exp(-U/kT).
        BoltzmannGeneratorSamples samples = force->sample(context, 1000);
        printf("  reverse ESS of 1000 flow samples  %.4f\n", reverseEss(samples.logWeights));

        // Store the trained weights in the force, so that the serialized System carries the trained flow.
        force->setFlow(force->getFlowConfig(), force->getWeights(context));
        ofstream out(outputFile);
        XmlSerializer::serialize<System>(system.get(), "System", out);
        printf("wrote %s (%.1f s in total)\n", outputFile.c_str(), elapsed());
        return 0;
    }
    catch (const exception& e) {
        cerr << "error: " << e.what() << endl;
        return 1;
    }
}
