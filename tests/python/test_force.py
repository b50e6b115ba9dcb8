"""BoltzmannGeneratorForce from Python: units, validation, Contexts, serialization, pickling."""
import copy
import pickle

import numpy as np
import openmm
import openmm.unit as unit
import pytest

import openmmbg


def make_system():
    system = openmm.System()
    for _ in range(4):
        system.addParticle(12.0)
    bonds = openmm.HarmonicBondForce()
    for i in range(3):
        bonds.addBond(i, i + 1, 0.15, 1000.0)
    system.addForce(bonds)
    return system


POSITIONS = [openmm.Vec3(0, 0, 0), openmm.Vec3(0.16, 0.01, 0), openmm.Vec3(0.2, 0.17, 0.03),
             openmm.Vec3(0.36, 0.2, -0.05)] * unit.nanometer


def tiny_config(num_particles, dimension=3):
    return ('{"numParticles": %d, "dimension": %d, "numBlocks": 1, "egnnLayers": 1, "egnnWidth": 8, '
            '"invariantFeatures": 8, "headWidths": [8], "splineBins": 4%s}'
            % (num_particles, dimension, ', "projection": "vector"' if dimension == 3 and num_particles < 3 else ""))


def saved_flow(config, num_particles):
    """The weights of a fresh flow with this configuration, as getWeights() returns them (setFlow
    refuses bytes that are not a saved flow of the same configuration)."""
    system = openmm.System()
    for _ in range(num_particles):
        system.addParticle(12.0)
    force = openmmbg.BoltzmannGeneratorForce(range(num_particles), 300)
    force.setFlow(config)
    system.addForce(force)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    return force.getWeights(context)


def test_plugins_load_without_failures():
    assert openmmbg.getPluginLoadFailures() == []
    for name in ("Reference", "CPU"):
        assert openmm.Platform.getPlatformByName(name).supportsKernels(["CalcBoltzmannGeneratorForce"])


def test_force_is_an_openmm_force_with_units():
    force = openmmbg.BoltzmannGeneratorForce([2, 0, 1], 800 * unit.kelvin)
    assert isinstance(force, openmm.Force)
    assert force.getParticles() == (2, 0, 1)
    assert force.getNumParticles() == 3
    assert force.getTemperature() == 800 * unit.kelvin
    force.setTemperature(300.0)
    assert force.getTemperature().value_in_unit(unit.kelvin) == 300.0
    force.setTemperature(500 * unit.kelvin)
    assert force.getTemperature().value_in_unit(unit.kelvin) == 500.0
    assert openmmbg.BoltzmannGeneratorForce([0, 1], 300).getTemperature() == 300 * unit.kelvin
    assert openmmbg.BoltzmannGeneratorForce(np.array([0, 3]), 300).getParticles() == (0, 3)


@pytest.mark.parametrize("particles, temperature, fragment", [
    ([], 300.0, "empty"),
    ([0, 1, 1], 300.0, "more than once"),
    ([0, -1], 300.0, "negative"),
    ([0, 1], 0.0, "temperature"),
    ([0, 1], -3 * unit.kelvin, "temperature"),
])
def test_bad_input_raises_openmm_exception(particles, temperature, fragment):
    with pytest.raises(openmm.OpenMMException, match=fragment):
        openmmbg.BoltzmannGeneratorForce(particles, temperature)


def test_flow_weights_are_bytes():
    force = openmmbg.BoltzmannGeneratorForce([0, 1], 300)
    assert not force.hasFlow()
    config = tiny_config(2)
    weights = saved_flow(config, 2)
    assert isinstance(weights, bytes) and b"\x00" in weights
    force.setFlow(config, weights)
    assert force.hasFlow()
    assert force.getFlowWeights() == weights
    assert force.getFlowConfig() == config
    with pytest.raises(openmm.OpenMMException, match="not a saved flow"):
        force.setFlow(config, bytes(range(256)))
    with pytest.raises(TypeError):
        force.setFlow("{}", "not bytes")


def test_context_energy_is_unchanged(platform):
    energies = []
    for with_force in (False, True):
        system = make_system()
        if with_force:
            system.addForce(openmmbg.BoltzmannGeneratorForce([0, 1, 2, 3], 300 * unit.kelvin))
        context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform)
        context.setPositions(POSITIONS)
        energies.append(context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
    assert energies[0] > 0.1
    assert energies[1] == pytest.approx(energies[0], rel=1e-12)


def test_modelled_positions_in_nanometres(platform):
    system = make_system()
    force = openmmbg.BoltzmannGeneratorForce([3, 1], 300)
    system.addForce(force)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform)
    context.setPositions(POSITIONS)
    read = force.getModelledPositions(context)
    assert unit.is_quantity(read)
    expected = POSITIONS.value_in_unit(unit.nanometer)
    np.testing.assert_allclose(np.array(read.value_in_unit(unit.angstrom)),
                               10 * np.array([expected[3], expected[1]]), rtol=0, atol=1e-12)


def test_particles_out_of_range_fail_at_context_creation(platform):
    system = make_system()
    system.addForce(openmmbg.BoltzmannGeneratorForce([0, 9], 300))
    with pytest.raises(openmm.OpenMMException, match="out of range"):
        openmm.Context(system, openmm.VerletIntegrator(0.001), platform)


def test_xml_round_trip_and_cast():
    force = openmmbg.BoltzmannGeneratorForce([1, 0], 450 * unit.kelvin)
    force.setForceGroup(7)
    weights = saved_flow(tiny_config(2, 3), 2)
    force.setFlow(tiny_config(2, 3), weights)
    xml = openmm.XmlSerializer.serialize(force)
    generic = openmm.XmlSerializer.deserialize(xml)
    assert openmmbg.BoltzmannGeneratorForce.isinstance(generic)
    assert not openmmbg.BoltzmannGeneratorForce.isinstance(openmm.HarmonicBondForce())
    restored = openmmbg.BoltzmannGeneratorForce.cast(generic)
    assert restored.getParticles() == (1, 0)
    assert restored.getTemperature() == 450 * unit.kelvin
    assert restored.getForceGroup() == 7
    assert restored.getFlowWeights() == weights
    with pytest.raises(openmm.OpenMMException, match="not a BoltzmannGeneratorForce"):
        openmmbg.BoltzmannGeneratorForce.cast(openmm.HarmonicBondForce())


def test_system_round_trip_keeps_the_force():
    system = make_system()
    system.addForce(openmmbg.BoltzmannGeneratorForce([0, 2], 300))
    clone = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    force = openmmbg.BoltzmannGeneratorForce.cast(clone.getForce(1))
    assert force.getParticles() == (0, 2)


def test_pickle_and_copy():
    force = openmmbg.BoltzmannGeneratorForce([2, 3], 310)
    weights = saved_flow(tiny_config(2), 2)
    force.setFlow(tiny_config(2), weights)
    for clone in (pickle.loads(pickle.dumps(force)), copy.deepcopy(force), copy.copy(force)):
        assert isinstance(clone, openmmbg.BoltzmannGeneratorForce)
        assert clone.getParticles() == (2, 3)
        assert clone.getFlowWeights() == weights
        clone.setTemperature(100)
        assert force.getTemperature() == 310 * unit.kelvin


def test_installation_report_passes():
    from openmmbg import testInstallation
    assert testInstallation.main() == 0
