"""BoltzmannGeneratorForce with the E-CNF ("model": "ecnf") from Python on DW4: sampling, importance
weights log w = -u(x) - log q(x), flow-matching training on the DW4 reference samples, FAB refused,
and an XML round trip of the trained force. Reference platform, a tiny float64 E-CNF with a
fixed-step RK4 solver, fixed seeds; the C++ test tests/plugin/TestBoltzmannGeneratorCnf.cpp holds
the closed-form and checkpoint checks."""
import pathlib

import numpy as np
import openmm
import openmm.unit as unit
import pytest

import openmmbg

DATA = pathlib.Path(__file__).resolve().parents[2] / "data" / "reference" / "dw4-train.npy"

#: A small E-CNF for DW4 (bg::CnfConfig keys): one EGCL layer of width 16, RK4 with 4 steps.
SMALL_ECNF = {"model": "ecnf", "numParticles": 4, "dimension": 2, "egnnLayers": 1, "egnnWidth": 16,
              "invariantFeatures": 8, "timeScale": 1.0, "solver": "rk4", "rk4Steps": 4, "dtype": "float64"}

#: Flow matching with minibatches of 32 at a constant learning rate (the "fm" settings of flow matching).
FM_SETTINGS = {"batchSize": 32, "epochs": 20,
               "schedule": {"initialLr": 2e-3, "peakLr": 2e-3, "endLr": 2e-3, "warmupEpochs": 0},
               "fm": {"pairing": "independent"}}


def dw4_with_ecnf():
    reference = openmmbg.systems.dw4()
    system = reference.system
    force = openmmbg.BoltzmannGeneratorForce([0, 1, 2, 3], reference.temperature)
    force.setPlanar(True)
    force.setFlow(SMALL_ECNF)
    force.setRandomNumberSeed(5)
    force.setTrainingSettings(FM_SETTINGS)
    system.addForce(force)
    return system, force, reference


def make_context(system, positions):
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(positions)
    return context


def as_positions(frame):
    """One [4, 2] DW4 configuration as OpenMM positions (nm, z = 0)."""
    return [openmm.Vec3(x, y, 0.0) for x, y in frame] * unit.nanometer


def planar(data):
    """[n, 4, 2] configurations as [n, 4, 3] with z = 0 (nm)."""
    return np.concatenate([data, np.zeros(data.shape[:2] + (1,))], axis=2)


def test_ecnf_force_samples_weights_trains_and_round_trips_xml():
    data = np.load(DATA)[:256]
    system, force, reference = dw4_with_ecnf()
    context = make_context(system, as_positions(data[0]))
    kt = (unit.MOLAR_GAS_CONSTANT_R * reference.temperature).value_in_unit(unit.kilojoule_per_mole)

    samples = force.sample(context, 12)
    assert np.all(np.isfinite(samples.logProb)) and np.all(np.isfinite(samples.logWeights))
    energies = np.asarray(samples.energies.value_in_unit(unit.kilojoule_per_mole))
    # No augmented variables: log w = -U/kT - log q(x).
    np.testing.assert_allclose(samples.logWeights, -energies / kt - samples.logProb, rtol=1e-9)

    probe = planar(data[:64])
    log_w = force.computeLogWeights(context, probe, 1)
    log_q = force.computeLogProb(context, probe, 1)
    u = np.asarray(force.computeEnergies(context, probe).value_in_unit(unit.kilojoule_per_mole))
    np.testing.assert_allclose(log_w, -u / kt - log_q, rtol=1e-9)

    before = np.mean(log_q)
    report = force.trainOnSamples(context, planar(data) * unit.nanometer, 40)
    assert report["iterations"] == 40
    after = np.mean(force.computeLogProb(context, probe, 1))
    assert after > before + 0.5, (before, after)

    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorForce.*FAB, which needs the E-ACF"):
        force.train(context, 1)

    # The trained E-CNF travels in the System's XML: a copy samples exactly as the original does.
    force.setFlow(force.getFlowConfig(), force.getWeights(context))
    copy = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    copied = openmmbg.BoltzmannGeneratorForce.cast(copy.getForce(copy.getNumForces() - 1))
    assert copied.getFlowWeights() == force.getFlowWeights()
    first = force.sample(make_context(system, as_positions(data[0])), 8)
    second = copied.sample(make_context(copy, as_positions(data[0])), 8)
    np.testing.assert_array_equal(first.logProb, second.logProb)
    np.testing.assert_array_equal(np.asarray(first.positions.value_in_unit(unit.nanometer)),
                                  np.asarray(second.positions.value_in_unit(unit.nanometer)))
