// BoltzmannGeneratorForce on Systems as chemists run them: the target follows the live Context
// (global parameters, periodic box, the modelled particles' centre), constrained modelled
// particles are refused, and bad requests fail cleanly. Every platform of sharedTestPlatforms()
// (shared bodies).

#include "BoltzmannGeneratorForce.h"
#include "BoltzmannTestSystems.h"
#include "PluginTestEnvironment.h"
#include "openmm/Context.h"
#include "openmm/CustomBondForce.h"
#include "openmm/CustomExternalForce.h"
#include "openmm/CustomNonbondedForce.h"
#include "openmm/HarmonicBondForce.h"
#include "openmm/State.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

class ContextStateOnPlatform : public PlatformTest {};

const string tinyFabSettings =
        "{\"batchSize\": 16, \"epochs\": 10, \"fab\": {\"bufferMinBatches\": 2, \"bufferMaxBatches\": 8, \"updatesPerIteration\": 1, "
        "\"ais\": {\"numIntermediate\": 1, \"initialStepSize\": 0.02}}}";

BoltzmannGeneratorForce* addForce(System& system, const vector<int>& particles, bool identity, int seed = 5) {
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce(particles, 300.0);
    force->setFlow(tinyFlowConfig(particles.size(), 3, identity));
    force->setRandomNumberSeed(seed);
    force->setTrainingSettings(tinyFabSettings);
    system.addForce(force);
    return force;
}

/** Two particles with U = k r^2, k a global parameter (default 1 kJ/mol/nm^2), both modelled. */
System* makeParameterisedPair() {
    System* system = new System();
    system->addParticle(12.0);
    system->addParticle(12.0);
    CustomBondForce* bond = new CustomBondForce("k*r^2");
    bond->addGlobalParameter("k", 1.0);
    bond->addBond(0, 1, {});
    system->addForce(bond);
    return system;
}

/** The Context's potential energy (kJ/mol) at positions; restores nothing (test helper). */
double contextEnergyAt(Context& context, const vector<Vec3>& positions) {
    context.setPositions(positions);
    return context.getState(State::Energy).getPotentialEnergy();
}

}   // namespace

TEST_P(ContextStateOnPlatform, GlobalParametersOfTheContextAreUsed) {
    unique_ptr<System> system(makeParameterisedPair());
    BoltzmannGeneratorForce* force = addForce(*system, {0, 1}, true);
    VerletIntegrator integrator(0.001);
    Context context(*system, integrator, *platform);
    const vector<Vec3> positions = {Vec3(0, 0, 0), Vec3(1, 0, 0)};
    context.setPositions(positions);
    EXPECT_NEAR(force->computeEnergies(context, positions)[0], 1.0, tolerance(1e-10));
    context.setParameter("k", 5.0);
    EXPECT_NEAR(force->computeEnergies(context, positions)[0], 5.0, tolerance(1e-10, 5.0));
    // Samples and their weights use the same energy: U = 5 r^2 at every sample.
    BoltzmannGeneratorSamples samples = force->sample(context, 8);
    for (int i = 0; i < 8; i++) {
        const Vec3 d = samples.positions[2 * i + 1] - samples.positions[2 * i];
        EXPECT_NEAR(samples.energies[i], 5.0 * d.dot(d), tolerance(1e-9) * (1.0 + samples.energies[i]));
    }
    vector<double> logW = force->computeLogWeights(context, positions, 2);
    vector<double> logQ = force->computeLogProb(context, positions, 2);
    EXPECT_NEAR(logW[0], -5.0 / (testBoltzmann * 300.0) - logQ[0], tolerance(1e-9, fabs(logW[0])));
}

TEST_P(ContextStateOnPlatform, FabTrainingSeesTheContextsParameters) {
    // Same seed, same flow: one FAB iteration is bitwise reproducible, and only the parameter differs.
    auto lossWith = [&](double k) {
        unique_ptr<System> system(makeParameterisedPair());
        BoltzmannGeneratorForce* force = addForce(*system, {0, 1}, false, 11);
        VerletIntegrator integrator(0.001);
        Context context(*system, integrator, *platform);
        context.setPositions({Vec3(0, 0, 0), Vec3(1, 0, 0)});
        context.setParameter("k", k);
        return force->train(context, 1).lastLoss;
    };
    const double reference = lossWith(1.0);
    EXPECT_EQ(lossWith(1.0), reference);
    EXPECT_NE(lossWith(50.0), reference);
}

TEST_P(ContextStateOnPlatform, TheCurrentPeriodicBoxIsUsed) {
    System system;
    for (int i = 0; i < 3; i++)
        system.addParticle(40.0);
    system.setDefaultPeriodicBoxVectors(Vec3(2, 0, 0), Vec3(0, 2, 0), Vec3(0, 0, 2));
    CustomNonbondedForce* lj = new CustomNonbondedForce("4*eps*((sigma/r)^12-(sigma/r)^6); sigma=0.3; eps=1");
    lj->setNonbondedMethod(CustomNonbondedForce::CutoffPeriodic);
    lj->setCutoffDistance(0.9);
    for (int i = 0; i < 3; i++)
        lj->addParticle({});
    system.addForce(lj);
    BoltzmannGeneratorForce* force = addForce(system, {0, 1}, true);
    VerletIntegrator integrator(0.001);
    Context context(system, integrator, *platform);
    const vector<Vec3> all = {Vec3(0.1, 0, 0), Vec3(0.45, 0, 0), Vec3(1.75, 0, 0)};
    const vector<Vec3> modelled = {all[0], all[1]};
    context.setPositions(all);
    const double inDefaultBox = contextEnergyAt(context, all);
    EXPECT_NEAR(force->computeEnergies(context, modelled)[0], inDefaultBox, tolerance(1e-6, fabs(inDefaultBox)));
    context.setPeriodicBoxVectors(Vec3(2.2, 0, 0), Vec3(0, 2.2, 0), Vec3(0, 0, 2.2));
    const double inLargerBox = contextEnergyAt(context, all);
    ASSERT_GT(fabs(inLargerBox - inDefaultBox), 0.5);   // particle 2 is out of range of particle 0 now
    EXPECT_NEAR(force->computeEnergies(context, modelled)[0], inLargerBox, tolerance(1e-6, fabs(inLargerBox)));
}

TEST_P(ContextStateOnPlatform, SamplesArePlacedAtTheModelledParticlesCentre) {
    // Three free particles held by a position restraint around (3, 0, 0) nm, U = (k/2) sum |r - r0|^2
    // with k = 2 kJ/mol/nm^2. The identity flow draws zero-centre standard Gaussian configurations;
    // placed at the particles' centre r0, E[U] = (k/2) (N - 1) D = 6 kJ/mol (placed at the origin: 33).
    System system;
    for (int i = 0; i < 3; i++)
        system.addParticle(12.0);
    CustomExternalForce* restraint = new CustomExternalForce("0.5*k*((x-3)^2+y^2+z^2)");
    restraint->addGlobalParameter("k", 2.0);
    for (int i = 0; i < 3; i++)
        restraint->addParticle(i, {});
    system.addForce(restraint);
    BoltzmannGeneratorForce* force = addForce(system, {0, 1, 2}, true);
    VerletIntegrator integrator(0.001);
    Context context(system, integrator, *platform);
    context.setPositions({Vec3(3.1, 0, 0), Vec3(2.9, 0.1, 0), Vec3(3.0, -0.1, 0)});
    const int n = 2000;
    BoltzmannGeneratorSamples samples = force->sample(context, n);
    double sum = 0.0, sumSquares = 0.0;
    for (int i = 0; i < n; i++) {
        sum += samples.energies[i];
        sumSquares += samples.energies[i] * samples.energies[i];
        Vec3 centre = (samples.positions[3 * i] + samples.positions[3 * i + 1] + samples.positions[3 * i + 2]) * (1.0 / 3.0);
        EXPECT_NEAR(centre[0], 3.0, tolerance(1e-10, 3.0));
        EXPECT_NEAR(centre[1], 0.0, tolerance(1e-10, 3.0));
    }
    const double mean = sum / n, standardError = sqrt((sumSquares / n - mean * mean) / n);
    EXPECT_NEAR(mean, 6.0, 5 * standardError);
    // FAB runs against the same conditional target: its AIS starts at the centre and keeps finite weights.
    BoltzmannGeneratorTrainingReport report = force->train(context, 1);
    EXPECT_TRUE(isfinite(report.lastLoss));
    EXPECT_GT(report.aisAcceptance, 0.0);
}

TEST_P(ContextStateOnPlatform, ConstrainedModelledParticlesAreRefused) {
    {
        unique_ptr<System> system(makeChain4());
        system->addConstraint(1, 2, 0.15);
        addForce(*system, {0, 1, 2, 3}, true);
        VerletIntegrator integrator(0.001);
        expectOpenMMException([&] { Context context(*system, integrator, *platform); }, "BoltzmannGeneratorForce", "constraints=None");
    }
    {
        // A constraint among particles the flow does not model (e.g. rigid solvent) is fine.
        unique_ptr<System> system(makeChain4());
        system->addParticle(12.0);
        system->addParticle(12.0);
        system->addConstraint(4, 5, 0.1);
        BoltzmannGeneratorForce* force = addForce(*system, {0, 1, 2, 3}, true);
        VerletIntegrator integrator(0.001);
        Context context(*system, integrator, *platform);
        vector<Vec3> positions = chain4Positions();
        positions.push_back(Vec3(2, 2, 2));
        positions.push_back(Vec3(2.1, 2, 2));
        context.setPositions(positions);
        EXPECT_EQ(force->sample(context, 3).numSamples, 3);
    }
}

TEST_P(ContextStateOnPlatform, BadRequestsFailCleanly) {
    unique_ptr<System> system(makeChain4());
    BoltzmannGeneratorForce* force = addForce(*system, {0, 1, 2, 3}, false);
    VerletIntegrator integrator(0.001);
    Context context(*system, integrator, *platform);
    context.setPositions(chain4Positions());
    // Finite but huge coordinates have no density (-inf), never NaN.
    vector<Vec3> huge = chain4Positions();
    huge[2] = Vec3(1e308, 0, 0);
    EXPECT_EQ(force->computeLogProb(context, huge, 2)[0], -INFINITY);
    EXPECT_EQ(force->computeLogWeights(context, huge, 2)[0], -INFINITY);
    // A request that cannot fit in memory is refused at once.
    expectOpenMMException([&] { force->sample(context, 2147483647); }, "BoltzmannGeneratorForce", "smaller batches");
}

TEST_P(ContextStateOnPlatform, UpdateParametersTakesOtherForcesChangesAndKeepsTheTrainedFlow) {
    unique_ptr<System> system(makeChain4());
    HarmonicBondForce& bonds = dynamic_cast<HarmonicBondForce&>(system->getForce(0));
    BoltzmannGeneratorForce* force = addForce(*system, {0, 1, 2, 3}, false);
    VerletIntegrator integrator(0.001);
    Context context(*system, integrator, *platform);
    const vector<Vec3> positions = chain4Positions();
    context.setPositions(positions);
    force->train(context, 1);
    const string trained = force->getWeights(context);
    // A bond constant changed and pushed to the Context: the target takes it after the BG force's update.
    for (int i = 0; i < 3; i++) {
        int p1, p2;
        double length, k;
        bonds.getBondParameters(i, p1, p2, length, k);
        bonds.setBondParameters(i, p1, p2, length, 3 * k);
    }
    bonds.updateParametersInContext(context);
    force->updateParametersInContext(context);
    const double energy = contextEnergyAt(context, positions);
    EXPECT_NEAR(force->computeEnergies(context, positions)[0], energy, tolerance(1e-8, fabs(energy)));
    EXPECT_EQ(force->getWeights(context), trained);   // setFlow() was not called: the trained flow stays
    EXPECT_EQ(force->train(context, 1).totalIterations, 1);   // the training state starts afresh
    // After setFlow() the force's flow replaces the Context's.
    force->setFlow(tinyFlowConfig(4, 3, true));
    force->updateParametersInContext(context);
    EXPECT_NE(force->getWeights(context), trained);
}

INSTANTIATE_TEST_SUITE_P(Platforms, ContextStateOnPlatform, ::testing::ValuesIn(sharedTestPlatforms()), platformTestName);
