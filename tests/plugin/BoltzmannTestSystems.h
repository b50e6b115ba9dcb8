#ifndef OPENMMBG_TESTS_BOLTZMANN_TEST_SYSTEMS_H_
#define OPENMMBG_TESTS_BOLTZMANN_TEST_SYSTEMS_H_

// Small Systems and flows for the BoltzmannGeneratorForce / BoltzmannGeneratorIntegrator tests.

#include "SimTKOpenMMRealType.h"
#include "openmm/CustomBondForce.h"
#include "openmm/HarmonicBondForce.h"
#include "openmm/System.h"
#include "openmm/Vec3.h"

#include <string>
#include <vector>

/** OpenMM's Boltzmann constant BOLTZ, in kJ/(mol K). */
constexpr double testBoltzmann = BOLTZ;

/**
 * A tiny flow configuration (one block, small EGNN, float64) for n particles in d dimensions.
 * identity = true keeps the flow the identity map at initialisation (q is then the base density).
 * A pair in 3-D uses the vector projection (the frame projections need three particles there).
 */
inline std::string tinyFlowConfig(int n, int d, bool identity) {
    return "{\"numParticles\": " + std::to_string(n) + ", \"dimension\": " + std::to_string(d) +
           (n < 3 && d == 3 ? ", \"projection\": \"vector\"" : "") +
           ", \"numBlocks\": 1, \"egnnLayers\": 1, \"egnnWidth\": 16, \"invariantFeatures\": 8, \"headWidths\": [16]"
           ", \"dtype\": \"float64\", \"identityInit\": " + (identity ? "true" : "false") + "}";
}

/**
 * Two particles (mass 12 amu) joined by a double-well bond u(r) = U/kT = c (r^2 - r0^2)^2 at the
 * temperature T (K), c in nm^-4. In 3-D the distance r then has the density
 * p(r) ~ r^2 exp(-c (r^2 - r0^2)^2).
 */
inline OpenMM::System* makeDoubleWellPair(double temperature, double c, double r0) {
    OpenMM::System* system = new OpenMM::System();
    system->addParticle(12.0);
    system->addParticle(12.0);
    OpenMM::CustomBondForce* bond = new OpenMM::CustomBondForce("k*(r^2-r0^2)^2");
    bond->addGlobalParameter("k", c * testBoltzmann * temperature);
    bond->addGlobalParameter("r0", r0);
    bond->addBond(0, 1, {});
    system->addForce(bond);
    return system;
}

/** Four particles in a chain of harmonic bonds (0.15 nm, 500 kJ/mol/nm^2), mass 12 amu. */
inline OpenMM::System* makeChain4() {
    OpenMM::System* system = new OpenMM::System();
    for (int i = 0; i < 4; i++)
        system->addParticle(12.0);
    OpenMM::HarmonicBondForce* bonds = new OpenMM::HarmonicBondForce();
    for (int i = 0; i < 3; i++)
        bonds->addBond(i, i + 1, 0.15, 500.0);
    system->addForce(bonds);
    return system;
}

inline std::vector<OpenMM::Vec3> chain4Positions() {
    return {OpenMM::Vec3(0, 0, 0), OpenMM::Vec3(0.15, 0.02, 0), OpenMM::Vec3(0.2, 0.16, 0.03), OpenMM::Vec3(0.35, 0.18, -0.04)};
}

#endif
