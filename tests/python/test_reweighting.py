"""openmmbg.trajectories and openmmbg.reweighting: trajectory reading (mdtraj), conversion and
importance reweighting with a fake BoltzmannGeneratorForce; openmmbg.analysis.plot_ramachandran_reweighting."""
import os
import struct
import warnings

import numpy as np
import openmm
import pytest
from openmm import app, unit

from openmmbg import analysis, reweighting, trajectories

KB = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin)


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def make_topology(num_atoms, box_nm=None):
    """A Topology of ``num_atoms`` argon atoms, periodic with a cubic box of ``box_nm`` if given."""
    topology = app.Topology()
    residue = topology.addResidue("ARG", topology.addChain())
    for _ in range(num_atoms):
        topology.addAtom("Ar", app.element.argon, residue)
    if box_nm is not None:
        topology.setUnitCellDimensions(openmm.Vec3(box_nm, box_nm, box_nm) * unit.nanometer)
    return topology


def write_openmm_dcd(path, frames_nm, box_nm=None):
    """Write frames [T, n, 3] (nm) with openmm.app.DCDFile."""
    topology = make_topology(frames_nm.shape[1], box_nm)
    with open(path, "wb") as handle:
        dcd = app.DCDFile(handle, topology, 0.002 * unit.picoseconds)
        for frame in frames_nm:
            dcd.writeModel(frame * unit.nanometer)
    return topology


def write_dcd_by_hand(path, frames_angstrom, endian, cell=False):
    """A minimal DCD file written with struct in the given byte order ('<' or '>')."""
    num_frames, num_atoms, _ = frames_angstrom.shape

    def record(payload):
        return struct.pack(endian + "i", len(payload)) + payload + struct.pack(endian + "i", len(payload))
    control = [num_frames, 0, 1, num_frames, 0, 0, 0, 0, 0, 0, int(cell)] + [0] * 8 + [24]
    header = b"CORD" + struct.pack(endian + "9if10i", *control[:9], 0.01, *control[10:])
    data = record(header) + record(struct.pack(endian + "i", 1) + b"hand written".ljust(80))
    data += record(struct.pack(endian + "i", num_atoms))
    for frame in frames_angstrom:
        if cell:
            data += record(struct.pack(endian + "6d", 30.0, 0.0, 30.0, 0.0, 0.0, 30.0))
        for axis in range(3):
            data += record(frame[:, axis].astype(endian + "f4").tobytes())
    with open(path, "wb") as handle:
        handle.write(data)


class FakeSystem:
    def __init__(self, num_particles):
        self.num_particles = num_particles

    def getNumParticles(self):
        return self.num_particles

    def getNumForces(self):
        return 0

    def usesPeriodicBoundaryConditions(self):
        return False


class FakeState:
    def __init__(self, positions):
        self.positions = positions

    def getPositions(self, asNumpy=False):
        return self.positions


class FakeContext:
    """getSystem(), and positions that reweight() sets per frame and restores."""

    def __init__(self, num_particles):
        self.system = FakeSystem(num_particles)
        self.positions = unit.Quantity(np.zeros((num_particles, 3)), unit.nanometer)
        self.history = []

    def getSystem(self):
        return self.system

    def getState(self, getPositions=False):
        return FakeState(self.positions)

    def setPositions(self, positions):
        self.positions = positions
        self.history.append(np.asarray(positions.value_in_unit(unit.nanometer)).copy())


class FakeForce:
    """The reweighting interface of BoltzmannGeneratorForce. Flow samples: q = N(0, sq^2) and
    p = N(0, sp^2) per coordinate, log w = log p - log q plus a large constant (so a naive
    normalisation would underflow). Energies: U = stiffness * sum x^2 kJ/mol."""

    def __init__(self, particles, sp=1.0, sq=1.2, temperature=300.0, stiffness=50.0, offset=-5000.0):
        self.particles = list(particles)
        self.sp, self.sq, self.offset = sp, sq, offset
        self.temperature = temperature
        self.stiffness = stiffness
        self.calls = []

    def getNumParticles(self):
        return len(self.particles)

    def getParticles(self):
        return tuple(self.particles)

    def getTemperature(self):
        return self.temperature * unit.kelvin

    def computeLogWeights(self, context, positions, num_draws):
        self.calls.append(("computeLogWeights", positions, num_draws))
        x2 = np.sum(positions**2, axis=(1, 2))
        d = positions.shape[1] * positions.shape[2]
        log_p = -0.5 * x2 / self.sp**2 - d * np.log(self.sp)
        log_q = -0.5 * x2 / self.sq**2 - d * np.log(self.sq)
        return log_p - log_q + self.offset

    def energies(self, positions):
        return self.stiffness * np.sum(positions**2, axis=(1, 2))

    def computeEnergies(self, context, positions):
        self.calls.append(("computeEnergies", positions, None))
        return self.energies(positions) * unit.kilojoule_per_mole


# ----------------------------------------------------------------------------------------------
# DCD (read by mdtraj)
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("box_nm", [None, 3.0])
def test_dcd_round_trip(tmp_path, box_nm):
    frames = np.random.default_rng(10).uniform(-1.5, 1.5, size=(5, 7, 3))
    path = tmp_path / "trajectory.dcd"
    topology = write_openmm_dcd(str(path), frames, box_nm)
    data = path.read_bytes()
    assert struct.unpack("<i", data[48:52])[0] == (0 if box_nm is None else 1)   # unit-cell flag
    positions = reweighting.trajectory_positions(str(path))
    assert positions.dtype == np.float64 and positions.shape == (5, 7, 3)
    expected = (frames * 10.0).astype(np.float32).astype(np.float64) / 10.0
    np.testing.assert_allclose(positions, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(positions, frames, rtol=0, atol=1e-6)
    # With a topology, mdtraj.load reads the same frames.
    np.testing.assert_allclose(reweighting.trajectory_positions(path, top=topology), positions, rtol=0, atol=1e-6)
    # Unit cells come with the frames (nm, rows a, b, c).
    _, boxes = trajectories.read_frames(path)
    if box_nm is None:
        assert boxes is None
    else:
        np.testing.assert_allclose(boxes, np.broadcast_to(np.eye(3) * box_nm, (5, 3, 3)), atol=1e-6)


def test_dcd_frames_keep_their_own_unit_cells(tmp_path):
    frames = np.random.default_rng(21).uniform(0.0, 2.0, size=(3, 4, 3))
    sizes = [2.0, 2.2, 2.5]
    topology = make_topology(4, 2.0)
    path = tmp_path / "npt.dcd"
    with open(path, "wb") as handle:
        dcd = app.DCDFile(handle, topology, 0.002 * unit.picoseconds)
        for frame, size in zip(frames, sizes):
            dcd.writeModel(frame * unit.nanometer, periodicBoxVectors=np.eye(3) * size * unit.nanometer)
    for source in (path, None):
        if source is None:
            import mdtraj
            source = mdtraj.load(str(path), top=mdtraj.Topology.from_openmm(topology))
        positions, boxes = trajectories.read_frames(source)
        np.testing.assert_allclose(positions, frames, atol=1e-6)
        np.testing.assert_allclose(boxes, [np.eye(3) * size for size in sizes], atol=1e-6)


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("cell", [False, True])
def test_dcd_both_byte_orders(tmp_path, endian, cell):
    frames = np.random.default_rng(11).normal(size=(3, 4, 3)).astype(np.float32)
    path = tmp_path / "hand.dcd"
    write_dcd_by_hand(str(path), frames, endian, cell)
    np.testing.assert_allclose(reweighting.trajectory_positions(path), frames.astype(np.float64) / 10.0, rtol=1e-6)


def test_dcd_malformed_files_raise(tmp_path):
    good = tmp_path / "good.dcd"
    write_openmm_dcd(str(good), np.zeros((2, 3, 3)), 2.0)
    data = good.read_bytes()
    cases = {"garbage.dcd": b"this is not a DCD file at all",
             "empty.dcd": b"",
             "short-header.dcd": data[:60],
             "wrong-tag.dcd": data[:4] + b"VELD" + data[8:]}
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=name):
            reweighting.trajectory_positions(path)
    with pytest.raises(FileNotFoundError):
        reweighting.trajectory_positions(tmp_path / "missing.dcd")


# ----------------------------------------------------------------------------------------------
# trajectory_positions
# ----------------------------------------------------------------------------------------------

FRAMES = np.random.default_rng(12).normal(size=(4, 5, 3))


def vec3_frames(frames):
    return [[openmm.Vec3(*atom) for atom in frame] for frame in frames]


@pytest.mark.parametrize("kind", ["array", "single-frame", "quantity-array-angstrom", "quantity-vec3",
                                  "list-of-quantities", "list-of-lists", "mdtraj", "path-str", "pathlib"])
def test_trajectory_positions_inputs(tmp_path, kind):
    frames = FRAMES
    if kind == "array":
        trajectory = frames
    elif kind == "single-frame":
        frames = FRAMES[:1]
        trajectory = FRAMES[0]
    elif kind == "quantity-array-angstrom":
        trajectory = unit.Quantity(frames * 10.0, unit.angstrom)
    elif kind == "quantity-vec3":
        trajectory = unit.Quantity(vec3_frames(frames), unit.nanometer)
    elif kind == "list-of-quantities":
        trajectory = [unit.Quantity([openmm.Vec3(*a) for a in frame], unit.nanometer) for frame in frames]
    elif kind == "list-of-lists":
        trajectory = [frame.tolist() for frame in frames]
    elif kind == "mdtraj":
        import mdtraj
        trajectory = mdtraj.Trajectory(frames.astype(np.float32), mdtraj.Topology.from_openmm(make_topology(5)))
        frames = frames.astype(np.float32).astype(np.float64)
    else:
        path = tmp_path / "t.dcd"
        write_openmm_dcd(str(path), frames)
        trajectory = str(path) if kind == "path-str" else path
        frames = (frames * 10.0).astype(np.float32).astype(np.float64) / 10.0
    positions = reweighting.trajectory_positions(trajectory)
    assert positions.dtype == np.float64 and positions.shape == frames.shape
    np.testing.assert_allclose(positions, frames, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((2, 3, 2)), np.zeros((0, 4, 3)), 3.0, {"x": 1},
                                 unit.Quantity(np.zeros((2, 3)), unit.kelvin),
                                 [[[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]]])
def test_trajectory_positions_rejects(bad):
    with pytest.raises(ValueError):
        reweighting.trajectory_positions(bad)


# ----------------------------------------------------------------------------------------------
# reweight: flow samples
# ----------------------------------------------------------------------------------------------

def gaussian_ess_fraction(sp, sq, dims):
    """Asymptotic ESS fraction E_q[w]^2 / E_q[w^2] for p = N(0, sp^2), q = N(0, sq^2) per
    dimension (needs sq^2 > sp^2 / 2)."""
    return (sp * np.sqrt(2.0 * sq**2 - sp**2) / sq**2) ** dims


def test_reweight_flow_samples_gaussian():
    sp, sq, n = 1.0, 1.2, 20000
    frames = np.random.default_rng(13).normal(0.0, sq, size=(n, 1, 3))
    force = FakeForce([0], sp=sp, sq=sq)
    result = reweighting.reweight(frames, force, FakeContext(1), num_draws=7)
    assert isinstance(result, reweighting.Reweighting)
    w = result.weights
    assert w.shape == (n,) and np.all(w >= 0.0)
    assert np.sum(w) == pytest.approx(1.0, abs=1e-12)
    assert force.calls[0][0] == "computeLogWeights" and force.calls[0][2] == 7
    # Self-normalised estimate of <x^2> under p, with its delta-method standard error.
    f = np.mean(frames[:, 0, :] ** 2, axis=1)
    estimate = np.sum(w * f)
    standard_error = np.sqrt(np.sum(w**2 * (f - estimate) ** 2))
    assert abs(estimate - sp**2) < 3.0 * standard_error
    assert standard_error < 0.05
    assert result.ess == pytest.approx(gaussian_ess_fraction(sp, sq, 3), rel=0.05)
    assert result.ess == pytest.approx(1.0 / (n * np.sum(w**2)), rel=1e-12)


def test_reweight_equal_distributions_uniform():
    frames = np.random.default_rng(14).normal(size=(100, 2, 3))
    result = reweighting.reweight(frames, FakeForce([0, 1], sp=1.0, sq=1.0), FakeContext(2))
    np.testing.assert_allclose(result.weights, np.full(100, 0.01), rtol=1e-12)
    assert result.ess == pytest.approx(1.0, rel=1e-12)


def test_reweight_selects_force_particles_from_system_frames():
    frames = np.random.default_rng(15).normal(size=(6, 10, 3))
    particles = [1, 3, 4, 8]
    force = FakeForce(particles)
    context = FakeContext(10)
    full = reweighting.reweight(frames, force, context)
    # The force models a subset, so each frame is evaluated with the Context set to that whole
    # frame, and the Context's positions are restored afterwards.
    assert len(context.history) == 7
    for t in range(6):
        np.testing.assert_array_equal(context.history[t], frames[t])
    np.testing.assert_array_equal(context.history[-1], np.zeros((10, 3)))
    assert [call[1].shape for call in force.calls] == [(1, 4, 3)] * 6
    np.testing.assert_array_equal(np.concatenate([call[1] for call in force.calls]), frames[:, particles, :])
    direct = reweighting.reweight(frames[:, particles, :], force, FakeContext(10))
    np.testing.assert_allclose(full.weights, direct.weights, rtol=1e-12)
    np.testing.assert_array_equal(force.calls[-1][1], frames[:, particles, :])


def test_reweight_wrong_particle_count():
    with pytest.raises(ValueError, match=r"5 particles.*acts on 4.*System has 10"):
        reweighting.reweight(np.zeros((3, 5, 3)), FakeForce([1, 3, 4, 8]), FakeContext(10))


def test_reweight_non_finite_log_weights():
    frames = np.random.default_rng(16).normal(size=(8, 1, 3))

    class PartlyBroken(FakeForce):
        def computeLogWeights(self, context, positions, num_draws):
            lw = super().computeLogWeights(context, positions, num_draws)
            lw[[2, 5]] = [np.nan, -np.inf]
            return lw
    with pytest.warns(UserWarning, match="2 of 8"):
        result = reweighting.reweight(frames, PartlyBroken([0]), FakeContext(1))
    assert result.weights[2] == 0.0 and result.weights[5] == 0.0
    assert np.sum(result.weights) == pytest.approx(1.0, abs=1e-12)
    assert 0.0 < result.ess <= 0.75

    class Broken(FakeForce):
        def computeLogWeights(self, context, positions, num_draws):
            return np.full(len(positions), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="non-finite"):
            reweighting.reweight(frames, Broken([0]), FakeContext(1))


# ----------------------------------------------------------------------------------------------
# reweight: Boltzmann samples at another temperature
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("temperature", [450.0, 450.0 * unit.kelvin])
def test_reweight_temperature_matches_numpy(temperature):
    frames = np.random.default_rng(17).normal(0.0, 0.3, size=(500, 3, 3))
    force = FakeForce([0, 1, 2], temperature=300.0)
    result = reweighting.reweight(frames, force, FakeContext(3), temperature=temperature)
    assert force.calls[-1][0] == "computeEnergies"
    u = force.energies(frames)
    log_w = -u / (KB * 300.0) + u / (KB * 450.0)
    expected = np.exp(log_w - log_w.max())
    expected /= expected.sum()
    np.testing.assert_allclose(result.weights, expected, rtol=1e-10)
    assert result.ess == pytest.approx(expected.sum() ** 2 / (len(expected) * np.sum(expected**2)), rel=1e-10)
    assert result.ess < 1.0
    # Sampled hotter than the target: low-energy frames gain weight.
    assert np.corrcoef(u, result.weights)[0, 1] < 0.0


def test_reweight_equal_temperature_uniform():
    frames = np.random.default_rng(18).normal(size=(50, 2, 3))
    force = FakeForce([0, 1], temperature=310.0)
    result = reweighting.reweight(frames, force, FakeContext(2), temperature=310.0 * unit.kelvin)
    np.testing.assert_allclose(result.weights, np.full(50, 0.02), rtol=1e-12)
    assert result.ess == pytest.approx(1.0, rel=1e-12)


def test_reweight_temperature_nan_energy_gets_zero_weight():
    frames = np.random.default_rng(19).normal(size=(10, 1, 3))
    frames[4] = np.nan
    with pytest.warns(UserWarning, match="1 of 10"):
        result = reweighting.reweight(frames, FakeForce([0]), FakeContext(1), temperature=350.0)
    assert result.weights[4] == 0.0
    assert np.sum(result.weights) == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------------------------
# reweight: FlowSamples, order, md_groups, arguments
# ----------------------------------------------------------------------------------------------

FlowSamples = __import__("collections").namedtuple("FlowSamples", ["positions", "logProb", "logWeights", "energies"])


def test_reweight_flow_samples_take_their_log_weights():
    log_weights = np.random.default_rng(22).normal(size=30) - 4000.0
    samples = FlowSamples(unit.Quantity(np.zeros((30, 2, 3)), unit.nanometer), np.zeros(30), log_weights,
                          unit.Quantity(np.zeros(30), unit.kilojoule_per_mole))
    force = FakeForce([0, 1])
    result = reweighting.reweight(samples, force, FakeContext(2))
    expected = np.exp(log_weights - log_weights.max())
    np.testing.assert_allclose(result.weights, expected / expected.sum(), rtol=1e-12)
    assert force.calls == []                       # nothing re-estimated
    assert reweighting.trajectory_positions(samples).shape == (30, 2, 3)
    with pytest.raises(ValueError, match="FlowSamples"):
        reweighting.reweight(samples, force, FakeContext(2), temperature=300.0)


def test_reweight_order_argument():
    frames = np.random.default_rng(23).normal(size=(5, 3, 3))
    force = FakeForce([2, 0, 1])
    reweighting.reweight(frames, force, FakeContext(3))
    np.testing.assert_array_equal(force.calls[-1][1], frames[:, [2, 0, 1]])     # System order by default
    reweighting.reweight(frames, force, FakeContext(3), order="force")
    np.testing.assert_array_equal(force.calls[-1][1], frames)
    with pytest.raises(ValueError, match="order"):
        reweighting.reweight(frames, force, FakeContext(3), order="columns")
    with pytest.raises(ValueError, match=r"order='system' needs 10"):
        reweighting.reweight(frames, force, FakeContext(10), order="system")


def test_md_group_masks():
    assert reweighting._group_mask(None) == 0xFFFFFFFF
    assert reweighting._group_mask(-1) == 0xFFFFFFFF
    assert reweighting._group_mask(0b101) == 0b101
    assert reweighting._group_mask({0, 2}) == 0b101
    assert reweighting._group_mask(np.int64(2)) == 2
    for bad in ({-1}, {32}, {0.5}, True, "1", 1.0):
        with pytest.raises(ValueError, match="md_groups"):
            reweighting._group_mask(bad)


def test_reweight_num_draws_must_be_an_integer():
    frames = np.zeros((2, 1, 3))
    with pytest.raises(TypeError, match="num_draws"):
        reweighting.reweight(frames, FakeForce([0]), FakeContext(1), num_draws=2.5)
    with pytest.raises(ValueError, match="num_draws"):
        reweighting.reweight(frames, FakeForce([0]), FakeContext(1), num_draws=0)


class PeriodicFakeContext(FakeContext):
    """A FakeContext of a periodic System with a box that reweight() sets per frame and restores."""

    def __init__(self, num_particles):
        super().__init__(num_particles)
        self.system.usesPeriodicBoundaryConditions = lambda: True
        self.box = [openmm.Vec3(3, 0, 0), openmm.Vec3(0, 3, 0), openmm.Vec3(0, 0, 3)] * unit.nanometer

    def getState(self, getPositions=False):
        state = FakeState(self.positions)
        state.getPeriodicBoxVectors = lambda: self.box
        return state

    def setPeriodicBoxVectors(self, a, b, c):
        self.box = [a, b, c]


def test_reweight_frames_with_unit_cells_are_evaluated_in_their_box():
    class BoxForce(FakeForce):
        """U = box edge (nm) * sum x^2, from the Context's current box."""
        def computeEnergies(self, context, positions):
            edge = context.box[0][0]
            edge = edge.value_in_unit(unit.nanometer) if unit.is_quantity(edge) else edge
            self.calls.append(("computeEnergies", positions, edge))
            return edge * np.sum(positions**2, axis=(1, 2)) * unit.kilojoule_per_mole

    class Trajectory:
        pass
    rng = np.random.default_rng(24)
    trajectory = Trajectory()
    trajectory.xyz = rng.normal(size=(6, 2, 3))
    edges = np.array([2.0, 2.5, 2.0, 3.5, 2.5, 2.0])
    trajectory.unitcell_vectors = edges[:, None, None] * np.eye(3)
    force, context = BoxForce([0, 1], temperature=300.0), PeriodicFakeContext(2)
    result = reweighting.reweight(trajectory, force, context, temperature=600.0)
    # One evaluation per distinct box, then the box is restored.
    assert sorted(call[2] for call in force.calls) == [2.0, 2.5, 3.5]
    assert context.box[0] == openmm.Vec3(3, 0, 0) * unit.nanometer
    u = edges * np.sum(trajectory.xyz**2, axis=(1, 2))
    log_w = u / KB * (1 / 600.0 - 1 / 300.0)
    expected = np.exp(log_w - log_w.max())
    np.testing.assert_allclose(result.weights, expected / expected.sum(), rtol=1e-10)


def test_reweight_exports():
    assert set(reweighting.__all__) == {"reweight", "log_weights", "from_log_weights", "trajectory_positions", "Reweighting"}
    assert not hasattr(reweighting, "read_dcd")


# ----------------------------------------------------------------------------------------------
# Plot
# ----------------------------------------------------------------------------------------------

def test_plot_ramachandran_reweighting(tmp_path):
    rng = np.random.default_rng(20)
    phi = rng.uniform(-np.pi, np.pi, 2000)
    psi = rng.vonmises(1.0, 2.0, 2000)
    weights = np.exp(np.cos(phi))
    weights[:10] = 0.0
    path = tmp_path / "rama.png"
    assert analysis.plot_ramachandran_reweighting(phi, psi, weights, str(path), bins=32, title="test") == str(path)
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"
