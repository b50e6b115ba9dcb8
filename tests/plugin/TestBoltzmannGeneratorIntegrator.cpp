// BoltzmannGeneratorIntegrator on every platform of sharedTestPlatforms() that has its kernel (one
// shared test body): Langevin dynamics, exact flow moves, FAB inside step(), checkpoints,
// serialization, bad input.

#include "BoltzmannGeneratorForce.h"
#include "BoltzmannGeneratorIntegrator.h"
#include "BoltzmannGeneratorKernels.h"
#include "BoltzmannTestSystems.h"
#include "PluginTestEnvironment.h"
#include "openmm/Context.h"
#include "openmm/CustomBondForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/State.h"
#include "openmm/System.h"
#include "openmm/VirtualSite.h"
#include "openmm/serialization/XmlSerializer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

class IntegratorOnPlatform : public PlatformTest {
protected:
    void SetUp() override {
        PlatformTest::SetUp();
        skipUnlessSupported({IntegrateBoltzmannGeneratorStepKernel::Name()});
    }
};

template <class F>
void expectOpenMMException(F f, const string& fragment) {
    ::expectOpenMMException(f, "BoltzmannGeneratorIntegrator", fragment);
}

BoltzmannGeneratorForce* addForce(System& system, const vector<int>& particles, int dimension, bool identity) {
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce(particles, 300.0);
    force->setPlanar(dimension == 2);
    force->setFlow(tinyFlowConfig(particles.size(), dimension, identity));
    force->setRandomNumberSeed(11);
    force->setTrainingSettings("{\"batchSize\": 16, \"epochs\": 10, \"fab\": {\"bufferMinBatches\": 2, \"bufferMaxBatches\": 8, "
                               "\"updatesPerIteration\": 2, \"ais\": {\"numIntermediate\": 1, \"initialStepSize\": 0.02}}}");
    system.addForce(force);
    return force;
}

double distance(const vector<Vec3>& positions) {
    Vec3 d = positions[1] - positions[0];
    return sqrt(d.dot(d));
}

// Probabilities of r in each bin under p(r) ~ r^2 exp(-c (r^2 - r0^2)^2) (midpoint rule).
vector<double> referenceBinProbabilities(const vector<double>& edges, double c, double r0) {
    auto density = [&](double r) { return r * r * exp(-c * (r * r - r0 * r0) * (r * r - r0 * r0)); };
    const int fine = 20000;
    const double rMax = 6.0;
    double total = 0.0;
    for (int i = 0; i < fine; i++)
        total += density((i + 0.5) * rMax / fine) * rMax / fine;
    vector<double> p;
    for (size_t b = 0; b + 1 < edges.size(); b++) {
        double sum = 0.0;
        const int steps = 2000;
        const double width = (edges[b + 1] - edges[b]) / steps;
        for (int i = 0; i < steps; i++)
            sum += density(edges[b] + (i + 0.5) * width) * width;
        p.push_back(sum / total);
    }
    return p;
}

double chiSquared(const vector<double>& samples, const vector<double>& edges, const vector<double>& probabilities) {
    vector<double> counts(probabilities.size(), 0.0);
    for (double r : samples)
        for (size_t b = 0; b < probabilities.size(); b++)
            if (r >= edges[b] && r < edges[b + 1])
                counts[b]++;
    double chi2 = 0.0;
    for (size_t b = 0; b < counts.size(); b++) {
        const double expected = probabilities[b] * samples.size();
        chi2 += (counts[b] - expected) * (counts[b] - expected) / expected;
    }
    return chi2;
}

} // namespace

TEST(BoltzmannGeneratorIntegrator, StoresItsSettingsAndRejectsBadOnes) {
    BoltzmannGeneratorIntegrator integrator(2.0, 0.002);
    EXPECT_DOUBLE_EQ(integrator.getFriction(), 2.0);
    EXPECT_DOUBLE_EQ(integrator.getStepSize(), 0.002);
    EXPECT_EQ(integrator.getFlowMoveInterval(), 0);
    EXPECT_EQ(integrator.getTrainingInterval(), 0);
    EXPECT_FALSE(integrator.kineticEnergyRequiresForce());
    integrator.setFlowMoveInterval(5);
    integrator.setTrainingInterval(50);
    integrator.setProposalBatchSize(32);
    integrator.setEssWindow(100);
    integrator.setRandomNumberSeed(42);
    integrator.setIntegrationForceGroups(3);
    EXPECT_EQ(integrator.getWeightDraws(), 1);
    integrator.setWeightDraws(6);
    expectOpenMMException([] { BoltzmannGeneratorIntegrator(-1.0, 0.002); }, "friction");
    expectOpenMMException([] { BoltzmannGeneratorIntegrator(1.0, 0.0); }, "step size");
    expectOpenMMException([&] { integrator.setFlowMoveInterval(-1); }, "flow move interval");
    expectOpenMMException([&] { integrator.setTrainingInterval(-2); }, "training interval");
    expectOpenMMException([&] { integrator.setProposalBatchSize(0); }, "proposal batch");
    expectOpenMMException([&] { integrator.setEssWindow(0); }, "ESS window");
    expectOpenMMException([&] { integrator.setWeightDraws(0); }, "weight draws");
    expectOpenMMException([&] { integrator.step(1); }, "not bound");
    EXPECT_EQ(integrator.getNumFlowMoves(), 0);
    EXPECT_EQ(integrator.getAcceptanceRate(), 0.0);

    // Every setting survives an XML round trip.
    stringstream xml;
    XmlSerializer::serialize<Integrator>(&integrator, "Integrator", xml);
    unique_ptr<Integrator> copy(XmlSerializer::deserialize<Integrator>(xml));
    BoltzmannGeneratorIntegrator* restored = dynamic_cast<BoltzmannGeneratorIntegrator*>(copy.get());
    ASSERT_NE(restored, nullptr);
    EXPECT_DOUBLE_EQ(restored->getFriction(), 2.0);
    EXPECT_DOUBLE_EQ(restored->getStepSize(), 0.002);
    EXPECT_EQ(restored->getFlowMoveInterval(), 5);
    EXPECT_EQ(restored->getTrainingInterval(), 50);
    EXPECT_EQ(restored->getProposalBatchSize(), 32);
    EXPECT_EQ(restored->getEssWindow(), 100);
    EXPECT_EQ(restored->getRandomNumberSeed(), 42);
    EXPECT_EQ(restored->getIntegrationForceGroups(), 3);
    EXPECT_EQ(restored->getWeightDraws(), 6);
    EXPECT_DOUBLE_EQ(restored->getConstraintTolerance(), integrator.getConstraintTolerance());
}

TEST_P(IntegratorOnPlatform, RefusesSystemsItCannotSample) {
    {
        unique_ptr<System> system(makeChain4());
        BoltzmannGeneratorIntegrator integrator(1.0, 0.001);
        expectOpenMMException([&] { Context context(*system, integrator, *platform); }, "no BoltzmannGeneratorForce");
    }
    {
        unique_ptr<System> system(makeChain4());
        system->addConstraint(1, 2, 0.15);
        addForce(*system, {0, 1, 2, 3}, 3, true);
        BoltzmannGeneratorIntegrator integrator(1.0, 0.001);
        // The force itself refuses constraints on modelled particles, whatever the integrator.
        ::expectOpenMMException([&] { Context context(*system, integrator, *platform); }, "BoltzmannGeneratorForce", "involves a modelled particle");
    }
    {
        unique_ptr<System> system(makeChain4());
        system->addParticle(12.0);
        system->addParticle(12.0);
        system->addConstraint(4, 5, 0.1);   // between particles the flow does not model
        addForce(*system, {0, 1, 2, 3}, 3, true);
        BoltzmannGeneratorIntegrator integrator(1.0, 0.001);
        expectOpenMMException([&] { Context context(*system, integrator, *platform); }, "does not support constraints");
    }
    {
        unique_ptr<System> system(makeChain4());
        system->addParticle(0.0);
        system->setVirtualSite(4, new TwoParticleAverageSite(0, 1, 0.5, 0.5));
        addForce(*system, {0, 1, 2, 4}, 3, true);
        BoltzmannGeneratorIntegrator integrator(1.0, 0.001);
        ::expectOpenMMException([&] { Context context(*system, integrator, *platform); }, "BoltzmannGeneratorForce", "virtual site");
    }
    {
        unique_ptr<System> system(makeChain4());
        addForce(*system, {0, 1}, 3, true);
        addForce(*system, {2, 3}, 3, true);
        BoltzmannGeneratorIntegrator integrator(1.0, 0.001);
        expectOpenMMException([&] { Context context(*system, integrator, *platform); }, "more than one");
    }
}

TEST_P(IntegratorOnPlatform, LangevinDynamicsReachesTheTemperature) {
    unique_ptr<System> system(makeChain4());
    addForce(*system, {0, 1, 2, 3}, 3, true);
    BoltzmannGeneratorIntegrator integrator(5.0, 0.002);
    integrator.setRandomNumberSeed(5);
    Context context(*system, integrator, *platform);
    context.setPositions(chain4Positions());
    context.setVelocitiesToTemperature(300.0, 1);
    integrator.step(500);
    double kinetic = 0.0;
    const int samples = 3000;
    for (int i = 0; i < samples; i++) {
        integrator.step(1);
        kinetic += context.getState(State::Energy).getKineticEnergy();
    }
    kinetic /= samples;
    // Equipartition: 4 particles, 12 degrees of freedom, <K> = 6 kT.
    EXPECT_NEAR(kinetic / (6.0 * testBoltzmann * 300.0), 1.0, 0.08);
    EXPECT_EQ(integrator.getStepCount(), 3500);
    EXPECT_NEAR(context.getState(0).getTime(), 3500 * 0.002, 1e-9);
}

namespace {

/** Distances r of a chain of `steps` flow moves (every 4th after 200), for a pair with a double-well distance potential. */
vector<double> flowMoveChain(Context& context, BoltzmannGeneratorIntegrator& integrator, int steps) {
    context.setPositions({Vec3(0, 0, 0), Vec3(2.0, 0, 0)});
    vector<double> chain;
    for (int i = 0; i < steps; i++) {
        integrator.step(1);
        if (i >= 200 && i % 4 == 0)
            chain.push_back(distance(context.getState(State::Positions).getPositions()));
    }
    return chain;
}

const vector<double> doubleWellEdges = {0.0, 1.2, 1.4, 1.6, 1.75, 1.9, 2.05, 2.2, 2.35, 2.5, 2.7, 6.0};

} // namespace

TEST_P(IntegratorOnPlatform, FlowMovesSampleTheBoltzmannDistributionExactly) {
    // A pair with a double-well distance potential; the flow is the identity (a broad Gaussian), so
    // its raw samples are far from the target, and the time step is so small that the dynamics
    // barely move: the distribution of r comes from the flow moves alone.
    const double c = 0.25, r0 = 2.0;
    unique_ptr<System> system(makeDoubleWellPair(300.0, c, r0));
    BoltzmannGeneratorForce* force = addForce(*system, {0, 1}, 3, true);
    BoltzmannGeneratorIntegrator integrator(1.0, 1e-7);
    integrator.setFlowMoveInterval(1);
    integrator.setProposalBatchSize(64);
    integrator.setRandomNumberSeed(3);
    Context context(*system, integrator, *platform);
    vector<double> chain = flowMoveChain(context, integrator, 6000);
    const vector<double>& edges = doubleWellEdges;
    vector<double> p = referenceBinProbabilities(edges, c, r0);
    const double chi2 = chiSquared(chain, edges, p);
    // 10 degrees of freedom: chi2 < 35 has a p-value of about 1e-4 for independent samples.
    EXPECT_LT(chi2, 35.0) << "acceptance " << integrator.getAcceptanceRate() << ", " << chain.size() << " samples";
    EXPECT_GT(integrator.getAcceptanceRate(), 0.05);
    EXPECT_LT(integrator.getAcceptanceRate(), 0.9);
    EXPECT_GT(integrator.getRunningEss(), 0.0);
    EXPECT_LE(integrator.getRunningEss(), 1.0);
    EXPECT_EQ(integrator.getNumFlowMoves(), 6000);

    // The raw flow samples fail the same test by far: the chain's agreement is the MH correction.
    BoltzmannGeneratorSamples raw = force->sample(context, 1500);
    vector<double> rawR;
    for (int i = 0; i < raw.numSamples; i++)
        rawR.push_back(distance({raw.positions[2 * i], raw.positions[2 * i + 1]}));
    EXPECT_GT(chiSquared(rawR, edges, p), 200.0);
}

TEST_P(IntegratorOnPlatform, FlowMovesWithSeveralWeightDrawsSampleExactly) {
    // As above with a flow that is not the identity, so its q(a|x) differs from pi(a|x), and weights
    // over 4 augmented draws (the current state's all fresh, the proposal's with its own a): the
    // chain still has the target's distribution of r.
    const double c = 0.25, r0 = 2.0;
    unique_ptr<System> system(makeDoubleWellPair(300.0, c, r0));
    addForce(*system, {0, 1}, 3, false);
    BoltzmannGeneratorIntegrator integrator(1.0, 1e-7);
    integrator.setFlowMoveInterval(1);
    integrator.setProposalBatchSize(64);
    integrator.setRandomNumberSeed(5);
    integrator.setWeightDraws(4);
    Context context(*system, integrator, *platform);
    vector<double> chain = flowMoveChain(context, integrator, 6000);
    const double chi2 = chiSquared(chain, doubleWellEdges, referenceBinProbabilities(doubleWellEdges, c, r0));
    EXPECT_LT(chi2, 35.0) << "acceptance " << integrator.getAcceptanceRate() << ", " << chain.size() << " samples";
    EXPECT_GT(integrator.getAcceptanceRate(), 0.05);
    EXPECT_EQ(integrator.getNumFlowMoves(), 6000);
}

TEST_P(IntegratorOnPlatform, FlowMovesKeepTheHandednessOfTheChiralCentres) {
    // Four particles held loosely together (springs of 1 kJ/mol/nm^2 between all pairs), the identity
    // flow: its proposals have either sign of the improper 0-1-2-3 and are often accepted, and the
    // tiny time step leaves the moves alone to change the configuration. With the improper listed in
    // fab.chiralCentres no step changes its sign; without, many do.
    auto improper = [](const vector<Vec3>& p) {   // the sign of the dihedral 0-1-2-3
        const Vec3 b1 = p[1] - p[0], b2 = p[2] - p[1], b3 = p[3] - p[2];
        return b1.dot(b2.cross(b3)) < 0;
    };
    for (bool kept : {true, false}) {
        System system;
        CustomBondForce* springs = new CustomBondForce("0.5*r^2");
        for (int i = 0; i < 4; i++) {
            system.addParticle(12.0);
            for (int j = 0; j < i; j++)
                springs->addBond(j, i);
        }
        system.addForce(springs);
        BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce({0, 1, 2, 3}, 300.0);
        force->setFlow(tinyFlowConfig(4, 3, true));
        force->setRandomNumberSeed(11);
        force->setTrainingSettings(string("{\"fab\": {\"chiralCentres\": ") + (kept ? "[[0, 1, 2, 3]]" : "[]") + "}}");
        system.addForce(force);
        BoltzmannGeneratorIntegrator integrator(1.0, 1e-7);
        integrator.setFlowMoveInterval(1);
        integrator.setProposalBatchSize(64);
        integrator.setRandomNumberSeed(3);
        Context context(system, integrator, *platform);
        context.setPositions({Vec3(1, 0, 0), Vec3(0, 0, 0), Vec3(0, 1, 0), Vec3(0, 0, 1)});   // the improper is negative
        bool sign = improper(context.getState(State::Positions).getPositions());
        ASSERT_TRUE(sign);
        int flips = 0;
        for (int i = 0; i < 200; i++) {
            integrator.step(1);
            const bool now = improper(context.getState(State::Positions).getPositions());
            flips += now != sign;
            sign = now;
        }
        EXPECT_GT(integrator.getAcceptanceRate(), 0.05) << (kept ? "kept" : "free");
        if (kept)
            EXPECT_EQ(flips, 0);
        else
            EXPECT_GT(flips, 5);
    }
    // A centre outside the modelled particles is refused when the Context is made.
    System system;
    for (int i = 0; i < 4; i++)
        system.addParticle(12.0);
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce({0, 1, 2, 3}, 300.0);
    force->setFlow(tinyFlowConfig(4, 3, true));
    force->setTrainingSettings("{\"fab\": {\"chiralCentres\": [[0, 1, 2, 4]]}}");
    system.addForce(force);
    BoltzmannGeneratorIntegrator integrator(1.0, 0.001);
    ::expectOpenMMException([&] { Context context(system, integrator, *platform); }, "BoltzmannGeneratorForce", "names particle 4");
}

TEST_P(IntegratorOnPlatform, PlanarSystemsStayInThePlane) {
    unique_ptr<System> system(makeChain4());
    addForce(*system, {0, 1, 2, 3}, 2, false);
    BoltzmannGeneratorIntegrator integrator(1.0, 0.002);
    integrator.setFlowMoveInterval(2);
    integrator.setRandomNumberSeed(9);
    Context context(*system, integrator, *platform);
    vector<Vec3> positions = chain4Positions();
    for (Vec3& p : positions)
        p[2] = 0.0;
    context.setPositions(positions);
    context.setVelocitiesToTemperature(300.0, 2);
    integrator.step(40);
    State state = context.getState(State::Positions | State::Velocities);
    for (int i = 0; i < 4; i++) {
        EXPECT_EQ(state.getPositions()[i][2], 0.0);
        EXPECT_EQ(state.getVelocities()[i][2], 0.0);
    }
    EXPECT_EQ(integrator.getNumFlowMoves(), 20);
}

TEST_P(IntegratorOnPlatform, TrainsInsideStepAndCheckpointsContinueIdentically) {
    unique_ptr<System> system(makeChain4());
    addForce(*system, {0, 1, 2, 3}, 3, false);
    BoltzmannGeneratorIntegrator integrator(2.0, 0.002);
    integrator.setFlowMoveInterval(2);
    integrator.setTrainingInterval(5);
    integrator.setProposalBatchSize(4);
    integrator.setRandomNumberSeed(21);
    integrator.setWeightDraws(3);   // the proposal cache then holds densities over 3 augmented draws
    Context context(*system, integrator, *platform);
    context.setPositions(chain4Positions());
    context.setVelocitiesToTemperature(300.0, 4);
    integrator.step(10);
    EXPECT_EQ(integrator.getNumTrainingIterations(), 2);
    EXPECT_TRUE(isfinite(integrator.getLastLoss()));

    stringstream checkpoint;
    context.createCheckpoint(checkpoint);
    integrator.step(12);
    State first = context.getState(State::Positions | State::Velocities);
    const long long moves = integrator.getNumFlowMoves(), accepted = integrator.getNumAcceptedFlowMoves();
    const double loss = integrator.getLastLoss(), ess = integrator.getRunningEss();
    EXPECT_EQ(integrator.getNumTrainingIterations(), 4);

    context.loadCheckpoint(checkpoint);
    EXPECT_EQ(integrator.getNumTrainingIterations(), 2);
    EXPECT_EQ(integrator.getStepCount(), 10);
    integrator.step(12);
    State second = context.getState(State::Positions | State::Velocities);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++) {
            EXPECT_EQ(second.getPositions()[i][k], first.getPositions()[i][k]);
            EXPECT_EQ(second.getVelocities()[i][k], first.getVelocities()[i][k]);
        }
    EXPECT_EQ(integrator.getNumFlowMoves(), moves);
    EXPECT_EQ(integrator.getNumAcceptedFlowMoves(), accepted);
    EXPECT_EQ(integrator.getLastLoss(), loss);
    EXPECT_EQ(integrator.getRunningEss(), ess);

    // Reinitialising the Context (preserving its state, i.e. through a checkpoint) rebinds the
    // integrator and keeps its counters and the flow's training state.
    context.reinitialize(true);
    EXPECT_EQ(integrator.getStepCount(), 22);
    EXPECT_EQ(integrator.getNumTrainingIterations(), 4);
    integrator.step(5);
    EXPECT_EQ(integrator.getNumTrainingIterations(), 5);
}

TEST_P(IntegratorOnPlatform, AFailedCheckpointLoadChangesNothing) {
    // Two identical runs; one is offered a checkpoint whose last block is corrupted. The load is
    // refused before any of the integrator's blocks is applied (OpenMM has already restored the
    // Context's own positions and velocities by then, so the test puts them back), so both runs
    // continue bitwise alike.
    auto makeRun = [&](unique_ptr<System>& system, unique_ptr<BoltzmannGeneratorIntegrator>& integrator, unique_ptr<Context>& context) {
        system.reset(makeChain4());
        addForce(*system, {0, 1, 2, 3}, 3, false);
        integrator.reset(new BoltzmannGeneratorIntegrator(2.0, 0.002));
        integrator->setFlowMoveInterval(2);
        integrator->setTrainingInterval(5);
        integrator->setProposalBatchSize(4);
        integrator->setRandomNumberSeed(21);
        context.reset(new Context(*system, *integrator, *platform));
        context->setPositions(chain4Positions());
        context->setVelocitiesToTemperature(300.0, 4);
        integrator->step(10);
    };
    unique_ptr<System> systemA, systemB;
    unique_ptr<BoltzmannGeneratorIntegrator> integratorA, integratorB;
    unique_ptr<Context> contextA, contextB;
    makeRun(systemA, integratorA, contextA);
    makeRun(systemB, integratorB, contextB);
    stringstream checkpoint;
    contextA->createCheckpoint(checkpoint);
    integratorA->step(3);   // so the checkpoint's state differs from the current one
    integratorB->step(3);
    string bytes = checkpoint.str();
    bytes[bytes.size() - 20] ^= 0x10;   // inside the last block (the flow-move proposals)
    stringstream corrupted(bytes);
    const State before = contextA->getState(State::Positions | State::Velocities | State::Parameters);
    ::expectOpenMMException([&] { contextA->loadCheckpoint(corrupted); }, "BoltzmannGeneratorIntegrator", "corrupted");
    contextA->setState(before);
    EXPECT_EQ(integratorA->getStepCount(), 13);
    integratorA->step(7);
    integratorB->step(7);
    State a = contextA->getState(State::Positions | State::Velocities), b = contextB->getState(State::Positions | State::Velocities);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++) {
            EXPECT_EQ(a.getPositions()[i][k], b.getPositions()[i][k]);
            EXPECT_EQ(a.getVelocities()[i][k], b.getVelocities()[i][k]);
        }
    EXPECT_EQ(integratorA->getLastLoss(), integratorB->getLastLoss());
}

INSTANTIATE_TEST_SUITE_P(Platforms, IntegratorOnPlatform, ::testing::ValuesIn(sharedTestPlatforms()), platformTestName);
