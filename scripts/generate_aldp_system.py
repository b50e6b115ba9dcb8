#!/usr/bin/env python
"""Generate the alanine dipeptide reference system of openmm-bg (model-spec 9.3).

Writes, into the repository's data/ directory:

  alanine-dipeptide.pdb             ACE-ALA-NME, 22 atoms, energy-minimised positions (Angstrom in
                                    the file; the C++ and Python loaders return nm)
  alanine-dipeptide-ff96-obc1.xml   the OpenMM System (XmlSerializer): Amber ff96 + OBC1 implicit
                                    solvent (Amber igb=2, mbondi2 radii, ACE surface term), no
                                    cutoff, no constraints, no CMMotionRemover

The force field is the one of the reference target (model-spec 9.3: openmmtools'
AlanineDipeptideImplicit, a tleap prmtop of leaprc.ff96 with mbondi2 radii, loaded with
implicitSolvent=OBC1): ForceField('amber96.xml', 'implicit/obc1.xml'), both shipped with the openmm
wheel. 'implicit/obc1.xml' adds openmm.app's GBSAOBC1Force (a CustomGBForce equivalent to Amber
igb=2, mbondi2 radii, solvent dielectric 78.5), which is what AmberPrmtopFile.createSystem builds
for OBC1. Note that 'amber96_obc.xml' would NOT give OBC1: it uses OpenMM's GBSAOBCForce, the
OBC-II model (igb=5), with its own radii and solvent dielectric 78.3.

How the structure is made (no external coordinates are used):
  1. The 22 atoms are placed from internal coordinates (bond lengths, bond angles, dihedrals) with
     standard peptide geometry: trans peptide bonds (omega = 180 deg), backbone dihedrals
     phi = -80 deg, psi = +80 deg, staggered methyl groups, the L configuration at CA (checked by
     the sign of a triple product). The atom order is the Amber prmtop order used by the
     reference implementation (N = 6, CA = 8, C = 14).
  2. openmm.app reads that structure as a PDB (standard residue bonds for ACE/ALA/NME) and the
     force field above builds the System.
  3. The structure is energy-minimised on the Reference platform (double precision) and written
     as a PDB (coordinates rounded to 0.001 Angstrom); the System is serialised with XmlSerializer.

The script is deterministic: running it again reproduces the committed files (up to the
OpenMM version written in them).

Usage: python scripts/generate_aldp_system.py [--output-dir DIR]
"""
import argparse
import io
import math
import os

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit

# Standard geometry (Angstrom, degrees): peptide-backbone values close to Engh & Huber, C-H 1.09,
# N-H 1.01, tetrahedral angles for sp3 centres.
BOND = {"C-N": 1.329, "N-CA": 1.458, "CA-C": 1.525, "C=O": 1.231, "CA-CB": 1.530,
        "CH3-C": 1.520, "N-CH3": 1.449, "C-H": 1.090, "N-H": 1.010}
ANGLE = {"CA-C-N": 116.2, "C-N-CA": 121.7, "N-CA-C": 111.2, "O=C-N": 123.0,
         "N-CA-CB": 110.5, "C-N-H": 119.15, "TET": 109.47}
PHI, PSI, OMEGA = -80.0, 80.0, 180.0

# (residue, atom name, element) in prmtop order; the names are OpenMM's standard PDB names.
ATOMS = [("ACE", "H1", "H"), ("ACE", "CH3", "C"), ("ACE", "H2", "H"), ("ACE", "H3", "H"),
         ("ACE", "C", "C"), ("ACE", "O", "O"),
         ("ALA", "N", "N"), ("ALA", "H", "H"), ("ALA", "CA", "C"), ("ALA", "HA", "H"),
         ("ALA", "CB", "C"), ("ALA", "HB1", "H"), ("ALA", "HB2", "H"), ("ALA", "HB3", "H"),
         ("ALA", "C", "C"), ("ALA", "O", "O"),
         ("NME", "N", "N"), ("NME", "H", "H"), ("NME", "C", "C"), ("NME", "H1", "H"),
         ("NME", "H2", "H"), ("NME", "H3", "H")]


def place(a, b, c, bond, angle, dihedral):
    """Position of atom d bonded to c with |cd| = bond, angle(b, c, d) = angle and
    dihedral(a, b, c, d) = dihedral (Angstrom, degrees)."""
    angle, dihedral = math.radians(angle), math.radians(dihedral)
    bc = c - b
    bc /= np.linalg.norm(bc)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    m = np.cross(n, bc)
    local = np.array([-bond * math.cos(angle),
                      bond * math.sin(angle) * math.cos(dihedral),
                      bond * math.sin(angle) * math.sin(dihedral)])
    return c + local[0] * bc + local[1] * m + local[2] * n


def dihedral(a, b, c, d):
    """Dihedral angle (degrees) of four points."""
    b0, b1, b2 = a - b, c - b, d - c
    b1 = b1 / np.linalg.norm(b1)
    v = b0 - np.dot(b0, b1) * b1
    w = b2 - np.dot(b2, b1) * b1
    return math.degrees(math.atan2(np.dot(np.cross(b1, v), w), np.dot(v, w)))


def chirality_volume(x):
    """(N - CA) . ((C - CA) x (CB - CA)) at the alanine CA; positive for L-alanine."""
    n, ca, c, cb = x[6], x[8], x[14], x[10]
    return float(np.dot(n - ca, np.cross(c - ca, cb - ca)))


def build_ideal_structure():
    """Cartesian coordinates (Angstrom, [22, 3]) from internal coordinates."""
    x = np.zeros((22, 3))
    x[1] = [0.0, 0.0, 0.0]                                     # ACE CH3
    x[4] = [BOND["CH3-C"], 0.0, 0.0]                          # ACE C
    theta = math.radians(180.0 - ANGLE["CA-C-N"])             # ALA N in the xy plane
    x[6] = x[4] + BOND["C-N"] * np.array([math.cos(theta), math.sin(theta), 0.0])
    x[8] = place(x[1], x[4], x[6], BOND["N-CA"], ANGLE["C-N-CA"], OMEGA)          # ALA CA
    x[5] = place(x[8], x[6], x[4], BOND["C=O"], ANGLE["O=C-N"], 0.0)               # ACE O
    x[7] = place(x[5], x[4], x[6], BOND["N-H"], ANGLE["C-N-H"], 180.0)             # ALA H
    x[14] = place(x[4], x[6], x[8], BOND["CA-C"], ANGLE["N-CA-C"], PHI)            # ALA C
    # CB and HA sit at phi -/+ 120 deg; the sign giving the L configuration is checked below.
    x[10] = place(x[4], x[6], x[8], BOND["CA-CB"], ANGLE["N-CA-CB"], PHI - 120.0)  # ALA CB
    x[9] = place(x[4], x[6], x[8], BOND["C-H"], ANGLE["TET"], PHI + 120.0)         # ALA HA
    x[16] = place(x[6], x[8], x[14], BOND["C-N"], ANGLE["CA-C-N"], PSI)            # NME N
    x[15] = place(x[6], x[8], x[14], BOND["C=O"], 360.0 - ANGLE["O=C-N"] - ANGLE["CA-C-N"],
                  PSI + 180.0)                                                     # ALA O
    x[18] = place(x[8], x[14], x[16], BOND["N-CH3"], ANGLE["C-N-CA"], OMEGA)       # NME C
    x[17] = place(x[15], x[14], x[16], BOND["N-H"], ANGLE["C-N-H"], 180.0)         # NME H
    for index, torsion in zip((0, 2, 3), (60.0, 180.0, 300.0)):                    # ACE H1-3
        x[index] = place(x[6], x[4], x[1], BOND["C-H"], ANGLE["TET"], torsion)
    for index, torsion in zip((11, 12, 13), (60.0, 180.0, 300.0)):                 # ALA HB1-3
        x[index] = place(x[6], x[8], x[10], BOND["C-H"], ANGLE["TET"], torsion)
    for index, torsion in zip((19, 20, 21), (60.0, 180.0, 300.0)):                 # NME H1-3
        x[index] = place(x[14], x[16], x[18], BOND["C-H"], ANGLE["TET"], torsion)
    if chirality_volume(x) < 0:
        raise RuntimeError("generate_aldp_system: the built structure is not L-alanine")
    return x


def structure_as_pdb(x, remarks=()):
    """PDB text (REMARKs, ATOM/HETATM records, TER, END) of coordinates x in Angstrom, in ATOMS
    order. No CONECT records: ACE, ALA and NME are standard residues for openmm.app."""
    lines = ["REMARK   1 %s" % remark for remark in remarks]
    residue_numbers = {"ACE": 1, "ALA": 2, "NME": 3}
    for serial, ((residue, name, element), position) in enumerate(zip(ATOMS, x), start=1):
        padded = name if len(name) == 4 else " " + name
        lines.append("%-6s%5d %-4s %3s A%4d    %8.3f%8.3f%8.3f%6.2f%6.2f          %2s" %
                     ("ATOM" if residue == "ALA" else "HETATM", serial, padded, residue,
                      residue_numbers[residue], position[0], position[1], position[2], 1.0, 0.0, element))
    lines.append("TER")
    lines.append("END")
    return "\n".join(lines) + "\n"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", default=os.path.join(root, "data"))
    args = parser.parse_args()
    os.makedirs(args.output_dir, exist_ok=True)

    ideal = build_ideal_structure()
    pdb = app.PDBFile(io.StringIO(structure_as_pdb(ideal)))
    names = [(a.residue.name, a.name) for a in pdb.topology.atoms()]
    assert names == [(r, n) for r, n, _ in ATOMS], names

    forcefield = app.ForceField("amber96.xml", "implicit/obc1.xml")
    system = forcefield.createSystem(pdb.topology, nonbondedMethod=app.NoCutoff,
                                     constraints=None, rigidWater=False, removeCMMotion=False)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(pdb.positions)
    before = context.getState(getEnergy=True).getPotentialEnergy()
    openmm.LocalEnergyMinimizer.minimize(context, 1e-3, 0)
    state = context.getState(getEnergy=True, getPositions=True, getForces=True)
    positions = state.getPositions(asNumpy=True)
    x = positions.value_in_unit(unit.angstrom)
    if chirality_volume(x) < 0:
        raise RuntimeError("generate_aldp_system: minimisation changed the chirality")

    remarks = ["ACE-ALA-NME (L), built from standard internal coordinates by",
               "scripts/generate_aldp_system.py and energy-minimised with OpenMM %s:" % openmm.__version__,
               "Amber ff96 + OBC1 (amber96.xml + implicit/obc1.xml), no cutoff,",
               "no constraints. Atom order = Amber prmtop order (N 6, CA 8, C 14)."]
    with open(os.path.join(args.output_dir, "alanine-dipeptide.pdb"), "w") as output:
        output.write(structure_as_pdb(x, remarks))
    with open(os.path.join(args.output_dir, "alanine-dipeptide-ff96-obc1.xml"), "w") as output:
        output.write(openmm.XmlSerializer.serialize(system))

    forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    print("energy before / after minimisation: %s / %s" % (before, state.getPotentialEnergy()))
    print("largest force after minimisation: %.3g kJ/mol/nm" % np.abs(forces).max())
    print("phi = %.1f deg, psi = %.1f deg" % (dihedral(x[4], x[6], x[8], x[14]),
                                              dihedral(x[6], x[8], x[14], x[16])))
    print("wrote %s" % args.output_dir)


if __name__ == "__main__":
    main()
