// BoltzmannGeneratorForce through OpenMM on every platform of sharedTestPlatforms() (one shared test body).

#include "BoltzmannGeneratorForce.h"
#include "PluginTestEnvironment.h"
#include "bg/AugmentedCouplingFlow.h"
#include "openmm/Context.h"
#include "openmm/HarmonicBondForce.h"
#include "openmm/NonbondedForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
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

// Expect an OpenMMException whose message names the class.
template <class F>
void expectOpenMMException(F f, const string& fragment) {
    ::expectOpenMMException(f, "BoltzmannGeneratorForce", fragment);
}

// Four charged particles with bonds, so energies and forces are non-trivial.
System makeSystem() {
    System system;
    for (int i = 0; i < 4; i++)
        system.addParticle(12.0);
    HarmonicBondForce* bonds = new HarmonicBondForce();
    bonds->addBond(0, 1, 0.15, 1000.0);
    bonds->addBond(1, 2, 0.15, 1000.0);
    bonds->addBond(2, 3, 0.15, 1000.0);
    system.addForce(bonds);
    NonbondedForce* nonbonded = new NonbondedForce();
    for (int i = 0; i < 4; i++)
        nonbonded->addParticle(i % 2 == 0 ? 0.3 : -0.3, 0.3, 0.5);
    nonbonded->addException(0, 1, 0, 1, 0);
    nonbonded->addException(1, 2, 0, 1, 0);
    nonbonded->addException(2, 3, 0, 1, 0);
    system.addForce(nonbonded);
    return system;
}

vector<Vec3> makePositions() {
    return {Vec3(0, 0, 0), Vec3(0.16, 0.01, 0), Vec3(0.2, 0.17, 0.03), Vec3(0.36, 0.2, -0.05)};
}

class ForceOnPlatform : public PlatformTest {};

// A small flow configuration for n particles in 3-D with the given number of blocks.
string smallFlowConfig(int n, int blocks) {
    return "{\"numParticles\": " + to_string(n) + ", \"dimension\": 3, \"numBlocks\": " + to_string(blocks) +
           ", \"egnnLayers\": 1, \"egnnWidth\": 8, \"invariantFeatures\": 8, \"headWidths\": [8], \"splineBins\": 4}";
}

// saveFlow() bytes of a fresh flow with the given configuration (what getWeights() returns).
string savedFlow(const string& config) {
    bg::AugmentedCouplingFlow flow(bg::FlowConfig::fromJson(config));
    return bg::saveFlow(flow);
}

} // namespace

TEST(BoltzmannGeneratorForce, PluginDirectoryLoadsWithoutFailures) {
    const vector<string>& failures = loadOpenMMBGPlugins();
    EXPECT_TRUE(failures.empty()) << failures.front();
    EXPECT_TRUE(Platform::getPlatformByName("Reference").supportsKernels({"CalcBoltzmannGeneratorForce"}));
    EXPECT_TRUE(Platform::getPlatformByName("CPU").supportsKernels({"CalcBoltzmannGeneratorForce"}));
}

TEST(BoltzmannGeneratorForce, StoresItsSettings) {
    BoltzmannGeneratorForce force({3, 1, 2}, 300.0);
    EXPECT_EQ(force.getNumParticles(), 3);
    EXPECT_EQ(force.getParticles(), (vector<int>{3, 1, 2}));
    EXPECT_DOUBLE_EQ(force.getTemperature(), 300.0);
    force.setTemperature(800.0);
    EXPECT_DOUBLE_EQ(force.getTemperature(), 800.0);
    EXPECT_FALSE(force.hasFlow());
    string weights = savedFlow(smallFlowConfig(3, 1));
    force.setFlow(smallFlowConfig(3, 1), weights);
    EXPECT_TRUE(force.hasFlow());
    EXPECT_EQ(force.getFlowWeights(), weights);
    EXPECT_FALSE(force.usesPeriodicBoundaryConditions());
}

TEST(BoltzmannGeneratorForce, RefusesWeightsOfAnotherConfiguration) {
    BoltzmannGeneratorForce force({0, 1, 2}, 300.0);
    const string configA = smallFlowConfig(3, 1), configB = smallFlowConfig(3, 2);
    const string weightsA = savedFlow(configA), weightsB = savedFlow(configB);
    expectOpenMMException([&] { force.setFlow(configA, weightsB); },
                          "setFlow(): the weights were saved from a flow with a different configuration");
    EXPECT_FALSE(force.hasFlow());
    // The same configuration written differently (key order, spacing, explicit defaults) matches.
    const string configAReordered = "{\"splineBins\":4,\"headWidths\":[8],\"invariantFeatures\":8,\"egnnWidth\":8,\"egnnLayers\":1,"
                                    "\"numBlocks\":1,\"dimension\":3,\"numParticles\":3,\"dtype\":\"float32\"}";
    force.setFlow(configAReordered, weightsA);
    EXPECT_EQ(force.getFlowConfig(), configAReordered);
    EXPECT_EQ(force.getFlowWeights(), weightsA);
    // A refused call leaves the force unchanged.
    expectOpenMMException([&] { force.setFlow(configB, weightsA); }, "different configuration");
    expectOpenMMException([&] { force.setFlow(configA, string("\0\1\2\xff", 4)); }, "the weights are not a saved flow");
    string corrupted = weightsA;
    corrupted[corrupted.size() / 2] ^= 0x20;
    expectOpenMMException([&] { force.setFlow(configA, corrupted); }, "corrupted");
    EXPECT_EQ(force.getFlowConfig(), configAReordered);
    EXPECT_EQ(force.getFlowWeights(), weightsA);
    // No weights: a fresh initialisation from the configuration, nothing to compare.
    force.setFlow(configB);
    EXPECT_EQ(force.getFlowConfig(), configB);
    EXPECT_TRUE(force.getFlowWeights().empty());
}

TEST(BoltzmannGeneratorForce, RejectsBadInput) {
    expectOpenMMException([] { BoltzmannGeneratorForce({}, 300.0); }, "empty");
    expectOpenMMException([] { BoltzmannGeneratorForce({0, 1, 0}, 300.0); }, "more than once");
    expectOpenMMException([] { BoltzmannGeneratorForce({0, -2}, 300.0); }, "negative");
    expectOpenMMException([] { BoltzmannGeneratorForce({0, 1}, 0.0); }, "temperature");
    expectOpenMMException([] { BoltzmannGeneratorForce({0, 1}, -5.0); }, "temperature");
    expectOpenMMException([] { BoltzmannGeneratorForce({0, 1}, NAN); }, "temperature");
    BoltzmannGeneratorForce force({0, 1}, 300.0);
    expectOpenMMException([&] { force.setTemperature(-1.0); }, "temperature");
    expectOpenMMException([&] { force.setFlow("", "weights"); }, "configuration");
    expectOpenMMException([&] { force.setFlow("{\"numParticles\": 2, \"bogus\": 1}"); }, "bogus");
    expectOpenMMException([&] { force.setTrainingSettings("{\"batchSize\": 16, \"unknownSetting\": 1}"); }, "unknownSetting");
    expectOpenMMException([&] { force.setTrainingSettings("{\"batchSize\": -3}"); }, "batchSize");
    force.setTrainingSettings("{\"batchSize\": 16}");
    EXPECT_NE(force.getTrainingSettings().find("\"batchSize\": 16"), string::npos) << force.getTrainingSettings();
    EXPECT_DOUBLE_EQ(force.getTemperature(), 300.0);
}

TEST_P(ForceOnPlatform, RejectsParticlesOutsideTheSystem) {
    System system = makeSystem();
    system.addForce(new BoltzmannGeneratorForce({0, 4}, 300.0));
    VerletIntegrator integrator(0.001);
    expectOpenMMException([&] { Context context(system, integrator, *platform); }, "out of range");
}

TEST_P(ForceOnPlatform, AddsNoEnergyAndNoForce) {
    System reference = makeSystem();
    System system = makeSystem();
    system.addForce(new BoltzmannGeneratorForce({0, 1, 2, 3}, 300.0));
    VerletIntegrator integrator1(0.001), integrator2(0.001);
    Context context1(reference, integrator1, *platform);
    Context context2(system, integrator2, *platform);
    ASSERT_EQ(context2.getPlatform().getName(), platformName);
    context1.setPositions(makePositions());
    context2.setPositions(makePositions());
    State state1 = context1.getState(State::Energy | State::Forces);
    State state2 = context2.getState(State::Energy | State::Forces);
    ASSERT_GT(fabs(state1.getPotentialEnergy()), 1.0);
    EXPECT_NEAR(state2.getPotentialEnergy(), state1.getPotentialEnergy(), tolerance(1e-9) * fabs(state1.getPotentialEnergy()));
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            EXPECT_NEAR(state2.getForces()[i][k], state1.getForces()[i][k], tolerance(1e-9) * (1 + fabs(state1.getForces()[i][k])));
}

TEST_P(ForceOnPlatform, RespectsForceGroups) {
    System system = makeSystem();
    system.getForce(0).setForceGroup(1);
    system.getForce(1).setForceGroup(2);
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce({1, 2}, 300.0);
    force->setForceGroup(5);
    system.addForce(force);
    VerletIntegrator integrator(0.001);
    Context context(system, integrator, *platform);
    context.setPositions(makePositions());
    EXPECT_EQ(context.getState(State::Energy, false, 1 << 5).getPotentialEnergy(), 0.0);
    double bonds = context.getState(State::Energy, false, 1 << 1).getPotentialEnergy();
    double all = context.getState(State::Energy).getPotentialEnergy();
    double allButOurs = context.getState(State::Energy, false, ~(1 << 5)).getPotentialEnergy();
    EXPECT_NE(bonds, 0.0);
    expectEqualInPrecision(all, allButOurs);
}

TEST_P(ForceOnPlatform, ReadsTheModelledPositions) {
    System system = makeSystem();
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce({3, 0, 2}, 300.0);
    system.addForce(force);
    VerletIntegrator integrator(0.001);
    Context context(system, integrator, *platform);
    vector<Vec3> positions = makePositions();
    context.setPositions(positions);
    vector<Vec3> modelled = force->getModelledPositions(context);
    ASSERT_EQ(modelled.size(), 3u);
    const int order[] = {3, 0, 2};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++)
            expectEqualInPrecision(modelled[i][k], positions[order[i]][k]);
    // After dynamics the kernel sees the new positions, not a stale copy.
    integrator.step(5);
    State state = context.getState(State::Positions);
    modelled = force->getModelledPositions(context);
    for (int k = 0; k < 3; k++)
        expectEqualInPrecision(modelled[0][k], state.getPositions()[3][k]);
}

TEST_P(ForceOnPlatform, NeedsAContextThatContainsIt) {
    System system = makeSystem();
    VerletIntegrator integrator(0.001);
    Context context(system, integrator, *platform);
    BoltzmannGeneratorForce force({0, 1}, 300.0);
    expectOpenMMException([&] { force.getModelledPositions(context); }, "not part of the Context");
}

INSTANTIATE_TEST_SUITE_P(Platforms, ForceOnPlatform, ::testing::ValuesIn(sharedTestPlatforms()), platformTestName);
