// Sampling, density evaluation, training and weight transfer of BoltzmannGeneratorForce through
// OpenMM, on every platform of sharedTestPlatforms() (one shared test body).

#include "BoltzmannGeneratorForce.h"
#include "BoltzmannTestSystems.h"
#include "PluginTestEnvironment.h"
#include "openmm/Context.h"
#include "openmm/CustomExternalForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/State.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"
#include "openmm/serialization/XmlSerializer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

class SamplingOnPlatform : public PlatformTest {};

template <class F>
void expectOpenMMException(F f, const string& fragment) {
    ::expectOpenMMException(f, "BoltzmannGeneratorForce", fragment);
}

// A chain of four with a restraint in force group 3, the BG force's group: the restraint is not
// part of the target.
System* makeSystemWithForce(bool identity, int seed = 7) {
    System* system = makeChain4();
    CustomExternalForce* restraint = new CustomExternalForce("100*(x^2+y^2+z^2)");
    for (int i = 0; i < 4; i++)
        restraint->addParticle(i, {});
    restraint->setForceGroup(3);
    system->addForce(restraint);
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce({0, 1, 2, 3}, 300.0);
    force->setFlow(tinyFlowConfig(4, 3, identity));
    force->setForceGroup(3);
    force->setRandomNumberSeed(seed);
    force->setTrainingSettings("{\"batchSize\": 16, \"epochs\": 10, \"schedule\": {\"initialLr\": 3e-3, \"peakLr\": 3e-3, \"endLr\": 3e-3}, \"fab\": {\"bufferMinBatches\": 2, \"bufferMaxBatches\": 8, "
                               "\"updatesPerIteration\": 2, \"evalAisSamples\": 32, \"ais\": {\"numIntermediate\": 1, \"initialStepSize\": 0.02}}}");
    system->addForce(force);
    return system;
}

BoltzmannGeneratorForce& bgForce(System& system) {
    return dynamic_cast<BoltzmannGeneratorForce&>(system.getForce(system.getNumForces() - 1));
}

// Energies of the target (every force outside group 3) from a second, independent Context.
vector<double> energiesFromSecondContext(const vector<Vec3>& positions, Platform& platform) {
    unique_ptr<System> chain(makeChain4());
    VerletIntegrator integrator(0.001);
    Context context(*chain, integrator, platform);
    vector<double> energies;
    for (size_t i = 0; i < positions.size(); i += 4) {
        context.setPositions(vector<Vec3>(positions.begin() + i, positions.begin() + i + 4));
        energies.push_back(context.getState(State::Energy).getPotentialEnergy());
    }
    return energies;
}

} // namespace

TEST_P(SamplingOnPlatform, SamplesHaveTheRightShapeUnitsAndWeights) {
    unique_ptr<System> system(makeSystemWithForce(true));
    VerletIntegrator integrator(0.001);
    Context context(*system, integrator, *platform);
    context.setPositions(chain4Positions());
    BoltzmannGeneratorSamples samples = bgForce(*system).sample(context, 12);
    ASSERT_EQ(samples.numSamples, 12);
    ASSERT_EQ(samples.numParticles, 4);
    ASSERT_EQ(samples.positions.size(), 48u);
    ASSERT_EQ(samples.logProb.size(), 12u);
    ASSERT_EQ(samples.logWeights.size(), 12u);
    ASSERT_EQ(samples.energies.size(), 12u);
    const double kT = testBoltzmann * 300.0;
    vector<double> reference = energiesFromSecondContext(samples.positions, *platform);
    // Samples are placed at the current centre of the modelled particles in the Context.
    Vec3 contextCentre;
    for (const Vec3& p : chain4Positions())
        contextCentre += p * 0.25;
    for (int i = 0; i < 12; i++) {
        Vec3 centre;
        for (int j = 0; j < 4; j++)
            centre += samples.positions[4 * i + j] * 0.25;
        EXPECT_LT(sqrt((centre - contextCentre).dot(centre - contextCentre)), tolerance(1e-10));
        // The energy leaves out the restraint of the BG force's group and matches a second Context.
        EXPECT_NEAR(samples.energies[i], reference[i], tolerance(1e-8) * (1.0 + fabs(reference[i])));
        EXPECT_TRUE(isfinite(samples.logProb[i]));
    }
    // The flow is the identity here, so log q(x, a) - log pi(a|x) is the base density of x and
    // the sample's log w equals -U/kT - log q(x) from computeLogWeights (no Monte Carlo error).
    vector<double> logW = bgForce(*system).computeLogWeights(context, samples.positions, 3);
    vector<double> logQ = bgForce(*system).computeLogProb(context, samples.positions, 3);
    for (int i = 0; i < 12; i++) {
        EXPECT_NEAR(logW[i], samples.logWeights[i], tolerance(1e-8) * (1.0 + fabs(logW[i])));
        EXPECT_NEAR(logW[i], -reference[i] / kT - logQ[i], tolerance(1e-8) * (1.0 + fabs(logW[i])));
    }
    // The zero-CoM standard Gaussian base: log q = -|x - mean(x)|^2/2 - (N-1) D/2 log(2 pi).
    for (int i = 0; i < 12; i++) {
        double squared = 0.0;
        for (int j = 0; j < 4; j++)
            squared += (samples.positions[4 * i + j] - contextCentre).dot(samples.positions[4 * i + j] - contextCentre);
        EXPECT_NEAR(logQ[i], -0.5 * squared - 4.5 * log(2 * M_PI), tolerance(1e-8) * (1.0 + fabs(logQ[i])));
    }
    vector<double> energies = bgForce(*system).computeEnergies(context, samples.positions);
    for (int i = 0; i < 12; i++)
        EXPECT_NEAR(energies[i], reference[i], tolerance(1e-8) * (1.0 + fabs(reference[i])));
}

TEST_P(SamplingOnPlatform, PlanarForceSamplesInThePlane) {
    unique_ptr<System> system(makeChain4());
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce({0, 1, 2, 3}, 300.0);
    force->setPlanar(true);
    force->setFlow(tinyFlowConfig(4, 2, false));
    force->setRandomNumberSeed(3);
    system->addForce(force);
    VerletIntegrator integrator(0.001);
    Context context(*system, integrator, *platform);
    context.setPositions(chain4Positions());
    BoltzmannGeneratorSamples samples = force->sample(context, 5);
    for (const Vec3& p : samples.positions)
        EXPECT_EQ(p[2], 0.0);
    vector<double> logQ = force->computeLogProb(context, samples.positions, 4);
    for (double value : logQ)
        EXPECT_TRUE(isfinite(value));
}

TEST_P(SamplingOnPlatform, FabTrainingChangesTheFlowAndWeightsMoveBetweenContexts) {
    unique_ptr<System> system(makeSystemWithForce(true));
    BoltzmannGeneratorForce& force = bgForce(*system);
    VerletIntegrator integrator1(0.001), integrator2(0.001);
    Context context1(*system, integrator1, *platform);
    Context context2(*system, integrator2, *platform);
    context1.setPositions(chain4Positions());
    context2.setPositions(chain4Positions());
    vector<Vec3> probe = force.sample(context2, 6).positions;

    BoltzmannGeneratorTrainingReport report = force.train(context1, 3);
    EXPECT_EQ(report.iterations, 3);
    EXPECT_EQ(report.totalIterations, 3);
    EXPECT_TRUE(isfinite(report.lastLoss));
    EXPECT_GT(report.aisAcceptance, 0.0);
    EXPECT_EQ(force.train(context1, 1).totalIterations, 4);

    // Context 1's flow changed; context 2's did not.
    const string trained = force.getWeights(context1);
    EXPECT_NE(trained, force.getWeights(context2));
    // Move the trained flow into context 2 through the force; with the same seed both Contexts
    // then evaluate identical densities (the augmented draws come from the reseeded generator).
    force.setFlow(force.getFlowConfig(), trained);
    force.updateParametersInContext(context2);
    force.updateParametersInContext(context1);
    EXPECT_EQ(force.getWeights(context2), trained);
    vector<double> logQ1 = force.computeLogProb(context1, probe, 5);
    vector<double> logQ2 = force.computeLogProb(context2, probe, 5);
    EXPECT_EQ(logQ1, logQ2);

    // An XML round trip of the System carries the weights: a new Context evaluates the same log q.
    stringstream xml;
    XmlSerializer::serialize<System>(system.get(), "System", xml);
    unique_ptr<System> copy(XmlSerializer::deserialize<System>(xml));
    BoltzmannGeneratorForce& copiedForce = bgForce(*copy);
    EXPECT_EQ(copiedForce.getFlowWeights(), trained);
    EXPECT_EQ(copiedForce.getTrainingSettings(), force.getTrainingSettings());
    EXPECT_EQ(copiedForce.getRandomNumberSeed(), 7);
    VerletIntegrator integrator3(0.001);
    Context context3(*copy, integrator3, *platform);
    context3.setPositions(chain4Positions());
    EXPECT_EQ(copiedForce.computeLogProb(context3, probe, 5), logQ1);
}

TEST_P(SamplingOnPlatform, MaximumLikelihoodOnGivenSamplesRaisesTheirDensity) {
    unique_ptr<System> system(makeSystemWithForce(true));
    BoltzmannGeneratorForce& force = bgForce(*system);
    VerletIntegrator integrator(0.001);
    Context context(*system, integrator, *platform);
    context.setPositions(chain4Positions());
    // Data: small jittered copies of the chain (much narrower than the unit Gaussian base).
    vector<Vec3> data;
    for (int s = 0; s < 64; s++)
        for (int j = 0; j < 4; j++) {
            Vec3 p = chain4Positions()[j];
            data.push_back(p + Vec3(0.01 * sin(3.0 * s + j), 0.01 * cos(5.0 * s + 2 * j), 0.01 * sin(7.0 * s - j)));
        }
    auto mean = [](const vector<double>& v) {
        double sum = 0.0;
        for (double x : v)
            sum += x;
        return sum / v.size();
    };
    const double before = mean(force.computeLogProb(context, data, 4));
    BoltzmannGeneratorTrainingReport report = force.trainOnSamples(context, data, 30);
    EXPECT_EQ(report.iterations, 30);
    const double after = mean(force.computeLogProb(context, data, 4));
    EXPECT_GT(after, before + 1.0) << before << " -> " << after;
}

TEST_P(SamplingOnPlatform, BadInputGivesClearErrors) {
    unique_ptr<System> system(makeSystemWithForce(true));
    BoltzmannGeneratorForce& force = bgForce(*system);
    VerletIntegrator integrator(0.001);
    Context context(*system, integrator, *platform);
    context.setPositions(chain4Positions());
    vector<Vec3> three(3, Vec3(0.1, 0.2, 0.3));
    expectOpenMMException([&] { force.computeLogProb(context, three); }, "multiple of 4");
    vector<Vec3> withNan = chain4Positions();
    withNan[2][1] = NAN;
    expectOpenMMException([&] { force.computeLogWeights(context, withNan); }, "not finite");
    expectOpenMMException([&] { force.sample(context, 0); }, "positive");
    expectOpenMMException([&] { force.train(context, 0); }, "positive");
    expectOpenMMException([&] { force.trainOnSamples(context, chain4Positions(), 2); }, "batch size");
    // A Context without the force.
    unique_ptr<System> other(makeChain4());
    VerletIntegrator integrator2(0.001);
    Context otherContext(*other, integrator2, *platform);
    expectOpenMMException([&] { force.sample(otherContext, 2); }, "not part of the Context");
    // updateParametersInContext() cannot change what is modelled.
    const int group = force.getForceGroup();
    force.setForceGroup(group == 5 ? 6 : 5);
    expectOpenMMException([&] { force.updateParametersInContext(context); }, "cannot change");
    force.setForceGroup(group);
    force.setPlanar(true);   // the stored 3-D flow no longer fits
    expectOpenMMException([&] { force.updateParametersInContext(context); }, "planar");
    force.setPlanar(false);
    // A flow for the wrong number of particles.
    unique_ptr<System> mismatched(makeChain4());
    BoltzmannGeneratorForce* wrong = new BoltzmannGeneratorForce({0, 1, 2, 3}, 300.0);
    wrong->setFlow(tinyFlowConfig(3, 3, true));
    mismatched->addForce(wrong);
    VerletIntegrator integrator3(0.001);
    expectOpenMMException([&] { Context c(*mismatched, integrator3, *platform); }, "models 3 particles");
}

INSTANTIATE_TEST_SUITE_P(Platforms, SamplingOnPlatform, ::testing::ValuesIn(sharedTestPlatforms()), platformTestName);

TEST_P(SamplingOnPlatform, ParticlesOutsideTheModelAreHeldAtTheirCurrentPositions) {
    // Model particles 1 and 2 of the chain; 0 and 3 are held where the Context has them now.
    unique_ptr<System> system(makeChain4());
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce({1, 2}, 300.0);
    force->setFlow(tinyFlowConfig(2, 3, true));
    force->setRandomNumberSeed(5);
    system->addForce(force);
    VerletIntegrator integrator(0.001);
    Context context(*system, integrator, *platform);
    vector<Vec3> all = chain4Positions();
    context.setPositions(all);
    const vector<Vec3> modelled = {Vec3(0.16, 0.0, 0.01), Vec3(0.25, 0.12, 0.0)};
    auto expected = [&](const vector<Vec3>& held) {
        unique_ptr<System> chain(makeChain4());
        VerletIntegrator plain(0.001);
        Context reference(*chain, plain, *platform);
        vector<Vec3> positions = held;
        positions[1] = modelled[0];
        positions[2] = modelled[1];
        reference.setPositions(positions);
        return reference.getState(State::Energy).getPotentialEnergy();
    };
    EXPECT_NEAR(force->computeEnergies(context, modelled)[0], expected(all), tolerance(1e-8, fabs(expected(all))));
    // Move a held particle in the Context: the target follows.
    all[3] = all[3] + Vec3(0.05, -0.02, 0.03);
    context.setPositions(all);
    const double moved = force->computeEnergies(context, modelled)[0];
    EXPECT_NEAR(moved, expected(all), tolerance(1e-8, fabs(moved)));
    EXPECT_GT(fabs(moved - expected(chain4Positions())), 1e-3);
}
