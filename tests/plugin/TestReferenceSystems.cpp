// The reference problems (DW4, LJ13, alanine dipeptide) as OpenMM Systems: energies and forces from
// OpenMM on every platform of sharedTestPlatforms() against an independent implementation written
// here in plain loops (double precision), the reduced-unit convention, and the alanine dipeptide files.

#include "PluginTestEnvironment.h"
#include "ReferenceSystems.h"
#include "SimTKOpenMMRealType.h"
#include "openmm/Context.h"
#include "openmm/CustomGBForce.h"
#include "openmm/HarmonicAngleForce.h"
#include "openmm/HarmonicBondForce.h"
#include "openmm/NonbondedForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/PeriodicTorsionForce.h"
#include "openmm/Platform.h"
#include "openmm/State.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

// ---- the independent implementation (model-spec 9.1, 9.2), reduced units -------------------------

// kT at 300 K in kJ/mol from the exact SI constants (k_B in J/K times N_A, per 1000).
const double KelvinToKJPerMol = BOLTZ;   // OpenMM's Boltzmann constant, kJ/(mol K)
const double ReducedEnergyUnit = KelvinToKJPerMol * 300.0;

// DW4: a = 0, b = -4, c = 0.9, d0 = 4.
const double DwA = 0.0, DwB = -4.0, DwC = 0.9, DwD0 = 4.0;
// LJ13: eps = 1, r_m = 1, k_h = 0.5.
const double LjEpsilon = 1.0, LjRm = 1.0, LjKh = 0.5;

// Reduced energy E(x) and the reduced forces -dE/dx.
struct Reduced {
    double energy;
    vector<Vec3> forces;
};

Reduced doubleWellReduced(const vector<Vec3>& x) {
    Reduced result{0.0, vector<Vec3>(x.size())};
    for (size_t i = 0; i < x.size(); i++)
        for (size_t j = i + 1; j < x.size(); j++) {
            Vec3 delta = x[i] - x[j];
            double d = sqrt(delta.dot(delta));
            double s = d - DwD0;
            result.energy += DwA * s + DwB * s * s + DwC * s * s * s * s;
            double dEdd = DwA + 2.0 * DwB * s + 4.0 * DwC * s * s * s;
            result.forces[i] -= delta * (dEdd / d);
            result.forces[j] += delta * (dEdd / d);
        }
    return result;
}

Reduced lennardJonesReduced(const vector<Vec3>& x) {
    const size_t n = x.size();
    Reduced result{0.0, vector<Vec3>(n)};
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            if (i == j)
                continue;
            // Ordered pairs, halved, as in the reference implementation.
            Vec3 delta = x[i] - x[j];
            double d = sqrt(delta.dot(delta));
            double ratio = LjRm / d;
            result.energy += 0.5 * LjEpsilon * (pow(ratio, 12) - 2.0 * pow(ratio, 6));
            double dEdd = LjEpsilon * (-12.0 * pow(ratio, 12) + 12.0 * pow(ratio, 6)) / d;
            result.forces[i] -= delta * (dEdd / d);   // i's share; j's share comes from (j, i)
        }
    // The harmonic term about the explicit mean xbar; its gradient is 2 k_h (x_i - xbar) because
    // sum_k (x_k - xbar) = 0.
    Vec3 mean;
    for (const Vec3& p : x)
        mean += p;
    mean *= 1.0 / n;
    for (size_t i = 0; i < n; i++) {
        Vec3 offset = x[i] - mean;
        result.energy += LjKh * offset.dot(offset);
        result.forces[i] -= offset * (2.0 * LjKh);
    }
    return result;
}

// ---- configurations --------------------------------------------------------------------------------

// Four particles in the z = 0 plane, uniformly in [-4, 4]^2 nm.
vector<Vec3> randomPlanarConfiguration(mt19937& random) {
    uniform_real_distribution<double> coordinate(-4.0, 4.0);
    vector<Vec3> x(4);
    for (Vec3& p : x)
        p = Vec3(coordinate(random), coordinate(random), 0.0);
    return x;
}

// Thirteen particles in a cube of side 3 nm, every pair at least 0.8 nm apart (rejection sampling).
vector<Vec3> randomClusterConfiguration(mt19937& random) {
    uniform_real_distribution<double> coordinate(-1.5, 1.5);
    vector<Vec3> x;
    while (x.size() < 13) {
        Vec3 candidate(coordinate(random), coordinate(random), coordinate(random));
        bool farEnough = true;
        for (const Vec3& p : x) {
            Vec3 delta = candidate - p;
            farEnough &= sqrt(delta.dot(delta)) >= 0.8;
        }
        if (farEnough)
            x.push_back(candidate);
    }
    return x;
}

// ---- helpers --------------------------------------------------------------------------------------

struct Evaluation {
    double energy;          // kJ/mol
    vector<Vec3> forces;    // kJ/(mol nm)
};

Evaluation evaluate(const System& system, const vector<Vec3>& x, Platform& platform) {
    VerletIntegrator integrator(0.001);
    Context context(system, integrator, platform);
    context.setPositions(x);
    State state = context.getState(State::Energy | State::Forces);
    return {state.getPotentialEnergy(), state.getForces()};
}

double maxNorm(const vector<Vec3>& v) {
    double result = 0.0;
    for (const Vec3& p : v)
        result = max(result, sqrt(p.dot(p)));
    return result;
}

// Largest |a_i - b_i| over the particles, relative to the largest |b_i|.
double relativeForceError(const vector<Vec3>& a, const vector<Vec3>& b) {
    vector<Vec3> difference(a.size());
    for (size_t i = 0; i < a.size(); i++)
        difference[i] = a[i] - b[i];
    return maxNorm(difference) / maxNorm(b);
}

// OpenMM's energy and forces divided by kT_ref agree with the reduced ones to `tolerance`
// (relative; 1e-10 in double precision).
void expectMatchesReduced(const Evaluation& openmm, const Reduced& reduced, double tolerance) {
    EXPECT_NEAR(openmm.energy / ReducedEnergyUnit, reduced.energy, tolerance * fabs(reduced.energy));
    vector<Vec3> scaled(openmm.forces.size());
    for (size_t i = 0; i < scaled.size(); i++)
        scaled[i] = openmm.forces[i] / ReducedEnergyUnit;
    EXPECT_LT(relativeForceError(scaled, reduced.forces), tolerance);
}

// Central differences of a reduced energy, to check the analytic forces of this file.
void expectForcesAreMinusGradient(const function<Reduced(const vector<Vec3>&)>& energy, vector<Vec3> x) {
    Reduced analytic = energy(x);
    const double h = 1e-5;
    vector<Vec3> numeric(x.size());
    for (size_t i = 0; i < x.size(); i++)
        for (int k = 0; k < 3; k++) {
            double saved = x[i][k];
            x[i][k] = saved + h;
            double plus = energy(x).energy;
            x[i][k] = saved - h;
            double minus = energy(x).energy;
            x[i][k] = saved;
            numeric[i][k] = -(plus - minus) / (2.0 * h);
        }
    EXPECT_LT(relativeForceError(analytic.forces, numeric), 1e-6);
}


class ReferenceSystemsOnPlatform : public PlatformTest {};

} // namespace

// ---- conventions -----------------------------------------------------------------------------------

TEST(ReferenceSystems, ReducedUnitConvention) {
    EXPECT_EQ(referenceSystemTemperature(), 300.0);
    EXPECT_NEAR(referenceSystemEnergyUnit(), ReducedEnergyUnit, 1e-14 * ReducedEnergyUnit);
    EXPECT_NEAR(referenceSystemEnergyUnit(), 2.494338785445972, 1e-12);
    EXPECT_EQ(alanineDipeptideDefaultTemperature(), 800.0);
}

TEST(ReferenceSystems, IndependentForcesAreMinusTheGradient) {
    mt19937 random(11);
    for (int trial = 0; trial < 3; trial++) {
        expectForcesAreMinusGradient(doubleWellReduced, randomPlanarConfiguration(random));
        expectForcesAreMinusGradient(lennardJonesReduced, randomClusterConfiguration(random));
    }
}

TEST(ReferenceSystems, DoubleWellSystemLayout) {
    unique_ptr<System> system(createDoubleWell4System());
    ASSERT_EQ(system->getNumParticles(), 4);
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(system->getParticleMass(i), 1.0);
    EXPECT_EQ(system->getNumConstraints(), 0);
    EXPECT_FALSE(system->usesPeriodicBoundaryConditions());
}

TEST(ReferenceSystems, LennardJonesSystemLayout) {
    unique_ptr<System> system(createLennardJones13System());
    ASSERT_EQ(system->getNumParticles(), 13);
    for (int i = 0; i < 13; i++)
        EXPECT_EQ(system->getParticleMass(i), 1.0);
    EXPECT_EQ(system->getNumConstraints(), 0);
    EXPECT_FALSE(system->usesPeriodicBoundaryConditions());
}

// ---- DW4 and LJ13 against the independent implementation ----------------------------------------

TEST_P(ReferenceSystemsOnPlatform, DoubleWellMatchesIndependentImplementation) {
    unique_ptr<System> system(createDoubleWell4System());
    mt19937 random(2024);
    for (int trial = 0; trial < 8; trial++) {
        vector<Vec3> x = randomPlanarConfiguration(random);
        Evaluation result = evaluate(*system, x, *platform);
        expectMatchesReduced(result, doubleWellReduced(x), tolerance(1e-10));
        // A planar configuration has planar forces, so dynamics keeps z = 0.
        for (const Vec3& f : result.forces)
            EXPECT_EQ(f[2], 0.0);
    }
}

TEST_P(ReferenceSystemsOnPlatform, LennardJonesMatchesIndependentImplementation) {
    unique_ptr<System> system(createLennardJones13System());
    mt19937 random(7);
    for (int trial = 0; trial < 8; trial++) {
        vector<Vec3> x = randomClusterConfiguration(random);
        expectMatchesReduced(evaluate(*system, x, *platform), lennardJonesReduced(x), tolerance(1e-10));
    }
}

// The harmonic term is about the centre of all particles: translating the cluster changes nothing.
TEST_P(ReferenceSystemsOnPlatform, LennardJonesIsTranslationInvariant) {
    unique_ptr<System> system(createLennardJones13System());
    mt19937 random(5);
    vector<Vec3> x = randomClusterConfiguration(random);
    vector<Vec3> shifted = x;
    for (Vec3& p : shifted)
        p += Vec3(3.0, -2.0, 1.5);
    EXPECT_NEAR(evaluate(*system, shifted, *platform).energy, evaluate(*system, x, *platform).energy,
                tolerance(1e-10) * fabs(evaluate(*system, x, *platform).energy));
}

// U / kT at 300 K equals the closed-form reduced energy of configurations worked out by hand.
TEST_P(ReferenceSystemsOnPlatform, ReducedEnergiesOfClosedFormConfigurations) {
    // DW4 on a square of side d0 = 4 nm: the four sides contribute 0, the two diagonals
    // (d - d0 = 4 sqrt(2) - 4) contribute b s^2 + c s^4 each.
    unique_ptr<System> doubleWell(createDoubleWell4System());
    vector<Vec3> square = {Vec3(0, 0, 0), Vec3(4, 0, 0), Vec3(4, 4, 0), Vec3(0, 4, 0)};
    double s = 4.0 * sqrt(2.0) - 4.0;
    double expected = 2.0 * (-4.0 * s * s + 0.9 * s * s * s * s);
    EXPECT_NEAR(evaluate(*doubleWell, square, *platform).energy / (KelvinToKJPerMol * 300.0), expected,
                tolerance(1e-12) * fabs(expected));

    // LJ13 on a line with spacing r_m = 1 nm: 13 - k pairs at distance k, and the particles sit at
    // -6..6 nm from their centre, so the harmonic term is 0.5 * 2 * (1 + 4 + 9 + 16 + 25 + 36) = 91.
    unique_ptr<System> lennardJones(createLennardJones13System());
    vector<Vec3> line;
    for (int i = 0; i < 13; i++)
        line.push_back(Vec3(i, 0, 0));
    expected = 91.0;
    for (int k = 1; k <= 12; k++)
        expected += (13 - k) * (pow(k, -12.0) - 2.0 * pow(k, -6.0));
    EXPECT_NEAR(evaluate(*lennardJones, line, *platform).energy / (KelvinToKJPerMol * 300.0), expected,
                tolerance(1e-12) * fabs(expected));
}

// ---- alanine dipeptide ------------------------------------------------------------------------------

TEST(ReferenceSystems, AlanineDipeptideSystemLayout) {
    unique_ptr<System> system(createAlanineDipeptideSystem(OPENMMBG_DATA_DIR));
    ASSERT_EQ(system->getNumParticles(), 22);
    EXPECT_EQ(system->getNumConstraints(), 0);
    EXPECT_FALSE(system->usesPeriodicBoundaryConditions());
    // Backbone N, CA, C (model-spec 9.3) by their masses.
    EXPECT_NEAR(system->getParticleMass(6), 14.007, 0.01);
    EXPECT_NEAR(system->getParticleMass(8), 12.011, 0.01);
    EXPECT_NEAR(system->getParticleMass(14), 12.011, 0.01);

    map<string, int> forceCount;
    for (int i = 0; i < system->getNumForces(); i++) {
        const Force& force = system->getForce(i);
        if (dynamic_cast<const HarmonicBondForce*>(&force))
            forceCount["HarmonicBondForce"]++;
        else if (dynamic_cast<const HarmonicAngleForce*>(&force))
            forceCount["HarmonicAngleForce"]++;
        else if (dynamic_cast<const PeriodicTorsionForce*>(&force))
            forceCount["PeriodicTorsionForce"]++;
        else if (const NonbondedForce* nonbonded = dynamic_cast<const NonbondedForce*>(&force)) {
            forceCount["NonbondedForce"]++;
            EXPECT_EQ(nonbonded->getNonbondedMethod(), NonbondedForce::NoCutoff);
            double total = 0.0;
            for (int p = 0; p < nonbonded->getNumParticles(); p++) {
                double charge, sigma, epsilon;
                nonbonded->getParticleParameters(p, charge, sigma, epsilon);
                total += charge;
            }
            EXPECT_NEAR(total, 0.0, 1e-10);
        }
        else if (const CustomGBForce* gb = dynamic_cast<const CustomGBForce*>(&force)) {
            forceCount["CustomGBForce"]++;
            EXPECT_EQ(gb->getNonbondedMethod(), CustomGBForce::NoCutoff);
            EXPECT_EQ(gb->getNumParticles(), 22);
            // OBC1 (Amber igb=2): alpha, beta, gamma = 0.8, 0, 2.909125 in the Born radius.
            bool obc1 = false;
            for (int v = 0; v < gb->getNumComputedValues(); v++) {
                string name, expression;
                CustomGBForce::ComputationType type;
                gb->getComputedValueParameters(v, name, expression, type);
                obc1 |= (name == "B" && expression.find("tanh(0.8*psi+2.909125*psi^3)") != string::npos);
            }
            EXPECT_TRUE(obc1) << "the implicit solvent is not OBC1";
        }
        else
            forceCount["other: " + force.getName()]++;
    }
    map<string, int> expected = {{"HarmonicBondForce", 1}, {"HarmonicAngleForce", 1}, {"PeriodicTorsionForce", 1},
                                 {"NonbondedForce", 1}, {"CustomGBForce", 1}};
    EXPECT_EQ(forceCount, expected);
}

// The bonds are the bond graph of the reference implementation (model-spec 9.3), i.e. the atoms are
// in Amber prmtop order.
TEST(ReferenceSystems, AlanineDipeptideAtomOrderMatchesTheReference) {
    unique_ptr<System> system(createAlanineDipeptideSystem(OPENMMBG_DATA_DIR));
    set<pair<int, int>> expected = {{0, 1}, {1, 2}, {1, 3}, {1, 4}, {4, 5}, {4, 6}, {6, 7}, {6, 8}, {8, 9}, {8, 10},
                                    {10, 11}, {10, 12}, {10, 13}, {8, 14}, {14, 15}, {14, 16}, {16, 17}, {16, 18},
                                    {18, 19}, {18, 20}, {18, 21}};
    set<pair<int, int>> bonds;
    for (int i = 0; i < system->getNumForces(); i++)
        if (const HarmonicBondForce* force = dynamic_cast<const HarmonicBondForce*>(&system->getForce(i)))
            for (int b = 0; b < force->getNumBonds(); b++) {
                int p1, p2;
                double length, k;
                force->getBondParameters(b, p1, p2, length, k);
                bonds.insert({min(p1, p2), max(p1, p2)});
            }
    EXPECT_EQ(bonds, expected);
}

// The shipped structure is L-alanine: (N - CA) . ((C - CA) x (CB - CA)) > 0 at the alanine CA.
TEST(ReferenceSystems, AlanineDipeptideStructureIsLAlanine) {
    vector<Vec3> x = alanineDipeptidePositions(OPENMMBG_DATA_DIR);
    ASSERT_EQ(x.size(), 22u);
    Vec3 n = x[6] - x[8], c = x[14] - x[8], cb = x[10] - x[8];
    EXPECT_GT(n.dot(c.cross(cb)), 0.0);
    // Positions are in nm: the N-CA bond is about 0.146 nm long.
    EXPECT_NEAR(sqrt(n.dot(n)), 0.146, 0.01);
}

TEST_P(ReferenceSystemsOnPlatform, AlanineDipeptideShippedStructureIsAMinimum) {
    unique_ptr<System> system(createAlanineDipeptideSystem(OPENMMBG_DATA_DIR));
    vector<Vec3> x = alanineDipeptidePositions(OPENMMBG_DATA_DIR);
    Evaluation atShipped = evaluate(*system, x, *platform);
    ASSERT_TRUE(isfinite(atShipped.energy));
    // Minimised, then rounded to 0.001 Angstrom in the PDB: the forces are small but not zero (about
    // 43 kJ/mol/nm at most; an unminimised peptide has thousands).
    EXPECT_LT(maxNorm(atShipped.forces), 100.0);
    mt19937 random(3);
    normal_distribution<double> noise(0.0, 0.005);   // nm
    for (int trial = 0; trial < 5; trial++) {
        vector<Vec3> perturbed = x;
        for (Vec3& p : perturbed)
            p += Vec3(noise(random), noise(random), noise(random));
        Evaluation atPerturbed = evaluate(*system, perturbed, *platform);
        ASSERT_TRUE(isfinite(atPerturbed.energy));
        EXPECT_LT(atShipped.energy, atPerturbed.energy);
    }
}

TEST(ReferenceSystems, AlanineDipeptideReferenceAndCpuAgree) {
    loadOpenMMBGPlugins();
    unique_ptr<System> system(createAlanineDipeptideSystem(OPENMMBG_DATA_DIR));
    vector<Vec3> x = alanineDipeptidePositions(OPENMMBG_DATA_DIR);
    Evaluation reference = evaluate(*system, x, Platform::getPlatformByName("Reference"));
    Evaluation cpu = evaluate(*system, x, Platform::getPlatformByName("CPU"));
    // The CPU platform computes the nonbonded and GB terms in single precision.
    EXPECT_NEAR(cpu.energy, reference.energy, 1e-4 * fabs(reference.energy));
    EXPECT_LT(relativeForceError(cpu.forces, reference.forces), 1e-3);
}

TEST(ReferenceSystems, AlanineDipeptideMissingFilesThrow) {
    expectOpenMMException([] { delete createAlanineDipeptideSystem("/nonexistent-openmmbg-data"); },
                          "createAlanineDipeptideSystem", "alanine-dipeptide-ff96-obc1.xml");
    expectOpenMMException([] { alanineDipeptidePositions("/nonexistent-openmmbg-data"); },
                          "alanineDipeptidePositions", "alanine-dipeptide.pdb");
}

INSTANTIATE_TEST_SUITE_P(Platforms, ReferenceSystemsOnPlatform, ::testing::ValuesIn(sharedTestPlatforms()), platformTestName);
