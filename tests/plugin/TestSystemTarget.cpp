// SystemTarget: reduced energies and forces of a batch evaluated by OpenMM (every platform of
// sharedTestPlatforms()), compared with a plain Context evaluated one configuration at a time.

#include "BoltzmannGeneratorForce.h"
#include "PluginTestEnvironment.h"
#include "SystemTarget.h"
#include "bg/Target.h"
#include "openmm/Context.h"
#include "openmm/CustomBondForce.h"
#include "openmm/Force.h"
#include "openmm/GBSAOBCForce.h"
#include "openmm/HarmonicAngleForce.h"
#include "openmm/HarmonicBondForce.h"
#include "openmm/NonbondedForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/State.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"
#include "openmm/internal/CustomCPPForceImpl.h"
#include "openmm/serialization/SerializationNode.h"
#include "openmm/serialization/SerializationProxy.h"
#include "openmm/serialization/XmlSerializer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

// kJ/(mol K): the rounded value of the design notes, and OpenMM's BOLTZ = kB*NA/1000 with the exact
// SI constants (0.00831446261815324); they differ by 2.2e-9 relative.
const double BoltzLiteral = 0.0083144626;
const double BoltzExact = 1.380649e-23 * 6.02214076e23 / 1000.0;
const double Inf = numeric_limits<double>::infinity();

template <class F>
void expectOpenMMException(F f, const string& fragment) {
    ::expectOpenMMException(f, "SystemTarget", fragment);
}

// Five particles: harmonic bonds, a Morse-like CustomBondForce and an angle, so energies and forces
// depend on every coordinate of every particle.
System makeSystem() {
    System system;
    const double masses[] = {12.0, 1.0, 14.0, 16.0, 1.0};
    for (double m : masses)
        system.addParticle(m);
    HarmonicBondForce* bonds = new HarmonicBondForce();
    bonds->addBond(0, 1, 0.15, 1000.0);
    bonds->addBond(1, 2, 0.14, 800.0);
    bonds->addBond(2, 3, 0.13, 1200.0);
    bonds->addBond(3, 4, 0.10, 900.0);
    system.addForce(bonds);
    CustomBondForce* morse = new CustomBondForce("d*(1-exp(-a*(r-r0)))^2");
    morse->addPerBondParameter("d");
    morse->addPerBondParameter("a");
    morse->addPerBondParameter("r0");
    morse->addBond(0, 2, {50.0, 8.0, 0.25});
    morse->addBond(1, 3, {40.0, 9.0, 0.24});
    morse->addBond(2, 4, {30.0, 7.0, 0.22});
    morse->addBond(0, 4, {20.0, 5.0, 0.35});
    system.addForce(morse);
    HarmonicAngleForce* angles = new HarmonicAngleForce();
    angles->addAngle(0, 1, 2, 1.9, 300.0);
    system.addForce(angles);
    return system;
}

// The same System with a BoltzmannGeneratorForce whose particle index is out of range: any
// Context that still contains it fails to be created, so a working SystemTarget proves removal.
System makeSystemWithBgForce() {
    System system = makeSystem();
    system.addForce(new BoltzmannGeneratorForce({100}, 300.0));
    return system;
}

vector<Vec3> basePositions() {
    return {Vec3(0.0, 0.0, 0.02), Vec3(0.15, 0.01, -0.01), Vec3(0.20, 0.14, 0.03), Vec3(0.33, 0.17, -0.04),
            Vec3(0.36, 0.26, 0.05)};
}

// x [B, N, D] around basePositions (modelled particles in the given order); row b has noise of
// standard deviation (b+1)*sigma, so energies spread over a wide range.
torch::Tensor makeBatch(int batch, const vector<int>& particles, int dim, double sigma, unsigned seed) {
    mt19937 rng(seed);
    normal_distribution<double> normal(0.0, 1.0);
    vector<Vec3> base = basePositions();
    torch::Tensor x = torch::empty({batch, (long) particles.size(), dim}, torch::kFloat64);
    auto a = x.accessor<double, 3>();
    for (int b = 0; b < batch; b++)
        for (size_t i = 0; i < particles.size(); i++)
            for (int d = 0; d < dim; d++)
                a[b][i][d] = base[particles[i]][d] + (b + 1) * sigma * normal(rng);
    return x;
}

// A plain Context on the same platform, evaluated one configuration at a time. It owns a copy of
// the System (a Context keeps a reference to its System).
class PlainEvaluator {
public:
    PlainEvaluator(const System& system, const string& platform)
            : system(XmlSerializer::clone<System>(system)), integrator(0.001),
              context(*this->system, integrator, Platform::getPlatformByName(platform)) {
    }
    // Energy (kJ/mol) and forces (kJ/mol/nm) of all particles at the given positions.
    pair<double, vector<Vec3>> evaluate(const vector<Vec3>& positions) {
        context.setPositions(positions);
        State state = context.getState(State::Energy | State::Forces);
        return {state.getPotentialEnergy(), state.getForces()};
    }
    // Full positions with the modelled particles taken from row b of x (z = 0 when D = 2).
    static vector<Vec3> fill(const torch::Tensor& x, int b, const vector<int>& particles, vector<Vec3> held) {
        auto a = x.accessor<double, 3>();
        for (size_t i = 0; i < particles.size(); i++)
            held[particles[i]] = Vec3(a[b][i][0], a[b][i][1], x.size(2) == 3 ? a[b][i][2] : 0.0);
        return held;
    }

private:
    unique_ptr<System> system;
    VerletIntegrator integrator;
    Context context;
};

// Check one row of an evaluation against the plain Context (energy relative, forces relative to
// the row's largest force component).
void expectRowMatches(const bg::EnergyEvaluation& e, int b, const pair<double, vector<Vec3>>& plain,
                      const vector<int>& particles, double kT, int dim, double tolerance) {
    const double u = plain.first / kT;
    ASSERT_TRUE(e.valid[b].item<bool>()) << "row " << b;
    EXPECT_NEAR(e.energy[b].item<double>(), u, tolerance * max(fabs(u), 1e-3)) << "row " << b;
    if (!e.forces.defined())
        return;
    double scale = 0.0;
    for (int p : particles)
        for (int d = 0; d < dim; d++)
            scale = max(scale, fabs(plain.second[p][d] / kT));
    auto f = e.forces.accessor<double, 3>();
    for (size_t i = 0; i < particles.size(); i++)
        for (int d = 0; d < dim; d++)
            EXPECT_NEAR(f[b][i][d], plain.second[particles[i]][d] / kT, tolerance * scale) << "row " << b << " particle " << i;
}

void expectInvalidRow(const bg::EnergyEvaluation& e, int b) {
    EXPECT_FALSE(e.valid[b].item<bool>()) << "row " << b;
    EXPECT_EQ(e.energy[b].item<double>(), Inf) << "row " << b;
    if (e.forces.defined())
        EXPECT_EQ(e.forces[b].abs().max().item<double>(), 0.0) << "row " << b;
}

// A force that makes OpenMM throw for some finite configurations: E = k/2 |r0|^2 for particle 0,
// and an OpenMMException whenever particle 0's x coordinate exceeds a threshold.
class ThrowingForce : public Force {
public:
    explicit ThrowingForce(double threshold) : threshold(threshold) {
    }
    double getThreshold() const {
        return threshold;
    }
    bool usesPeriodicBoundaryConditions() const override {
        return false;
    }

protected:
    ForceImpl* createImpl() const override;

private:
    double threshold;
};

class ThrowingForceImpl : public CustomCPPForceImpl {
public:
    explicit ThrowingForceImpl(const ThrowingForce& owner) : CustomCPPForceImpl(owner), owner(owner) {
    }
    double computeForce(ContextImpl& context, const vector<Vec3>& positions, vector<Vec3>& forces) override {
        if (positions[0][0] > owner.getThreshold())
            throw OpenMMException("ThrowingForce: deliberate failure");
        const double k = 100.0;
        forces[0] = positions[0] * (-k);
        return 0.5 * k * positions[0].dot(positions[0]);
    }
    const ThrowingForce& getOwner() const override {
        return owner;
    }

private:
    const ThrowingForce& owner;
};

ForceImpl* ThrowingForce::createImpl() const {
    return new ThrowingForceImpl(*this);
}

// SystemTarget copies the System through XmlSerializer, so the test force needs a proxy.
class ThrowingForceProxy : public SerializationProxy {
public:
    ThrowingForceProxy() : SerializationProxy("ThrowingForce") {
    }
    void serialize(const void* object, SerializationNode& node) const override {
        const ThrowingForce& force = *reinterpret_cast<const ThrowingForce*>(object);
        node.setIntProperty("version", 1);
        node.setIntProperty("forceGroup", force.getForceGroup());
        node.setDoubleProperty("threshold", force.getThreshold());
    }
    void* deserialize(const SerializationNode& node) const override {
        ThrowingForce* force = new ThrowingForce(node.getDoubleProperty("threshold"));
        force->setForceGroup(node.getIntProperty("forceGroup"));
        return force;
    }
};

void registerThrowingForceProxy() {
    static bool registered = [] {
        SerializationProxy::registerProxy(typeid(ThrowingForce), new ThrowingForceProxy());
        return true;
    }();
    (void) registered;
}

class SystemTargetOnPlatform : public PlatformTest {};

} // namespace

TEST_P(SystemTargetOnPlatform, RemovesBoltzmannGeneratorForces) {
    System system = makeSystemWithBgForce();
    // The force really would break a Context ...
    VerletIntegrator integrator(0.001);
    EXPECT_THROW(Context(system, integrator, *platform), OpenMMException);
    // ... but the target's inner System no longer contains it.
    SystemTarget target(system, 300.0, {0, 1, 2, 3, 4}, basePositions(), platformName, 2);
    EXPECT_EQ(target.getSystem().getNumForces(), system.getNumForces() - 1);
    for (int i = 0; i < target.getSystem().getNumForces(); i++)
        EXPECT_EQ(dynamic_cast<const BoltzmannGeneratorForce*>(&target.getSystem().getForce(i)), nullptr);
    EXPECT_EQ(system.getNumForces(), 4);   // the caller's System is untouched
    bg::EnergyEvaluation e = target.evaluate(makeBatch(3, {0, 1, 2, 3, 4}, 3, 0.01, 1), true);
    EXPECT_TRUE(e.valid.all().item<bool>());
}

TEST_P(SystemTargetOnPlatform, MatchesPlainContextInInputOrder) {
    const vector<int> particles = {3, 0, 4, 1, 2};
    const double temperature = 300.0;
    PlainEvaluator plain(makeSystem(), platformName);
    for (int workers : {1, 2, 3}) {
        SystemTarget target(makeSystemWithBgForce(), temperature, particles, basePositions(), platformName, workers);
        EXPECT_EQ(target.getNumWorkers(), workers);
        EXPECT_EQ(target.numParticles(), 5);
        EXPECT_EQ(target.dimension(), 3);
        for (int batch : {1, 5, 7, 11}) {
            SCOPED_TRACE("workers " + to_string(workers) + ", batch " + to_string(batch));
            torch::Tensor x = makeBatch(batch, particles, 3, 0.01, 10 + batch);
            bg::EnergyEvaluation e = target.evaluate(x, true);
            ASSERT_EQ(e.energy.sizes(), torch::IntArrayRef({batch}));
            ASSERT_EQ(e.forces.sizes(), torch::IntArrayRef({batch, 5, 3}));
            ASSERT_EQ(e.valid.sizes(), torch::IntArrayRef({batch}));
            EXPECT_EQ(e.energy.scalar_type(), torch::kFloat64);
            EXPECT_EQ(e.forces.scalar_type(), torch::kFloat64);
            EXPECT_EQ(e.valid.scalar_type(), torch::kBool);
            EXPECT_TRUE(e.energy.device().is_cpu());
            for (int b = 0; b < batch; b++)
                expectRowMatches(e, b, plain.evaluate(PlainEvaluator::fill(x, b, particles, basePositions())), particles,
                                 target.getKT(), 3, tolerance(1e-10));
            // Energies only: same energies, no forces.
            bg::EnergyEvaluation energyOnly = target.evaluate(x, false);
            EXPECT_FALSE(energyOnly.forces.defined());
            for (int b = 0; b < batch; b++)
                EXPECT_NEAR(energyOnly.energy[b].item<double>(), e.energy[b].item<double>(),
                            tolerance(1e-12) * fabs(e.energy[b].item<double>()));
        }
    }
}

TEST_P(SystemTargetOnPlatform, AcceptsAnyFloatingDtypeAndEmptyBatches) {
    const vector<int> particles = {0, 1, 2, 3, 4};
    SystemTarget target(makeSystem(), 300.0, particles, basePositions(), platformName, 2);
    torch::Tensor x = makeBatch(4, particles, 3, 0.01, 3).to(torch::kFloat32);
    bg::EnergyEvaluation e32 = target.evaluate(x, true);
    bg::EnergyEvaluation e64 = target.evaluate(x.to(torch::kFloat64), true);
    EXPECT_EQ(e32.energy.scalar_type(), torch::kFloat64);
    EXPECT_TRUE(torch::equal(e32.energy, e64.energy));
    bg::EnergyEvaluation empty = target.evaluate(torch::zeros({0, 5, 3}), true);
    EXPECT_EQ(empty.energy.numel(), 0);
    EXPECT_EQ(empty.forces.sizes(), torch::IntArrayRef({0, 5, 3}));
}

TEST_P(SystemTargetOnPlatform, ReducedUnits) {
    const vector<int> particles = {0, 1, 2, 3, 4};
    PlainEvaluator plain(makeSystem(), platformName);
    torch::Tensor x = makeBatch(3, particles, 3, 0.02, 4);
    for (double temperature : {300.0, 800.0}) {
        SystemTarget target(makeSystem(), temperature, particles, basePositions(), platformName, 1);
        EXPECT_DOUBLE_EQ(target.getTemperature(), temperature);
        EXPECT_NEAR(target.getKT(), BoltzExact * temperature, 1e-15 * temperature);
        EXPECT_NEAR(target.getKT(), BoltzLiteral * temperature, 3e-9 * BoltzLiteral * temperature);
        bg::EnergyEvaluation e = target.evaluate(x, true);
        for (int b = 0; b < 3; b++) {
            pair<double, vector<Vec3>> p = plain.evaluate(PlainEvaluator::fill(x, b, particles, basePositions()));
            ASSERT_GT(fabs(p.first), 1.0);
            // Exactly U/(BOLTZ T) with OpenMM's BOLTZ, and within the rounding of the literal.
            const double u = p.first / (BoltzExact * temperature);
            EXPECT_NEAR(e.energy[b].item<double>(), u, tolerance(1e-12) * fabs(u));
            EXPECT_NEAR(e.energy[b].item<double>(), p.first / (BoltzLiteral * temperature), 3e-9 * fabs(u));
            for (int i = 0; i < 5; i++)
                for (int d = 0; d < 3; d++) {
                    const double f = p.second[particles[i]][d] / (BoltzExact * temperature);
                    EXPECT_NEAR(e.forces[b][i][d].item<double>(), f, tolerance(1e-12) * (fabs(f) + 1.0));
                }
        }
    }
}

TEST_P(SystemTargetOnPlatform, HoldsNonModelledParticles) {
    const vector<int> particles = {3, 1};
    vector<Vec3> held = basePositions();
    PlainEvaluator plain(makeSystem(), platformName);
    torch::Tensor x = makeBatch(5, particles, 3, 0.02, 5);
    SystemTarget target(makeSystem(), 300.0, particles, held, platformName, 2);
    EXPECT_EQ(target.numParticles(), 2);
    bg::EnergyEvaluation e = target.evaluate(x, true);
    ASSERT_EQ(e.forces.sizes(), torch::IntArrayRef({5, 2, 3}));
    for (int b = 0; b < 5; b++)
        expectRowMatches(e, b, plain.evaluate(PlainEvaluator::fill(x, b, particles, held)), particles, target.getKT(), 3, tolerance(1e-10));

    // Other held positions give other energies, equal to a full Context with those positions.
    vector<Vec3> moved = held;
    moved[0] += Vec3(0.03, -0.02, 0.01);
    moved[4] += Vec3(-0.02, 0.02, 0.04);
    SystemTarget movedTarget(makeSystem(), 300.0, particles, moved, platformName, 1);
    bg::EnergyEvaluation m = movedTarget.evaluate(x, true);
    for (int b = 0; b < 5; b++) {
        expectRowMatches(m, b, plain.evaluate(PlainEvaluator::fill(x, b, particles, moved)), particles, target.getKT(), 3, tolerance(1e-10));
        EXPECT_GT(fabs(m.energy[b].item<double>() - e.energy[b].item<double>()), 1e-3);
    }
    EXPECT_EQ(movedTarget.getPositions()[0][0], moved[0][0]);
    EXPECT_EQ(movedTarget.getParticles(), particles);
}

TEST_P(SystemTargetOnPlatform, PlanarSystems) {
    // Held particles are off the plane; only the modelled ones are put at z = 0.
    for (vector<int> particles : {vector<int>{0, 1, 2, 3, 4}, vector<int>{4, 2, 0}}) {
        PlainEvaluator plain(makeSystem(), platformName);
        for (int workers : {1, 2}) {
            SystemTarget target(makeSystem(), 300.0, particles, basePositions(), platformName, workers, 2);
            EXPECT_EQ(target.dimension(), 2);
            torch::Tensor x = makeBatch(5, particles, 2, 0.01, 6);
            bg::EnergyEvaluation e = target.evaluate(x, true);
            ASSERT_EQ(e.forces.sizes(), torch::IntArrayRef({5, (long) particles.size(), 2}));
            for (int b = 0; b < 5; b++) {
                vector<Vec3> full = PlainEvaluator::fill(x, b, particles, basePositions());
                for (int p : particles)
                    EXPECT_EQ(full[p][2], 0.0);
                pair<double, vector<Vec3>> reference = plain.evaluate(full);
                expectRowMatches(e, b, reference, particles, target.getKT(), 2, tolerance(1e-10));
                // With off-plane held particles, the dropped z components are not zero.
                if (particles.size() < 5) {
                    double zForce = 0.0;
                    for (int p : particles)
                        zForce = max(zForce, fabs(reference.second[p][2]));
                    EXPECT_GT(zForce, 1e-3);
                }
            }
            // A 3-component x is rejected in 2-D.
            expectOpenMMException([&] { target.evaluate(makeBatch(2, particles, 3, 0.01, 1), true); }, "shape");
        }
    }
}

TEST_P(SystemTargetOnPlatform, NonFiniteRowsAreInvalidAndIsolated) {
    const vector<int> particles = {0, 1, 2, 3, 4};
    PlainEvaluator plain(makeSystem(), platformName);
    for (int workers : {1, 2, 3}) {
        SystemTarget target(makeSystem(), 300.0, particles, basePositions(), platformName, workers);
        torch::Tensor x = makeBatch(8, particles, 3, 0.01, 7);
        x[1][2][0] = NAN;
        x[4][0][2] = Inf;
        x[5][4][1] = -Inf;
        x[7].fill_(NAN);
        for (bool forces : {true, false}) {
            bg::EnergyEvaluation e = target.evaluate(x, forces);
            for (int b : {1, 4, 5, 7})
                expectInvalidRow(e, b);
            for (int b : {0, 2, 3, 6})
                expectRowMatches(e, b, plain.evaluate(PlainEvaluator::fill(x, b, particles, basePositions())), particles,
                                 target.getKT(), 3, tolerance(1e-10));
        }
    }
}

TEST_P(SystemTargetOnPlatform, OpenMMFailuresAreInvalidAndWorkersSurvive) {
    registerThrowingForceProxy();
    // NaN energy through a force expression (sqrt of a negative number when r(0,1) < 0.12) and an
    // exception from a force's computation (particle 0 beyond x = 0.05).
    System system = makeSystem();
    CustomBondForce* root = new CustomBondForce("sqrt(r-0.12)");
    root->addBond(0, 1);
    system.addForce(root);
    system.addForce(new ThrowingForce(0.05));
    const vector<int> particles = {0, 1, 2, 3, 4};
    PlainEvaluator plain(system, platformName);
    for (int workers : {1, 2, 3}) {
        SCOPED_TRACE("workers " + to_string(workers));
        SystemTarget target(system, 300.0, particles, basePositions(), platformName, workers);
        torch::Tensor x = makeBatch(9, particles, 3, 0.002, 8);
        x[2][0][0] = 0.2;    // throws
        x[3][1] = x[3][0] + torch::tensor({0.05, 0.0, 0.0}, torch::kFloat64);   // NaN energy
        x[6][0][0] = 1.0;    // throws
        x[8][0][0] = 0.3;    // throws (last row of the last chunk)
        // The plain Context really fails on those rows.
        EXPECT_THROW(plain.evaluate(PlainEvaluator::fill(x, 2, particles, basePositions())), OpenMMException);
        EXPECT_TRUE(std::isnan(plain.evaluate(PlainEvaluator::fill(x, 3, particles, basePositions())).first));
        for (int repeat = 0; repeat < 2; repeat++) {
            for (bool forces : {true, false}) {
                bg::EnergyEvaluation e = target.evaluate(x, forces);
                for (int b : {2, 3, 6, 8})
                    expectInvalidRow(e, b);
                for (int b : {0, 1, 4, 5, 7})
                    expectRowMatches(e, b, plain.evaluate(PlainEvaluator::fill(x, b, particles, basePositions())),
                                     particles, target.getKT(), 3, tolerance(1e-10));
            }
        }
    }
}

TEST_P(SystemTargetOnPlatform, EnergyRegularisation) {
    const vector<int> particles = {0, 1, 2, 3, 4};
    SystemTarget raw(makeSystem(), 300.0, particles, basePositions(), platformName, 1);
    SystemTarget target(makeSystem(), 300.0, particles, basePositions(), platformName, 2);
    const int batch = 8;
    torch::Tensor x = makeBatch(batch, particles, 3, 0.01, 9);
    x[5][1][0] = NAN;
    bg::EnergyEvaluation r = raw.evaluate(x, true);

    // Threshold in the middle of the valid energies; cap just below the largest smoothed energy.
    vector<double> energies;
    for (int b = 0; b < batch; b++)
        if (r.valid[b].item<bool>())
            energies.push_back(r.energy[b].item<double>());
    sort(energies.begin(), energies.end());
    ASSERT_GT(energies.back() - energies.front(), 10.0) << "the batch needs a spread of energies";
    bg::EnergyRegularisation regularisation;
    regularisation.linearUntil = 0.5 * (energies[2] + energies[3]);
    const double h = regularisation.linearUntil;
    const double topSmoothed = h + log1p(energies.back() - h);
    const double secondSmoothed = h + log1p(energies[energies.size() - 2] - h);
    regularisation.cap = 0.5 * (topSmoothed + secondSmoothed);
    ASSERT_LT(secondSmoothed, regularisation.cap);
    target.setEnergyRegularisation(regularisation);
    EXPECT_EQ(target.getEnergyRegularisation().linearUntil, h);
    bg::EnergyEvaluation e = target.evaluate(x, true);

    int below = 0, above = 0, capped = 0;
    for (int b = 0; b < batch; b++) {
        const double u = r.energy[b].item<double>();
        if (!r.valid[b].item<bool>()) {
            expectInvalidRow(e, b);
            continue;
        }
        double expected, slope;
        if (u <= h) {
            expected = u, slope = 1.0, below++;
        }
        else {
            expected = h + log(1.0 + u - h), slope = 1.0 / (1.0 + u - h), above++;
        }
        if (expected > regularisation.cap) {
            expected = regularisation.cap, slope = 0.0, capped++;
        }
        EXPECT_TRUE(e.valid[b].item<bool>());
        EXPECT_NEAR(e.energy[b].item<double>(), expected, tolerance(1e-12) * fabs(expected)) << "row " << b;
        EXPECT_LE(e.energy[b].item<double>(), regularisation.cap);
        EXPECT_TRUE(torch::allclose(e.forces[b], r.forces[b] * slope, tolerance(1e-12), tolerance(1e-14))) << "row " << b;
    }
    EXPECT_GE(below, 2);
    EXPECT_GE(above, 2);
    EXPECT_EQ(capped, 1);

    // The regularised forces are minus the derivative of the regularised energy (central
    // differences, every coordinate of one linear-region row and one logarithmic-region row).
    // In float arithmetic (CUDA single and mixed) the energy carries ~1e-7 relative rounding: a wider
    // step and a looser comparison keep the check meaningful there.
    const double eps = lowPrecision() ? 1e-3 : 1e-6;
    int checkedRows = 0;
    for (int b = 0; b < batch; b++) {
        if (!r.valid[b].item<bool>())
            continue;
        const double u = r.energy[b].item<double>();
        const bool linear = u <= h, logarithmic = u > h && e.energy[b].item<double>() < regularisation.cap;
        if (!linear && !logarithmic)
            continue;
        torch::Tensor plus = x[b].unsqueeze(0).repeat({15, 1, 1}), minus = plus.clone();
        for (int i = 0; i < 5; i++)
            for (int d = 0; d < 3; d++) {
                plus[3 * i + d][i][d] += eps;
                minus[3 * i + d][i][d] -= eps;
            }
        torch::Tensor difference = (target.evaluate(plus, false).energy - target.evaluate(minus, false).energy) / (2 * eps);
        torch::Tensor force = e.forces[b].reshape({15});
        const double scale = force.abs().max().item<double>();
        ASSERT_GT(scale, 0.1);
        EXPECT_TRUE(torch::allclose(-difference, force, 0.0, (lowPrecision() ? 2e-2 : 1e-6) * scale))
                << "row " << b << (linear ? " (linear)" : " (logarithmic)") << "\n"
                << -difference << "\n" << force;
        checkedRows++;
    }
    EXPECT_GE(checkedRows, 4);
}

TEST_P(SystemTargetOnPlatform, TargetLogProbGradientIsTheReducedForce) {
    const vector<int> particles = {2, 0, 1, 4, 3};
    SystemTarget target(makeSystem(), 300.0, particles, basePositions(), platformName, 2);
    torch::Tensor x = makeBatch(5, particles, 3, 0.01, 11);
    x[3][1][1] = NAN;
    bg::EnergyEvaluation e = target.evaluate(x, true);
    torch::Tensor xg = x.clone().requires_grad_(true);
    torch::Tensor logProb = bg::targetLogProb(target, xg);
    ASSERT_EQ(logProb.sizes(), torch::IntArrayRef({5}));
    EXPECT_EQ(logProb.scalar_type(), torch::kFloat64);
    // A weighted sum, so the test would notice a gradient that ignores the incoming gradient.
    torch::Tensor weights = torch::tensor({1.0, -2.0, 0.5, 3.0, 1.5}, torch::kFloat64);
    (logProb * weights).sum().backward();
    for (int b = 0; b < 5; b++) {
        if (b == 3) {
            EXPECT_EQ(logProb[b].item<double>(), -Inf);
            EXPECT_EQ(xg.grad()[b].abs().max().item<double>(), 0.0);
            continue;
        }
        EXPECT_EQ(logProb[b].item<double>(), -e.energy[b].item<double>());
        EXPECT_TRUE(torch::allclose(xg.grad()[b], weights[b] * e.forces[b], tolerance(1e-14), 0.0)) << "row " << b;
    }
    // Also in float32: gradient in the input's dtype.
    torch::Tensor x32 = x.to(torch::kFloat32).requires_grad_(true);
    bg::targetLogProb(target, x32).nan_to_num(0.0, 0.0, 0.0).sum().backward();
    EXPECT_EQ(x32.grad().scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::allclose(x32.grad()[0].to(torch::kFloat64), e.forces[0], 1e-4, 1e-3));
}

TEST_P(SystemTargetOnPlatform, RejectsBadInput) {
    System system = makeSystem();
    const vector<Vec3> positions = basePositions();
    expectOpenMMException([&] { SystemTarget(system, 300.0, {}, positions, platformName); }, "empty");
    expectOpenMMException([&] { SystemTarget(system, 300.0, {0, -1}, positions, platformName); }, "out of range");
    expectOpenMMException([&] { SystemTarget(system, 300.0, {0, 5}, positions, platformName); }, "out of range");
    expectOpenMMException([&] { SystemTarget(system, 300.0, {0, 2, 0}, positions, platformName); }, "more than once");
    expectOpenMMException([&] { SystemTarget(system, 0.0, {0, 1}, positions, platformName); }, "temperature");
    expectOpenMMException([&] { SystemTarget(system, -300.0, {0, 1}, positions, platformName); }, "temperature");
    expectOpenMMException([&] { SystemTarget(system, NAN, {0, 1}, positions, platformName); }, "temperature");
    expectOpenMMException([&] { SystemTarget(system, Inf, {0, 1}, positions, platformName); }, "temperature");
    vector<Vec3> shorter(positions.begin(), positions.end() - 1);
    expectOpenMMException([&] { SystemTarget(system, 300.0, {0, 1}, shorter, platformName); }, "positions");
    vector<Vec3> nonFinite = positions;
    nonFinite[4][1] = NAN;
    expectOpenMMException([&] { SystemTarget(system, 300.0, {0, 1}, nonFinite, platformName); }, "not finite");
    expectOpenMMException([&] { SystemTarget(system, 300.0, {0, 1}, positions, "NoSuchPlatform"); }, "unknown platform");
    expectOpenMMException([&] { SystemTarget(system, 300.0, {0, 1}, positions, platformName, 1, 4); }, "dimension");
    expectOpenMMException([&] { SystemTarget(system, 300.0, {0, 1}, positions, platformName, 1, 1); }, "dimension");
    expectOpenMMException([&] { SystemTarget(system, 300.0, {0, 1}, positions, platformName, -1); }, "workers");
    expectOpenMMException([&] { SystemTarget(system, 300.0, {0, 1}, positions, platformName, 2, 3, {{"NoSuchProperty", "1"}}); },
                          "Context");

    for (int workers : {1, 2}) {
        SystemTarget target(system, 300.0, {0, 1}, positions, platformName, workers);
        expectOpenMMException([&] { target.evaluate(torch::zeros({2, 3}, torch::kFloat64), true); }, "shape");
        expectOpenMMException([&] { target.evaluate(torch::zeros({2, 3, 3}, torch::kFloat64), true); }, "shape");
        expectOpenMMException([&] { target.evaluate(torch::zeros({2, 2, 2}, torch::kFloat64), true); }, "shape");
        expectOpenMMException([&] { target.evaluate(torch::zeros({1, 2, 2, 3}, torch::kFloat64), true); }, "shape");
        expectOpenMMException([&] { target.evaluate(torch::Tensor(), true); }, "shape");
        expectOpenMMException([&] { target.evaluate(torch::zeros({2, 2, 3}, torch::kInt64), true); }, "floating-point");
        // Still usable afterwards.
        EXPECT_TRUE(target.evaluate(makeBatch(3, {0, 1}, 3, 0.01, 2), true).valid.all().item<bool>());
    }
}

TEST_P(SystemTargetOnPlatform, ZeroWorkersMeansOnePerCore) {
    SystemTarget target(makeSystem(), 300.0, {0, 1, 2}, basePositions(), platformName, 0);
    EXPECT_EQ(target.getNumWorkers(), (int) max(1u, thread::hardware_concurrency()));
    EXPECT_EQ(target.getPlatformName(), platformName);
    EXPECT_TRUE(target.evaluate(makeBatch(5, {0, 1, 2}, 3, 0.01, 12), true).valid.all().item<bool>());
}

TEST_P(SystemTargetOnPlatform, ConcurrentCallersAreSerialised) {
    const vector<int> particles = {0, 1, 2, 3, 4};
    SystemTarget target(makeSystem(), 300.0, particles, basePositions(), platformName, 2);
    torch::Tensor x = makeBatch(9, particles, 3, 0.01, 13);
    bg::EnergyEvaluation expected = target.evaluate(x, true);
    vector<bg::EnergyEvaluation> results(4);
    vector<thread> callers;
    for (int k = 0; k < 4; k++)
        callers.emplace_back([&, k] { results[k] = target.evaluate(x, true); });
    for (thread& t : callers)
        t.join();
    for (const bg::EnergyEvaluation& e : results) {
        EXPECT_TRUE(torch::equal(e.energy, expected.energy));
        EXPECT_TRUE(torch::equal(e.forces, expected.forces));
    }
}

TEST_P(SystemTargetOnPlatform, PinnedAndUnpinnedWorkersAgree) {
    const vector<int> particles = {0, 1, 2, 3, 4};
    torch::Tensor x = makeBatch(13, particles, 3, 0.01, 14);
    SystemTarget pinned(makeSystem(), 300.0, particles, basePositions(), platformName, 2, 3, {}, true);
    SystemTarget unpinned(makeSystem(), 300.0, particles, basePositions(), platformName, 2, 3, {}, false);
    bg::EnergyEvaluation a = pinned.evaluate(x, true), b = unpinned.evaluate(x, true);
    EXPECT_TRUE(torch::allclose(a.energy, b.energy, tolerance(1e-12), 0.0));
    EXPECT_TRUE(torch::allclose(a.forces, b.forces, tolerance(1e-12), tolerance(1e-12)));
}

// Contexts of several workers are created and destroyed together, which OpenMM's CPU platform
// does not allow concurrently (its per-Context bookkeeping is a process-wide map): SystemTarget
// serialises both. Unserialised, this test usually passes but sometimes aborts with heap
// corruption or hangs in CpuPlatform::contextDestroyed (the race needs two exact overlaps).
TEST_P(SystemTargetOnPlatform, CreatesAndDestroysWorkerContextsRepeatedly) {
    // 200 particles with the CPU platform's own nonbonded and implicit-solvent kernels (which keep
    // per-Context data), the first five modelled.
    System system = makeSystem();
    NonbondedForce* nonbonded = new NonbondedForce();
    GBSAOBCForce* gbsa = new GBSAOBCForce();
    vector<Vec3> positions = basePositions();
    for (int i = 0; i < 200; i++) {
        if (i >= 5) {
            system.addParticle(12.0);
            positions.push_back(Vec3(1.0 + 0.3 * (i % 6), 0.3 * ((i / 6) % 6), 0.3 * (i / 36)));
        }
        nonbonded->addParticle(i % 2 == 0 ? 0.2 : -0.2, 0.2, 0.3);
        gbsa->addParticle(i % 2 == 0 ? 0.2 : -0.2, 0.15, 0.8);
    }
    nonbonded->createExceptionsFromBonds({{0, 1}, {1, 2}, {2, 3}, {3, 4}}, 0.8333, 0.5);
    system.addForce(nonbonded);
    system.addForce(gbsa);
    const vector<int> particles = {0, 1, 2, 3, 4};
    torch::Tensor x = makeBatch(16, particles, 3, 0.01, 15);
    // A CUDA Context takes far longer to create: fewer rounds keep the test fast there.
    const int repeats = platformName == "CUDA" ? 6 : 100;
    for (int repeat = 0; repeat < repeats; repeat++) {
        SystemTarget target(system, 300.0, particles, positions, platformName, repeat % 3 == 2 ? 3 : 2);
        ASSERT_TRUE(target.evaluate(x, true).valid.all().item<bool>());
    }
}

INSTANTIATE_TEST_SUITE_P(Platforms, SystemTargetOnPlatform, ::testing::ValuesIn(sharedTestPlatforms()), platformTestName);
