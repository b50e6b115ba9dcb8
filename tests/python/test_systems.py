"""openmmbg.systems: the reference problems (DW4, LJ13, alanine dipeptide) from Python."""
import os
import subprocess
import sys

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit
import pytest

import openmmbg
import openmmbg.systems as systems

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# kT at 300 K in kJ/mol from the exact SI constants.
KT_300 = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin) * 300.0


def dw4_reduced(x):
    """Closed-form DW4 energy (model-spec 9.1), ordered pairs halved as in the reference."""
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    s = d[~np.eye(len(x), dtype=bool)] - 4.0
    return 0.5 * np.sum(-4.0 * s**2 + 0.9 * s**4)


def lj13_reduced(x):
    """Closed-form LJ13 energy (model-spec 9.2): LJ over ordered pairs halved + 0.5 sum |x - mean|^2."""
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    d = d[~np.eye(len(x), dtype=bool)]
    return 0.5 * np.sum(d**-12 - 2.0 * d**-6) + 0.5 * np.sum((x - x.mean(axis=0))**2)


def energy(system, positions, platform):
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform)
    context.setPositions(positions)
    return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def random_cluster(rng, n=13, minimum=0.8):
    points = []
    while len(points) < n:
        candidate = rng.uniform(-1.5, 1.5, 3)
        if all(np.linalg.norm(candidate - p) >= minimum for p in points):
            points.append(candidate)
    return np.array(points)


def test_reduced_unit_convention():
    assert systems.REFERENCE_TEMPERATURE == 300 * unit.kelvin
    assert systems.REDUCED_ENERGY_UNIT.value_in_unit(unit.kilojoule_per_mole) == pytest.approx(KT_300, rel=1e-14)
    assert systems.ALANINE_DIPEPTIDE_DEFAULT_TEMPERATURE == 800 * unit.kelvin


def test_dw4_layout():
    reference = systems.dw4()
    system, positions, temperature = reference
    assert isinstance(system, openmm.System)
    assert system.getNumParticles() == 4
    assert [system.getParticleMass(i) for i in range(4)] == [1.0 * unit.amu] * 4
    assert positions is None
    assert temperature == 300 * unit.kelvin
    assert reference.dimensions == 2 and reference.name == "dw4"


def test_lj13_layout():
    reference = systems.lj13()
    assert reference.system.getNumParticles() == 13
    assert reference.system.getNumConstraints() == 0
    assert reference.positions is None
    assert reference.temperature == 300 * unit.kelvin
    assert reference.dimensions == 3


def test_dw4_energies_are_the_closed_form(platform):
    system = systems.dw4().system
    rng = np.random.default_rng(42)
    for _ in range(6):
        x = np.zeros((4, 3))
        x[:, :2] = rng.uniform(-4.0, 4.0, (4, 2))
        expected = dw4_reduced(x)
        assert energy(system, x, platform) / KT_300 == pytest.approx(expected, rel=1e-10)


def test_lj13_energies_are_the_closed_form(platform):
    system = systems.lj13().system
    rng = np.random.default_rng(43)
    for _ in range(6):
        x = random_cluster(rng)
        expected = lj13_reduced(x)
        assert energy(system, x, platform) / KT_300 == pytest.approx(expected, rel=1e-10)


def test_lj13_forces_are_minus_the_closed_form_gradient():
    system = systems.lj13().system
    x = random_cluster(np.random.default_rng(44))
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(x)
    forces = context.getState(getForces=True).getForces(asNumpy=True).value_in_unit(
        unit.kilojoule_per_mole / unit.nanometer) / KT_300
    h = 1e-5
    numeric = np.zeros_like(x)
    for i in range(13):
        for k in range(3):
            plus, minus = x.copy(), x.copy()
            plus[i, k] += h
            minus[i, k] -= h
            numeric[i, k] = -(lj13_reduced(plus) - lj13_reduced(minus)) / (2 * h)
    assert np.abs(forces - numeric).max() < 1e-6 * np.abs(numeric).max()


def test_each_call_returns_a_new_system():
    first, second = systems.dw4().system, systems.dw4().system
    first.setParticleMass(0, 5.0)
    assert second.getParticleMass(0) == 1.0 * unit.amu


def test_alanine_dipeptide_loads():
    reference = systems.alanine_dipeptide()
    system, positions, temperature = reference
    assert system.getNumParticles() == 22
    assert system.getNumConstraints() == 0
    assert temperature == 800 * unit.kelvin
    assert len(positions) == 22
    assert unit.is_quantity(positions)
    names = sorted(type(f).__name__ for f in system.getForces())
    assert names == ["CustomGBForce", "HarmonicAngleForce", "HarmonicBondForce", "NonbondedForce",
                     "PeriodicTorsionForce"]
    assert systems.alanine_dipeptide(300 * unit.kelvin).temperature == 300 * unit.kelvin
    assert systems.alanine_dipeptide(500.0).temperature == 500 * unit.kelvin
    assert openmmbg.systems is systems


@pytest.mark.parametrize("temperature", [0.0, -300 * unit.kelvin, float("nan")])
def test_alanine_dipeptide_rejects_bad_temperatures(temperature):
    with pytest.raises(openmm.OpenMMException, match="alanine_dipeptide"):
        systems.alanine_dipeptide(temperature)


def test_alanine_dipeptide_missing_data_raises(tmp_path):
    with pytest.raises(openmm.OpenMMException, match="createAlanineDipeptideSystem"):
        systems.alanine_dipeptide(data_dir=str(tmp_path))


def test_alanine_dipeptide_is_the_force_field_recipe(platform):
    """The shipped System equals Amber ff96 + OBC1 built by openmm.app from the shipped PDB."""
    pdb = app.PDBFile(os.path.join(systems.data_directory(), "alanine-dipeptide.pdb"))
    forcefield = app.ForceField("amber96.xml", "implicit/obc1.xml")
    rebuilt = forcefield.createSystem(pdb.topology, nonbondedMethod=app.NoCutoff, constraints=None,
                                      removeCMMotion=False)
    system, positions, _ = systems.alanine_dipeptide()
    assert np.allclose(positions.value_in_unit(unit.nanometer), pdb.positions.value_in_unit(unit.nanometer),
                       rtol=0, atol=1e-12)
    shipped = energy(system, positions, platform)
    assert np.isfinite(shipped)
    # Reference is double precision and deterministic; the CPU platform accumulates parts of the
    # nonbonded and GB terms in single precision over a thread-dependent split of the work.
    tolerance = 1e-10 if platform.getName() == "Reference" else 1e-6
    assert shipped == pytest.approx(energy(rebuilt, positions, platform), rel=tolerance)
    # A minimum: displacing the atoms raises the energy.
    rng = np.random.default_rng(7)
    x = np.array(positions.value_in_unit(unit.nanometer))
    assert shipped < energy(system, x + rng.normal(0.0, 0.005, x.shape), platform)


def test_generator_script_reproduces_the_committed_files(tmp_path):
    """The committed data are what scripts/generate_aldp_system.py makes. The System XML must be
    identical; PDB coordinates may differ in the last printed digit (0.001 Angstrom), since the
    minimisation goes through libm functions that can round differently on other machines."""
    script = os.path.join(REPOSITORY, "scripts", "generate_aldp_system.py")
    subprocess.run([sys.executable, script, "--output-dir", str(tmp_path)], check=True, capture_output=True)

    def read(directory, name):
        with open(os.path.join(directory, name)) as source:
            return source.read()

    data = os.path.join(REPOSITORY, "data")
    name = "alanine-dipeptide-ff96-obc1.xml"
    assert read(data, name) == read(tmp_path, name)
    committed = read(data, "alanine-dipeptide.pdb").splitlines()
    regenerated = read(tmp_path, "alanine-dipeptide.pdb").splitlines()
    assert len(committed) == len(regenerated)
    for old, new in zip(committed, regenerated):
        if old.startswith(("ATOM", "HETATM")):
            assert old[:30] + old[54:] == new[:30] + new[54:]
            coordinates = [float(line[30 + 8 * k:38 + 8 * k]) for line in (old, new) for k in range(3)]
            assert np.allclose(coordinates[:3], coordinates[3:], rtol=0, atol=2e-3), (old, new)
        else:
            assert old == new
