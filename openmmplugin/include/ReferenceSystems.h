#ifndef OPENMM_BOLTZMANN_REFERENCE_SYSTEMS_H_
#define OPENMM_BOLTZMANN_REFERENCE_SYSTEMS_H_

#include "internal/windowsExportBoltzmannGenerator.h"
#include "openmm/System.h"
#include "openmm/Vec3.h"

#include <string>
#include <vector>

/**
 * The reference problems of openmm-bg (model-spec section 9) as OpenMM Systems: the 4-particle
 * double well (DW4), the 13-particle Lennard-Jones cluster (LJ13) and alanine dipeptide in
 * implicit solvent (ALDP).
 *
 * Reduced-unit convention for DW4 and LJ13. The published energies of these problems are
 * dimensionless ("reduced") functions E(x) with log p(x) = -E(x). Here
 *   - one reduced length is 1 nm, so positions in nm are the reduced coordinates;
 *   - one reduced energy is kT at referenceSystemTemperature() = 300 K, i.e.
 *     referenceSystemEnergyUnit() = BOLTZ * 300 K = 2.494338785445... kJ/mol, where BOLTZ is
 *     OpenMM's molar gas constant in kJ/(mol K) (openmm/reference/SimTKOpenMMRealType.h);
 *   - every energy expression is multiplied by that unit, so the OpenMM potential energy U (kJ/mol)
 *     satisfies U / (BOLTZ * 300 K) = E(x) up to rounding, and OpenMM forces F (kJ/(mol nm)) satisfy
 *     F / (BOLTZ * 300 K) = -dE/dx.
 * A BoltzmannGeneratorForce (or any sampler) for DW4 or LJ13 must therefore use the temperature
 * referenceSystemTemperature(); at any other temperature T the target is exp(-E * 300 K / T).
 *
 * Every DW4 and LJ13 particle has mass 1 amu (it only matters for dynamics). The energy parameters
 * are global parameters of the Forces (their names start with "dw4_" or "lj13_"), so they can be
 * read from a Context; changing them changes the problem.
 *
 * Differences from the reference implementation: it computes distances with safe_norm (a zero
 * distance counts as 1), so coincident particles have a finite energy there. OpenMM uses the plain
 * Euclidean distance, so coincident LJ13 particles give an infinite energy here (DW4 stays finite).
 * Callers must check configurations for finiteness themselves (model-spec section 17).
 */

namespace BoltzmannPlugin {

/**
 * The temperature at which one reduced energy unit of the DW4 and LJ13 Systems equals kT.
 *
 * @return the temperature in Kelvin (300)
 */
OPENMM_EXPORT_BG double referenceSystemTemperature();

/**
 * One reduced energy unit of the DW4 and LJ13 Systems: kT = BOLTZ * referenceSystemTemperature().
 *
 * @return the energy in kJ/mol
 */
OPENMM_EXPORT_BG double referenceSystemEnergyUnit();

/**
 * Create the 4-particle double well DW4 (model-spec 9.1). Its potential energy is
 *
 *     U = kT_ref * sum_{i<j} [ a (d_ij - d0) + b (d_ij - d0)^2 + c (d_ij - d0)^4 ]
 *
 * with a = 0, b = -4, c = 0.9 (dimensionless), d0 = 4 nm, d_ij the distance between particles i
 * and j in nm and kT_ref = referenceSystemEnergyUnit(), computed by one CustomBondForce over all
 * six pairs (exact, double precision on the Reference and CPU platforms).
 *
 * DW4 is a two-dimensional problem: the System is three-dimensional as every OpenMM System, and
 * callers keep all particles in the z = 0 plane (initial positions, dynamics, flow moves). The
 * energy itself only sees distances, so a configuration in the plane has exactly its 2D energy.
 *
 * @return a new System (owned by the caller) with 4 particles of mass 1 amu, no constraints and
 *         no periodic boundary conditions
 */
OPENMM_EXPORT_BG OpenMM::System* createDoubleWell4System();

/**
 * Create the 13-particle Lennard-Jones cluster LJ13 (model-spec 9.2). Its potential energy is
 *
 *     U = kT_ref * ( eps * sum_{i<j} [ (r_m/d_ij)^12 - 2 (r_m/d_ij)^6 ] + k_h * sum_i |x_i - xbar|^2 )
 *
 * with eps = 1 (dimensionless), r_m = 1 nm, k_h = 0.5 nm^-2, xbar = (1/13) sum_i x_i the (unweighted)
 * centre of the particles and kT_ref = referenceSystemEnergyUnit(). The harmonic term keeps the
 * cluster together and is not divided by a temperature.
 *
 * Forces: a CustomBondForce "LennardJones" over all 78 pairs, and a CustomBondForce
 * "CentreHarmonic" for the harmonic term through the identity
 * sum_i |x_i - xbar|^2 = (1/N) sum_{i<j} |x_i - x_j|^2 (exact; see the source for why this form).
 *
 * @return a new System (owned by the caller) with 13 particles of mass 1 amu, no constraints and
 *         no periodic boundary conditions
 */
OPENMM_EXPORT_BG OpenMM::System* createLennardJones13System();

/**
 * The default temperature of the alanine dipeptide target (model-spec 9.3 and 18.1: the E-ACF
 * runs use 800 K; the FAB comparison uses 300 K, and any positive temperature is allowed). The
 * temperature belongs to the target, not to the System: the System's energy is in kJ/mol and the
 * reduced energy is U / (BOLTZ * T).
 *
 * @return the temperature in Kelvin (800)
 */
OPENMM_EXPORT_BG double alanineDipeptideDefaultTemperature();

/**
 * The name of the file, inside the data directory, that holds the alanine dipeptide System
 * (OpenMM XmlSerializer format): "alanine-dipeptide-ff96-obc1.xml".
 */
OPENMM_EXPORT_BG std::string alanineDipeptideSystemFile();

/**
 * The name of the file, inside the data directory, that holds the energy-minimised alanine
 * dipeptide structure (PDB, Angstrom): "alanine-dipeptide.pdb".
 */
OPENMM_EXPORT_BG std::string alanineDipeptideStructureFile();

/**
 * Load alanine dipeptide in implicit solvent (model-spec 9.3): ACE-ALA-NME, 22 atoms in Amber
 * prmtop order (backbone N = 6, CA = 8, C = 14), Amber ff96 with OBC1 implicit solvent (Amber
 * igb=2 as a CustomGBForce, mbondi2 radii, solvent dielectric 78.5, ACE surface term), no cutoff,
 * no constraints, no CMMotionRemover. Forces: HarmonicBondForce, HarmonicAngleForce,
 * PeriodicTorsionForce, NonbondedForce (NoCutoff), CustomGBForce (OBC1).
 *
 * The System is read from alanineDipeptideSystemFile() in the data directory; that file is made
 * by scripts/generate_aldp_system.py with openmm.app (ForceField is Python-only).
 *
 * @param dataDirectory  the directory holding openmm-bg's data files (the repository's data/,
 *                       or the data/ folder of the installed Python package)
 * @return a new System (owned by the caller); energies in kJ/mol, lengths in nm
 * @throws OpenMM::OpenMMException if the file is missing or does not hold a 22-particle System
 */
OPENMM_EXPORT_BG OpenMM::System* createAlanineDipeptideSystem(const std::string& dataDirectory);

/**
 * Read the energy-minimised alanine dipeptide structure (alanineDipeptideStructureFile() in the
 * data directory), in the particle order of createAlanineDipeptideSystem(). The PDB stores
 * coordinates to 0.001 Angstrom, so the structure is a minimum up to that rounding.
 *
 * @param dataDirectory  the directory holding openmm-bg's data files
 * @return 22 positions in nm
 * @throws OpenMM::OpenMMException if the file is missing, unreadable, or does not hold 22 atoms
 */
OPENMM_EXPORT_BG std::vector<OpenMM::Vec3> alanineDipeptidePositions(const std::string& dataDirectory);

} // namespace BoltzmannPlugin

#endif
