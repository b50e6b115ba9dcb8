"""The Python API of BoltzmannGeneratorForce and BoltzmannGeneratorIntegrator end to end: sampling
with units, closed-form densities of the identity flow, reweighting towards a known expectation,
moving trained weights between Contexts and Systems, the integrator inside openmm.app.Simulation
(with checkpoints), serialization/pickling and error messages.

Everything runs on the Reference or CPU platform with tiny float64 flows and fixed seeds; the
C++ tests (tests/plugin/TestBoltzmannGeneratorSampling.cpp, TestBoltzmannGeneratorIntegrator.cpp)
hold the expensive statistical checks."""
import io
import json
import math
import pickle

import numpy as np
import openmm
import openmm.unit as unit
import pytest
from openmm import app

import openmmbg

KB = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin)
TEMPERATURE = 300.0
KT = KB * TEMPERATURE

#: FAB settings whose iterations take well under a second with the tiny flows below.
FAST_FAB = {"batchSize": 16, "epochs": 10,
            "fab": {"bufferMinBatches": 2, "bufferMaxBatches": 8, "updatesPerIteration": 2,
                    "ais": {"numIntermediate": 1, "initialStepSize": 0.02}}}

CHAIN_POSITIONS = [openmm.Vec3(0, 0, 0), openmm.Vec3(0.15, 0.02, 0), openmm.Vec3(0.2, 0.16, 0.03),
                   openmm.Vec3(0.35, 0.18, -0.04)] * unit.nanometer


def tiny_flow(num_particles, dimension, identity=True, **extra):
    config = {"numParticles": num_particles, "dimension": dimension, "numBlocks": 1, "egnnLayers": 1,
              "egnnWidth": 16, "invariantFeatures": 8, "headWidths": [16], "dtype": "float64",
              "identityInit": identity}
    config.update(extra)
    return config


def make_chain(num_particles=4):
    """Particles of 12 amu in a chain of harmonic bonds (0.15 nm, 500 kJ/mol/nm^2)."""
    system = openmm.System()
    for _ in range(num_particles):
        system.addParticle(12.0)
    bonds = openmm.HarmonicBondForce()
    for i in range(num_particles - 1):
        bonds.addBond(i, i + 1, 0.15, 500.0)
    system.addForce(bonds)
    return system


def make_force(particles, dimension=3, identity=True, seed=7, planar=False, **flow_extra):
    force = openmmbg.BoltzmannGeneratorForce(particles, TEMPERATURE * unit.kelvin)
    force.setPlanar(planar)
    force.setFlow(tiny_flow(len(particles), dimension, identity, **flow_extra))
    force.setRandomNumberSeed(seed)
    force.setTrainingSettings(FAST_FAB)
    return force


def make_context(system, platform_name="Reference", positions=CHAIN_POSITIONS):
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName(platform_name))
    context.setPositions(positions)
    return context


def chain_with_force(platform_name="Reference", identity=True, seed=7, planar=False):
    system = make_chain()
    force = make_force([0, 1, 2, 3], 2 if planar else 3, identity, seed, planar)
    system.addForce(force)
    return system, force, make_context(system, platform_name)


def nm(quantity):
    return np.asarray(quantity.value_in_unit(unit.nanometer))


def closed_form_log_prob(positions, dimension):
    """log density of the zero-CoM standard Gaussian: -|x|^2/2 - (N-1) D/2 log(2 pi)."""
    n = positions.shape[1]
    return -0.5 * np.sum(positions**2, axis=(1, 2)) - 0.5 * (n - 1) * dimension * math.log(2 * math.pi)


# ----------------------------------------------------------------------------------------------
# 1. Units and shapes
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("platform_name", ["Reference", "CPU"])
def test_samples_have_shapes_units_and_independent_energies(platform_name):
    system, force, context = chain_with_force(platform_name)
    samples = force.sample(context, 12)
    assert isinstance(samples, openmmbg.FlowSamples)
    assert unit.is_quantity(samples.positions) and unit.is_quantity(samples.energies)
    positions = nm(samples.positions)
    assert positions.shape == (12, 4, 3)
    assert samples.logProb.shape == (12,) and samples.logWeights.shape == (12,)
    assert np.all(np.isfinite(samples.logProb)) and np.all(np.isfinite(samples.logWeights))
    # Positions are in nm: the same numbers in Angstrom are ten times larger.
    np.testing.assert_allclose(np.asarray(samples.positions.value_in_unit(unit.angstrom)), 10 * positions, rtol=1e-14)
    # Zero centre of mass (the flow's base is the zero-CoM Gaussian).
    np.testing.assert_allclose(positions.mean(axis=1), 0.0, atol=1e-10)
    # Energies in kJ/mol equal those of an independent Context of the System without the BG force.
    energies = np.asarray(samples.energies.value_in_unit(unit.kilojoule_per_mole))
    np.testing.assert_allclose(np.asarray(samples.energies.value_in_unit(unit.kilocalorie_per_mole)),
                               energies / 4.184, rtol=1e-12)
    reference_context = make_context(make_chain(), platform_name)
    reference = []
    for frame in positions:
        reference_context.setPositions(frame * unit.nanometer)
        reference.append(reference_context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(
            unit.kilojoule_per_mole))
    reference = np.array(reference)
    assert np.all(reference > 1.0)   # unit-Gaussian chains are far from the 0.15 nm bonds
    np.testing.assert_allclose(energies, reference, rtol=1e-8)
    recomputed = force.computeEnergies(context, samples.positions)
    assert unit.is_quantity(recomputed)
    np.testing.assert_allclose(np.asarray(recomputed.value_in_unit(unit.kilojoule_per_mole)), reference, rtol=1e-8)
    # A Quantity in another length unit is converted: the same configurations in Angstrom.
    in_angstrom = samples.positions.in_units_of(unit.angstrom)
    np.testing.assert_allclose(np.asarray(force.computeEnergies(context, in_angstrom).value_in_unit(
        unit.kilojoule_per_mole)), reference, rtol=1e-8)


def test_planar_force_samples_in_the_plane():
    system, force, context = chain_with_force(identity=False, seed=3, planar=True)
    assert force.isPlanar() and force.getDimension() == 2
    samples = force.sample(context, 6)
    positions = nm(samples.positions)
    assert positions.shape == (6, 4, 3)
    assert np.all(positions[:, :, 2] == 0.0)
    assert np.any(positions[:, :, :2] != 0.0)
    assert np.all(np.isfinite(force.computeLogProb(context, samples.positions, 4)))


# ----------------------------------------------------------------------------------------------
# 2. Closed-form densities of the identity flow
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("num_particles, dimension", [(4, 3), (3, 2)])
def test_identity_flow_has_the_zero_com_gaussian_density(num_particles, dimension):
    system = make_chain(num_particles)
    force = make_force(list(range(num_particles)), dimension, identity=True, planar=(dimension == 2))
    system.addForce(force)
    start = nm(CHAIN_POSITIONS)[:num_particles]
    if dimension == 2:
        start[:, 2] = 0.0
    context = make_context(system, positions=start * unit.nanometer)
    samples = force.sample(context, 16)
    positions = nm(samples.positions)
    log_q = force.computeLogProb(context, samples.positions, numDraws=3)
    np.testing.assert_allclose(log_q, closed_form_log_prob(positions, dimension), rtol=1e-8, atol=1e-8)
    log_w = force.computeLogWeights(context, samples.positions, numDraws=3)
    energies = np.asarray(samples.energies.value_in_unit(unit.kilojoule_per_mole))
    np.testing.assert_allclose(log_w, -energies / KT - log_q, rtol=1e-8, atol=1e-8)
    # The sampled log-weights (joint density with pi(a|x)) agree, as the flow is the identity.
    np.testing.assert_allclose(samples.logWeights, log_w, rtol=1e-8, atol=1e-8)


def test_frame_projections_are_refused_for_a_pair_in_3d():
    # Two particles in 3-D have no frame (every equivariant vector lies on the pair's axis), so the
    # spherical and Cartesian projections are refused with a clear message; the vector one works.
    force = openmmbg.BoltzmannGeneratorForce([0, 1], 300.0)
    for projection in ["spherical", "cartesian"]:
        with pytest.raises(openmm.OpenMMException, match="needs at least 3 particles in 3-D"):
            force.setFlow({"numParticles": 2, "dimension": 3, "projection": projection})
    force.setFlow({"numParticles": 2, "dimension": 3, "projection": "vector"})
    assert force.hasFlow()


# ----------------------------------------------------------------------------------------------
# 3. A known expectation through openmmbg.reweight
# ----------------------------------------------------------------------------------------------

def test_reweighting_flow_samples_recovers_a_closed_form_expectation():
    # U = k r^2 / 2 with k = kT: each component of r = x1 - x2 has variance kT/k = 1 (nm^2), narrower
    # than the identity flow's 2, so the importance weights are bounded; <r^2> = 3 kT/k = 3 nm^2.
    k = KT
    system = openmm.System()
    system.addParticle(12.0)
    system.addParticle(12.0)
    bond = openmm.CustomBondForce("0.5*k*r^2")
    bond.addGlobalParameter("k", k)
    bond.addBond(0, 1, [])
    system.addForce(bond)
    # A pair in 3-D needs the vector projection; with it the identity flow is exact, so one
    # augmented draw per frame gives the exact marginal density.
    force = make_force([0, 1], 3, identity=True, seed=5, projection="vector")
    system.addForce(force)
    context = make_context(system, "CPU", positions=[openmm.Vec3(0, 0, 0), openmm.Vec3(1, 0, 0)] * unit.nanometer)
    samples = force.sample(context, 20000)
    positions = nm(samples.positions)
    r2 = np.sum((positions[:, 0] - positions[:, 1])**2, axis=1)
    assert np.mean(r2) == pytest.approx(6.0, rel=0.05)       # the flow's own <r^2> = 3 * 2

    result = openmmbg.reweight(samples.positions, force, context, num_draws=1)
    weights = result.weights
    assert weights.shape == (20000,)
    assert np.all(weights >= 0.0)
    assert np.sum(weights) == pytest.approx(1.0, abs=1e-12)
    # ESS of w ~ exp(-r^2/4) under r ~ N(0, 2 I_3): E[w]^2 / E[w^2] = (sqrt(3)/2)^3 ~ 0.65.
    assert 0.3 < result.ess < 0.8
    mean = float(np.sum(weights * r2))
    standard_error = math.sqrt(float(np.sum(weights**2 * (r2 - mean)**2)))
    expected = 3.0 * KT / k
    assert 0.005 < standard_error < 0.05
    assert abs(mean - expected) < 4 * standard_error, (mean, expected, standard_error)
    # The unweighted mean is far off: the agreement is the reweighting.
    assert abs(np.mean(r2) - expected) > 50 * standard_error

    # Frames that are Boltzmann samples at the force's own temperature get uniform weights.
    uniform = openmmbg.reweight(samples.positions[:200], force, context, temperature=TEMPERATURE * unit.kelvin)
    np.testing.assert_allclose(uniform.weights, 1.0 / 200, rtol=1e-12)
    assert uniform.ess == pytest.approx(1.0, abs=1e-12)
    # ... and at another temperature they do not.
    hot = openmmbg.reweight(samples.positions[:200], force, context, temperature=2 * TEMPERATURE)
    assert hot.ess < 0.99


# ----------------------------------------------------------------------------------------------
# 4. Moving trained weights between Contexts and Systems
# ----------------------------------------------------------------------------------------------

def test_trained_weights_move_between_contexts_and_pickled_systems():
    system, force, context_a = chain_with_force("CPU", identity=True, seed=7)
    context_b = make_context(system, "CPU")
    probe = force.sample(context_b, 6).positions
    untrained = force.getWeights(context_b)
    assert isinstance(untrained, bytes)

    report = force.train(context_a, 2)
    assert set(report) == {"iterations", "lastLoss", "meanLoss", "skippedUpdates", "aisAcceptance", "seconds",
                           "totalIterations"}
    assert report["iterations"] == 2 and report["totalIterations"] == 2
    assert isinstance(report["iterations"], int)
    assert math.isfinite(report["lastLoss"])
    assert force.train(context_a, 1)["totalIterations"] == 3

    trained = force.getWeights(context_a)
    assert trained != untrained
    assert force.getWeights(context_b) == untrained
    before_a = force.computeLogProb(context_a, probe, 5)
    before_b = force.computeLogProb(context_b, probe, 5)
    assert np.max(np.abs(before_a - before_b)) > 1e-6

    force.setFlow(force.getFlowConfig(), trained)
    force.updateParametersInContext(context_b)
    force.updateParametersInContext(context_a)
    assert force.getWeights(context_b) == trained
    log_q_a = force.computeLogProb(context_a, probe, 5)
    log_q_b = force.computeLogProb(context_b, probe, 5)
    np.testing.assert_array_equal(log_q_a, log_q_b)

    # Pickling the System carries the force, its weights and settings: a new Context evaluates the same log q.
    for clone in (pickle.loads(pickle.dumps(system)),
                  openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))):
        copied = openmmbg.BoltzmannGeneratorForce.cast(clone.getForce(clone.getNumForces() - 1))
        assert copied.getFlowWeights() == trained
        assert copied.getRandomNumberSeed() == 7
        assert json.loads(copied.getTrainingSettings()) == json.loads(force.getTrainingSettings())
        context_c = make_context(clone, "CPU")
        np.testing.assert_array_equal(copied.computeLogProb(context_c, probe, 5), log_q_a)


def test_maximum_likelihood_training_on_samples_raises_their_density():
    system, force, context = chain_with_force("CPU", identity=True)
    force.setTrainingSettings(dict(FAST_FAB, schedule={"initialLr": 3e-3, "peakLr": 3e-3, "endLr": 3e-3}))
    force.updateParametersInContext(context)
    rng = np.random.default_rng(1)
    data = nm(CHAIN_POSITIONS)[np.newaxis] + 0.01 * rng.standard_normal((64, 4, 3))
    before = np.mean(force.computeLogProb(context, data, 4))
    report = force.trainOnSamples(context, data * unit.nanometer, 30)
    assert report["iterations"] == 30
    after = np.mean(force.computeLogProb(context, data, 4))
    assert after > before + 1.0, (before, after)


# ----------------------------------------------------------------------------------------------
# 5. The integrator inside openmm.app.Simulation on DW4
# ----------------------------------------------------------------------------------------------

DW4_POSITIONS = [openmm.Vec3(-2, -2, 0), openmm.Vec3(2, -2, 0), openmm.Vec3(2, 2, 0),
                 openmm.Vec3(-2, 2, 0)] * unit.nanometer


def dw4_simulation(flow_interval, training_interval):
    reference = openmmbg.systems.dw4()
    system = reference.system
    force = make_force([0, 1, 2, 3], 2, identity=False, seed=11, planar=True)
    system.addForce(force)
    integrator = openmmbg.BoltzmannGeneratorIntegrator(2.0 / unit.picosecond, 0.005 * unit.picoseconds)
    integrator.setFlowMoveInterval(flow_interval)
    integrator.setTrainingInterval(training_interval)
    integrator.setProposalBatchSize(4)
    integrator.setRandomNumberSeed(21)
    topology = app.Topology()
    residue = topology.addResidue("DW4", topology.addChain())
    for _ in range(4):
        topology.addAtom("X", None, residue)
    simulation = app.Simulation(topology, system, integrator, openmm.Platform.getPlatformByName("Reference"))
    simulation.context.setPositions(DW4_POSITIONS)
    simulation.context.setVelocitiesToTemperature(reference.temperature, 4)
    return simulation, integrator, force


def test_integrator_in_a_simulation_with_flow_moves_training_and_checkpoints():
    simulation, integrator, force = dw4_simulation(flow_interval=2, training_interval=5)
    assert integrator.getStepSize() == 0.005 * unit.picoseconds
    assert integrator.getFriction() == 2.0 / unit.picosecond
    simulation.step(10)
    assert integrator.getStepCount() == 10
    assert integrator.getNumFlowMoves() == 10 // 2
    assert integrator.getNumTrainingIterations() == 10 // 5
    assert 0 <= integrator.getNumAcceptedFlowMoves() <= integrator.getNumFlowMoves()
    assert 0.0 <= integrator.getAcceptanceRate() <= 1.0
    assert integrator.getAcceptanceRate() == pytest.approx(
        integrator.getNumAcceptedFlowMoves() / integrator.getNumFlowMoves())
    assert 0.0 <= integrator.getRunningEss() <= 1.0
    assert math.isfinite(integrator.getLastLoss())

    checkpoint = io.BytesIO()
    simulation.saveCheckpoint(checkpoint)
    simulation.step(12)
    first = simulation.context.getState(getPositions=True, getVelocities=True)
    first_positions = np.asarray(first.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    first_velocities = np.asarray(first.getVelocities(asNumpy=True).value_in_unit(unit.nanometer / unit.picosecond))
    counters = (integrator.getNumFlowMoves(), integrator.getNumAcceptedFlowMoves(), integrator.getLastLoss(),
                integrator.getRunningEss(), integrator.getNumTrainingIterations())
    assert integrator.getNumFlowMoves() == 22 // 2
    assert integrator.getNumTrainingIterations() == 22 // 5
    assert np.all(first_positions[:, 2] == 0.0) and np.all(first_velocities[:, 2] == 0.0)
    assert np.all(np.isfinite(first_positions))

    checkpoint.seek(0)
    simulation.loadCheckpoint(checkpoint)
    assert integrator.getStepCount() == 10
    assert integrator.getNumTrainingIterations() == 2
    simulation.step(12)
    second = simulation.context.getState(getPositions=True, getVelocities=True)
    np.testing.assert_array_equal(np.asarray(second.getPositions(asNumpy=True).value_in_unit(unit.nanometer)),
                                  first_positions)
    np.testing.assert_array_equal(np.asarray(second.getVelocities(asNumpy=True).value_in_unit(
        unit.nanometer / unit.picosecond)), first_velocities)
    assert (integrator.getNumFlowMoves(), integrator.getNumAcceptedFlowMoves(), integrator.getLastLoss(),
            integrator.getRunningEss(), integrator.getNumTrainingIterations()) == counters


# ----------------------------------------------------------------------------------------------
# 6. Serialization and pickling
# ----------------------------------------------------------------------------------------------

def test_integrator_pickle_keeps_every_setting():
    integrator = openmmbg.BoltzmannGeneratorIntegrator(3.0, 0.002)
    integrator.setFlowMoveInterval(5)
    integrator.setTrainingInterval(50)
    integrator.setProposalBatchSize(32)
    integrator.setEssWindow(100)
    integrator.setRandomNumberSeed(42)
    integrator.setIntegrationForceGroups(3)
    integrator.setConstraintTolerance(1e-7)
    restored = pickle.loads(pickle.dumps(integrator))
    assert isinstance(restored, openmmbg.BoltzmannGeneratorIntegrator)
    assert restored.getFriction() == 3.0 / unit.picosecond
    assert restored.getStepSize() == 0.002 * unit.picoseconds
    assert restored.getFlowMoveInterval() == 5
    assert restored.getTrainingInterval() == 50
    assert restored.getProposalBatchSize() == 32
    assert restored.getEssWindow() == 100
    assert restored.getRandomNumberSeed() == 42
    assert restored.getIntegrationForceGroups() == 3
    assert restored.getConstraintTolerance() == pytest.approx(1e-7)
    restored.setFlowMoveInterval(7)
    assert integrator.getFlowMoveInterval() == 5

    generic = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(integrator))
    assert openmmbg.BoltzmannGeneratorIntegrator.isinstance(generic)
    assert not openmmbg.BoltzmannGeneratorIntegrator.isinstance(openmm.VerletIntegrator(0.001))
    assert openmmbg.BoltzmannGeneratorIntegrator.cast(generic).getEssWindow() == 100
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorIntegrator"):
        openmmbg.BoltzmannGeneratorIntegrator.cast(openmm.VerletIntegrator(0.001))


def test_force_xml_round_trip_keeps_planar_seed_training_settings_and_flow():
    force = make_force([3, 1, 0, 2], 2, identity=False, seed=1234, planar=True)
    system = make_chain()
    system.addForce(force)
    weights = force.getWeights(make_context(system))   # setFlow takes saved-flow bytes of the same configuration
    force.setFlow(force.getFlowConfig(), weights)
    settings = {"batchSize": 8, "epochs": 3, "fab": {"updatesPerIteration": 1}}
    force.setTrainingSettings(json.dumps(settings))
    generic = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(force))
    assert openmmbg.BoltzmannGeneratorForce.isinstance(generic)
    restored = openmmbg.BoltzmannGeneratorForce.cast(generic)
    assert restored.isPlanar() and restored.getDimension() == 2
    assert restored.getRandomNumberSeed() == 1234
    assert restored.getParticles() == (3, 1, 0, 2)
    assert json.loads(restored.getTrainingSettings()) == json.loads(force.getTrainingSettings())
    assert json.loads(restored.getTrainingSettings())["batchSize"] == 8
    assert json.loads(restored.getFlowConfig()) == json.loads(force.getFlowConfig())
    assert restored.getFlowWeights() == weights
    pickled = pickle.loads(pickle.dumps(force))
    assert pickled.isPlanar() and pickled.getRandomNumberSeed() == 1234

    for i in range(system.getNumForces()):
        assert openmmbg.BoltzmannGeneratorForce.isinstance(system.getForce(i)) == (i == 1)
    assert openmmbg.BoltzmannGeneratorForce.cast(system.getForce(1)).getRandomNumberSeed() == 1234


# ----------------------------------------------------------------------------------------------
# 7. Errors
# ----------------------------------------------------------------------------------------------

def test_unknown_training_setting_raises():
    force = openmmbg.BoltzmannGeneratorForce([0, 1], 300)
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorForce") as error:
        force.setTrainingSettings({"batchSize": 16, "noSuchSetting": 1})
    assert "noSuchSetting" in str(error.value)


def test_bad_positions_and_contexts_raise_informative_errors():
    system, force, context = chain_with_force()
    with pytest.raises((openmm.OpenMMException, ValueError), match="BoltzmannGeneratorForce") as error:
        force.computeLogProb(context, np.zeros((2, 3, 3)))
    assert "4" in str(error.value) and "(2, 3, 3)" in str(error.value)
    with_nan = nm(CHAIN_POSITIONS)
    with_nan[2, 1] = np.nan
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorForce.*not finite|not finite.*BoltzmannGeneratorForce"):
        force.computeLogWeights(context, with_nan[np.newaxis])
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorForce.*positive|positive.*BoltzmannGeneratorForce"):
        force.sample(context, 0)
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorForce.*positive|positive.*BoltzmannGeneratorForce"):
        force.train(context, 0)
    other = make_context(make_chain())
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorForce.*not part of the Context"):
        force.sample(other, 2)
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorForce"):
        force.getWeights(other)


def test_integrator_without_a_boltzmann_generator_force_raises():
    integrator = openmmbg.BoltzmannGeneratorIntegrator(1.0, 0.001)
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorIntegrator.*no BoltzmannGeneratorForce"):
        openmm.Context(make_chain(), integrator, openmm.Platform.getPlatformByName("Reference"))
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorIntegrator.*friction"):
        openmmbg.BoltzmannGeneratorIntegrator(-1.0, 0.001)
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorIntegrator.*not bound"):
        openmmbg.BoltzmannGeneratorIntegrator(1.0, 0.001).step(1)
