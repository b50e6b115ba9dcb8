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
    """log density of the zero-CoM standard Gaussian: -|x - mean(x)|^2/2 - (N-1) D/2 log(2 pi)."""
    n = positions.shape[1]
    centred = positions - positions.mean(axis=1, keepdims=True)
    return -0.5 * np.sum(centred**2, axis=(1, 2)) - 0.5 * (n - 1) * dimension * math.log(2 * math.pi)


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
    # Samples are centred where the modelled particles are in the Context.
    current = nm(context.getState(getPositions=True).getPositions(asNumpy=True))
    np.testing.assert_allclose(positions.mean(axis=1), np.broadcast_to(current.mean(axis=0), (12, 3)), atol=1e-10)
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
    np.testing.assert_allclose(positions.mean(axis=1)[:, :dimension],
                               np.broadcast_to(start.mean(axis=0)[:dimension], (16, dimension)), atol=1e-10)
    log_q = force.computeLogProb(context, samples.positions, numDraws=3)
    np.testing.assert_allclose(log_q, closed_form_log_prob(positions, dimension), rtol=1e-8, atol=1e-8)
    log_w = force.computeLogWeights(context, samples.positions, numDraws=3)
    energies = np.asarray(samples.energies.value_in_unit(unit.kilojoule_per_mole))
    np.testing.assert_allclose(log_w, -energies / KT - log_q, rtol=1e-8, atol=1e-8)
    # The sampled log-weights (joint density with pi(a|x)) agree, as the flow is the identity.
    np.testing.assert_allclose(samples.logWeights, log_w, rtol=1e-8, atol=1e-8)
    # So do the weights over several augmented draws (every draw gives log q(x, a) - log pi(a|x) = log q(x)).
    multi = force.sample(context, 16, weightDraws=4)
    multi_energies = np.asarray(multi.energies.value_in_unit(unit.kilojoule_per_mole))
    np.testing.assert_allclose(multi.logWeights, -multi_energies / KT - closed_form_log_prob(nm(multi.positions), dimension),
                               rtol=1e-8, atol=1e-8)


def test_weight_draws_are_checked():
    system, force, context = chain_with_force(identity=False, seed=3)
    with pytest.raises(openmm.OpenMMException, match="BoltzmannGeneratorForce: sample.*positive number of weight draws"):
        force.sample(context, 4, weightDraws=0)
    with pytest.raises(TypeError, match="BoltzmannGeneratorForce.sample.*weightDraws"):
        force.sample(context, 4, weightDraws=2.5)
    assert np.all(np.isfinite(force.sample(context, 4, weightDraws=3).logWeights))


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
# 3b. reweight semantics: MD-only restraints, unit cells, exact flow weights, particle order
# ----------------------------------------------------------------------------------------------

def softmax(log_weights):
    shifted = np.exp(np.asarray(log_weights) - np.max(log_weights))
    return shifted / shifted.sum()


def context_energies(context, frames, boxes=None, groups=-1):
    """Potential energies (kJ/mol) of whole-System frames (nm) in a plain Context, optionally with a box per frame."""
    energies = []
    for t, frame in enumerate(frames):
        if boxes is not None:
            context.setPeriodicBoxVectors(*[openmm.Vec3(*row) for row in boxes[t]])
        context.setPositions(frame * unit.nanometer)
        energies.append(context.getState(getEnergy=True, groups=groups).getPotentialEnergy().value_in_unit(
            unit.kilojoule_per_mole))
    return np.array(energies)


def restrained_pair(k_target, k_restraint):
    """Two particles with a target bond 0.5 k_target r^2 (group 0) and an MD-only restraint
    0.5 k_restraint r^2 in group 1, the generator's own group (so not part of its target)."""
    system = openmm.System()
    system.addParticle(12.0)
    system.addParticle(12.0)
    bond = openmm.CustomBondForce("0.5*k*r^2")
    bond.addGlobalParameter("k", k_target)
    bond.addBond(0, 1, [])
    system.addForce(bond)
    restraint = openmm.CustomBondForce("0.5*kr*r^2")
    restraint.addGlobalParameter("kr", k_restraint)
    restraint.addBond(0, 1, [])
    restraint.setForceGroup(1)
    system.addForce(restraint)
    force = make_force([0, 1], 3, identity=True, seed=5, projection="vector")
    force.setForceGroup(1)
    system.addForce(force)
    context = make_context(system, "Reference", positions=[openmm.Vec3(0, 0, 0), openmm.Vec3(0.3, 0, 0)] * unit.nanometer)
    return system, force, context


def test_reweight_md_frames_accounts_for_md_only_restraints():
    # MD samples exp(-(U + U_r)/kT) with U = k r^2/2 and U_r = k_r r^2/2 (a restraint in the
    # generator's own group); the target is exp(-U/kT): w = exp(+U_r/kT), <r^2> = 3 kT/k.
    k, k_restraint = 2.0 * KT, 1.0 * KT
    system, force, context = restrained_pair(k, k_restraint)
    rng = np.random.default_rng(31)
    n = 3000
    first = rng.normal(0.0, 0.5, size=(n, 3))
    separation = rng.normal(0.0, math.sqrt(KT / (k + k_restraint)), size=(n, 3))
    frames = np.stack([first, first + separation], axis=1)
    before = nm(context.getState(getPositions=True).getPositions(asNumpy=True))

    result = openmmbg.reweight(frames, force, context, temperature=TEMPERATURE)
    np.testing.assert_array_equal(nm(context.getState(getPositions=True).getPositions(asNumpy=True)), before)
    r2 = np.sum(separation**2, axis=1)
    # The weights are exp(U_r/kT) normalised (today they were exactly uniform).
    np.testing.assert_allclose(result.weights, softmax(0.5 * k_restraint * r2 / KT), rtol=1e-9)
    assert result.ess < 0.95
    mean = float(np.sum(result.weights * r2))
    standard_error = math.sqrt(float(np.sum(result.weights**2 * (r2 - mean)**2)))
    expected = 3.0 * KT / k
    assert standard_error < 0.05
    assert abs(mean - expected) < 4 * standard_error, (mean, expected, standard_error)
    assert abs(np.mean(r2) - expected) > 10 * standard_error      # the unweighted mean is 1.0, not 1.5

    # md_groups names the forces the MD integrated: an MD without the restraint sampled the target.
    for md_groups in ({0}, 1, [0]):
        uniform = openmmbg.reweight(frames, force, context, temperature=TEMPERATURE * unit.kelvin, md_groups=md_groups)
        np.testing.assert_allclose(uniform.weights, 1.0 / n, rtol=1e-12)
    for md_groups in ({0, 1}, 0b11, -1):
        same = openmmbg.reweight(frames, force, context, temperature=TEMPERATURE, md_groups=md_groups)
        np.testing.assert_allclose(same.weights, result.weights, rtol=1e-12)
    # An MD of the restraint alone: w = exp(-U/kT + U_r/kT).
    only = openmmbg.reweight(frames, force, context, temperature=TEMPERATURE, md_groups={1})
    np.testing.assert_allclose(only.weights, softmax(0.5 * (k_restraint - k) * r2 / KT), rtol=1e-9)
    with pytest.raises(ValueError, match="md_groups"):
        openmmbg.reweight(frames, force, context, temperature=TEMPERATURE, md_groups={32})
    with pytest.raises(ValueError, match="md_groups"):
        openmmbg.reweight(frames, force, context, md_groups={0})       # flow frames: no MD


def periodic_lj_system(lj_group=0, box=None, cutoff=0.9, mass=40.0):
    """Three particles in a periodic box (default 2 nm cubic; ``box``: three Vec3, nm), Lennard-Jones
    (sigma 0.3 nm, epsilon 1 kJ/mol, ``cutoff`` nm, CutoffPeriodic) between all pairs, so the energy
    depends on the box."""
    system = openmm.System()
    for _ in range(3):
        system.addParticle(mass)
    if box is None:
        box = (openmm.Vec3(2, 0, 0), openmm.Vec3(0, 2, 0), openmm.Vec3(0, 0, 2))
    system.setDefaultPeriodicBoxVectors(*box)
    lj = openmm.CustomNonbondedForce("4*eps*((sig/r)^12-(sig/r)^6); sig=0.3; eps=1")
    lj.setNonbondedMethod(openmm.CustomNonbondedForce.CutoffPeriodic)
    lj.setCutoffDistance(cutoff)
    for _ in range(3):
        lj.addParticle([])
    lj.setForceGroup(lj_group)
    system.addForce(lj)
    return system


def npt_frames():
    """mdtraj Trajectory of 4 whole-System frames in boxes of 2.0 and 2.2 nm: particles 0 and 1
    apart by about 0.35 nm, particle 2 near the far face (its periodic image is in range)."""
    import mdtraj
    rng = np.random.default_rng(41)
    frames, boxes = [], []
    for size in (2.0, 2.2, 2.0, 2.2):
        frame = np.array([[0.1, 0.1, 0.1], [0.45, 0.1, 0.1], [1.75, 0.1, 0.1]]) + rng.normal(0.0, 0.01, size=(3, 3))
        frames.append(frame)
        boxes.append(np.eye(3) * size)
    topology = mdtraj.Topology()
    residue = topology.add_residue("AR", topology.add_chain())
    for _ in range(3):
        topology.add_atom("Ar", mdtraj.element.argon, residue)
    frames, boxes = np.array(frames, dtype=np.float32), np.array(boxes, dtype=np.float32)
    trajectory = mdtraj.Trajectory(frames, topology)
    trajectory.unitcell_vectors = boxes
    return trajectory, frames.astype(np.float64), boxes.astype(np.float64)


def test_reweight_npt_frames_use_each_frames_box_for_md_only_energies():
    # The Lennard-Jones force is MD-only (the generator's group 1); the target is a weak bond.
    # At T' = T the log-weights are U_LJ/kT, U_LJ in each frame's own box.
    system = periodic_lj_system(lj_group=1)
    bond = openmm.HarmonicBondForce()
    bond.addBond(0, 1, 0.35, 1.0)
    system.addForce(bond)
    plain = make_context(openmm.XmlSerializer.clone(system), "Reference", positions=[openmm.Vec3(0, 0, 0)] * 3)
    force = make_force([0, 1], 3, identity=True, seed=5, projection="vector")
    force.setForceGroup(1)
    system.addForce(force)
    context = make_context(system, "Reference", positions=[openmm.Vec3(0.1, 0.1, 0.1), openmm.Vec3(0.45, 0.1, 0.1),
                                                          openmm.Vec3(1.75, 0.1, 0.1)] * unit.nanometer)
    box_before = context.getState().getPeriodicBoxVectors()
    trajectory, frames, boxes = npt_frames()
    expected = context_energies(plain, frames, boxes, groups={1})
    assert abs(expected[1] - expected[0]) > 0.2        # the box matters
    result = openmmbg.reweight(trajectory, force, context, temperature=TEMPERATURE)
    np.testing.assert_allclose(result.weights, softmax(expected / KT), rtol=1e-6)
    assert context.getState().getPeriodicBoxVectors() == box_before


def test_reweight_npt_frames_use_each_frames_box_for_target_energies(tmp_path):
    system = periodic_lj_system()
    plain = make_context(openmm.XmlSerializer.clone(system), "Reference", positions=[openmm.Vec3(0, 0, 0)] * 3)
    force = make_force([0, 1], 3, identity=True, seed=5, projection="vector")
    system.addForce(force)
    context = make_context(system, "Reference", positions=[openmm.Vec3(0.1, 0.1, 0.1), openmm.Vec3(0.45, 0.1, 0.1),
                                                          openmm.Vec3(1.75, 0.1, 0.1)] * unit.nanometer)
    box_before = context.getState().getPeriodicBoxVectors()
    trajectory, frames, boxes = npt_frames()
    expected = context_energies(plain, frames, boxes)
    # MD at 2T reweighted to T: log w = U (1/2kT - 1/kT) with U in each frame's box.
    hot = openmmbg.reweight(trajectory, force, context, temperature=2 * TEMPERATURE)
    assert context.getState().getPeriodicBoxVectors() == box_before
    # Flow frames: log w = -U/kT - log q, the identity flow's log q exact with one draw.
    log_q = force.computeLogProb(context, frames[:, :2], 1)
    flow = openmmbg.reweight(trajectory, force, context, num_draws=1)
    # The same frames written to an NPT DCD file are read with their cells.
    path = tmp_path / "npt.dcd"
    topology = trajectory.topology.to_openmm()
    topology.setUnitCellDimensions(openmm.Vec3(2, 2, 2) * unit.nanometer)     # DCDFile writes cells only then
    with open(path, "wb") as handle:
        dcd = app.DCDFile(handle, topology, 0.002 * unit.picoseconds)
        for frame, box in zip(frames, boxes):
            dcd.writeModel(frame * unit.nanometer, periodicBoxVectors=box * unit.nanometer)
    from_file = openmmbg.reweight(str(path), force, context, temperature=2 * TEMPERATURE)
    np.testing.assert_allclose(hot.weights, softmax(-expected / (2 * KT)), rtol=1e-6)
    np.testing.assert_allclose(from_file.weights, hot.weights, rtol=1e-5)
    np.testing.assert_allclose(flow.weights, softmax(-expected / KT - log_q), rtol=1e-6)


def test_reweight_flow_samples_uses_their_exact_log_weights():
    system, force, context = chain_with_force(identity=False, seed=3)
    samples = force.sample(context, 64)
    result = openmmbg.reweight(samples, force, context)
    # Weights below the smallest normal double (about 2.2e-308) are subnormal and keep fewer digits, so
    # they are compared absolutely at that scale; every normal weight to 1e-12 relative.
    np.testing.assert_allclose(result.weights, softmax(samples.logWeights), rtol=1e-12,
                               atol=np.finfo(float).tiny)
    assert result.ess == pytest.approx(1.0 / (64 * np.sum(result.weights**2)), rel=1e-12)
    # The positions alone go through the marginal estimate of log q, which differs.
    estimated = openmmbg.reweight(samples.positions, force, context, num_draws=2)
    assert not np.allclose(estimated.weights, result.weights, rtol=1e-3)
    with pytest.raises(ValueError, match="FlowSamples"):
        openmmbg.reweight(samples, force, context, temperature=TEMPERATURE)


def test_reweight_whole_system_frames_of_a_reordered_force():
    # A bond between particles 0 and 1 only; the force models [2, 0, 1] (every particle, permuted).
    system = openmm.System()
    for _ in range(3):
        system.addParticle(12.0)
    bond = openmm.HarmonicBondForce()
    bond.addBond(0, 1, 0.15, 500.0)
    system.addForce(bond)
    plain = make_context(openmm.XmlSerializer.clone(system), positions=[openmm.Vec3(0, 0, 0)] * 3)
    force = make_force([2, 0, 1], 3, identity=True, seed=5)
    system.addForce(force)
    context = make_context(system, positions=[openmm.Vec3(0, 0, 0), openmm.Vec3(0.15, 0, 0), openmm.Vec3(1, 0, 0)] *
                           unit.nanometer)
    rng = np.random.default_rng(51)
    frames = np.array([[0, 0, 0], [0.15, 0, 0], [0.9, 0, 0]]) + rng.normal(0.0, 0.05, size=(20, 3, 3))
    energies = context_energies(plain, frames)
    expected = softmax(energies * (1 / (KB * 2 * TEMPERATURE) - 1 / KT))
    in_force_order = frames[:, [2, 0, 1]]
    wrong = force.computeEnergies(context, frames).value_in_unit(unit.kilojoule_per_mole)
    assert not np.allclose(wrong, energies, rtol=1e-3)                 # the order matters here
    with pytest.warns(UserWarning, match="order='force'"):   # the ambiguous case is flagged
        system_frames = openmmbg.reweight(frames, force, context, temperature=2 * TEMPERATURE)
    np.testing.assert_allclose(system_frames.weights, expected, rtol=1e-9)
    explicit = openmmbg.reweight(frames, force, context, temperature=2 * TEMPERATURE, order="system")
    np.testing.assert_allclose(explicit.weights, expected, rtol=1e-9)
    force_frames = openmmbg.reweight(in_force_order, force, context, temperature=2 * TEMPERATURE, order="force")
    np.testing.assert_allclose(force_frames.weights, expected, rtol=1e-9)
    with pytest.raises(ValueError, match="order"):
        openmmbg.reweight(frames, force, context, temperature=2 * TEMPERATURE, order="sideways")


def test_reweight_triclinic_unit_cells_of_openmm_boxes(tmp_path):
    # A rhombic dodecahedron written by OpenMM's DCDReporter: the cell read back from its lengths and
    # angles carries rounding that OpenMM's reduced-form check refuses unless it is rebuilt.
    from openmm.app.internal.unitcell import computePeriodicBoxVectors
    box = computePeriodicBoxVectors(3.0, 3.0, 3.0, math.radians(60), math.radians(60), math.radians(90))
    system = periodic_lj_system(box=box, cutoff=1.0, mass=12.0)
    force = make_force([0, 1], 3, identity=True, seed=5, projection="vector")
    system.addForce(force)
    positions = [openmm.Vec3(0.1, 0.1, 0.1), openmm.Vec3(0.45, 0.1, 0.1), openmm.Vec3(1.2, 1.0, 0.9)] * unit.nanometer
    context = make_context(system, positions=positions)
    topology = app.Topology()
    chain = topology.addChain()
    for _ in range(3):
        residue = topology.addResidue("AR", chain)
        topology.addAtom("AR", app.Element.getBySymbol("Ar"), residue)
    topology.setPeriodicBoxVectors(box)
    path = str(tmp_path / "dodecahedron.dcd")
    simulation = app.Simulation(topology, openmm.XmlSerializer.clone(system), openmm.VerletIntegrator(0.001),
                                openmm.Platform.getPlatformByName("Reference"))
    simulation.context.setPositions(positions)
    simulation.reporters.append(app.DCDReporter(path, 1))
    simulation.step(3)
    del simulation
    result = openmmbg.reweight(path, force, context, temperature=TEMPERATURE)
    assert result.weights.shape == (3,) and np.isclose(result.weights.sum(), 1.0)


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
    integrator.setWeightDraws(8)
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
    assert restored.getWeightDraws() == 8
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
