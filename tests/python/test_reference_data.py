"""The cached reference samples (data/reference, file contract) and the samplers of openmmbg.reference.

The distribution checks use the configurational virial identity: for a density exp(-U/kT) over
configurations whose energy is translation invariant, <sum_i (x_i - xbar) . grad_i U> = (N - 1) D kT
(integration by parts over the (N - 1) D relative coordinates). It ties the samples to the right
energy and the right temperature without any stored statistics.
"""
import os

import numpy as np
import openmm
import openmm.unit as unit
import pytest

import openmmbg.systems as systems
from openmmbg import analysis, reference, replica_exchange

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE_DIR = os.path.join(REPOSITORY, "data", "reference")

CONTRACT = {
    ("dw4", "train"): (1000, 4, 2), ("dw4", "val"): (1000, 4, 2), ("dw4", "test"): (1000, 4, 2),
    ("lj13", "train"): (1000, 13, 3), ("lj13", "val"): (1000, 13, 3), ("lj13", "test"): (1000, 13, 3),
    ("aldp800", "train"): (4000, 22, 3), ("aldp800", "val"): (800, 22, 3), ("aldp800", "test"): (1200, 22, 3),
    ("aldp300", "test"): (1200, 22, 3),
}


def load(set_name, split):
    return np.load(os.path.join(REFERENCE_DIR, "%s-%s.npy" % (set_name, split)))


def energies_and_virials(system, positions, temperature, platform="Reference"):
    """Reduced energies U/kT and virials sum_i x_i . grad_i U / kT of configurations [n, N, D] (nm)."""
    kT = reference.BOLTZ * temperature
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName(platform))
    u, virial = [], []
    for x in positions:
        x3 = np.zeros((x.shape[0], 3))
        x3[:, :x.shape[1]] = x
        x3 -= x3.mean(axis=0)
        context.setPositions(x3)
        state = context.getState(getEnergy=True, getForces=True)
        forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
        u.append(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole) / kT)
        virial.append(-np.sum(x3 * forces) / kT)
    return np.array(u), np.array(virial)


def assert_virial(virial, expected, relative_error):
    """The mean virial equals (N - 1) D within 4 standard errors (the standard error includes the
    integrated autocorrelation time), and the test is sharp enough: the standard error is below
    ``relative_error`` times the expected value. (The virial is a noisy statistic: per-sample
    standard deviation about 38 for DW4 against a mean of 6.) The standard error uses
    max(tau_int, 1)."""
    mean = virial.mean()
    tau = max(analysis.integrated_autocorrelation_time(virial), 1.0)
    stderr = virial.std(ddof=1) * np.sqrt(tau / len(virial))
    assert stderr < relative_error * expected, (stderr, expected)
    assert abs(mean - expected) < 4.0 * stderr, (mean, stderr, expected)


@pytest.mark.parametrize("key", sorted(CONTRACT))
def test_cached_files_follow_the_contract(key):
    x = load(*key)
    assert x.dtype == np.float64
    assert x.shape == CONTRACT[key]
    assert np.all(np.isfinite(x))
    assert os.path.exists(os.path.join(REFERENCE_DIR, "%s.json" % key[0]))


def test_cached_sets_are_not_duplicates():
    for set_name in ("dw4", "lj13", "aldp800"):
        assert not np.allclose(load(set_name, "train")[:10], load(set_name, "test")[:10])


@pytest.mark.parametrize("set_name", ["dw4", "lj13"])
def test_cached_particle_sets_have_zero_centre_of_mass(set_name):
    for split in ("train", "val", "test"):
        assert np.abs(load(set_name, split).mean(axis=1)).max() < 1e-10


def test_cached_dw4_samples_follow_exp_minus_u():
    x = load("dw4", "test")
    u, virial = energies_and_virials(systems.dw4().system, x, 300.0)
    assert_virial(virial, (4 - 1) * 2, 0.25)
    # Each of the six pairs sits near one of its two wells (reduced pair energy about -4.4 there).
    assert -26.5 < u.mean() < -19.0
    train_u, _ = energies_and_virials(systems.dw4().system, load("dw4", "train")[:500], 300.0)
    assert abs(train_u.mean() - u.mean()) < 0.5


def test_cached_lj13_samples_follow_exp_minus_u():
    x = load("lj13", "test")
    u, virial = energies_and_virials(systems.lj13().system, x, 300.0)
    assert_virial(virial, (13 - 1) * 3, 0.05)
    assert np.all(np.isfinite(u)) and -20.0 < u.mean() < 15.0
    d = np.linalg.norm(x[:, :, None] - x[:, None], axis=-1)[:, ~np.eye(13, dtype=bool)]
    assert d.min() > 0.6          # no overlapping particles at kT = epsilon


@pytest.mark.parametrize("set_name,temperature,splits,relative_error", [
    ("aldp800", 800.0, ("train", "val", "test"), 0.04),
    ("aldp300", 300.0, ("test",), 0.1)])
def test_cached_aldp_samples_follow_exp_minus_u_over_kt(set_name, temperature, splits, relative_error):
    """All frames are needed: the per-frame virial of alanine dipeptide has a standard deviation
    of about 130-210 (stiff bonds) against a mean of 63. A sample at the wrong temperature T'
    would give 63 T'/T."""
    x = np.concatenate([load(set_name, split) for split in splits])
    system = systems.alanine_dipeptide(temperature=temperature).system
    _, virial = energies_and_virials(system, x, temperature, platform="CPU")
    assert_virial(virial, (22 - 1) * 3, relative_error)


@pytest.mark.parametrize("set_name,split", [("aldp800", "train"), ("aldp800", "val"), ("aldp800", "test"),
                                            ("aldp300", "test")])
def test_cached_aldp_frames_are_l_chiral(set_name, split):
    x = load(set_name, split)
    assert np.all(analysis.is_l_chiral(x))
    # Raw Cartesian (not centred), bonded: the N-CA bond stays near 0.145 nm.
    assert np.abs(x.mean(axis=1)).max() > 1e-6
    bond = np.linalg.norm(x[:, 6] - x[:, 8], axis=-1)
    assert 0.12 < bond.min() and bond.max() < 0.18


def test_aldp300_visits_fewer_high_energy_states_than_aldp800():
    phi300, _ = analysis.aldp_phi_psi(load("aldp300", "test"))
    phi800, _ = analysis.aldp_phi_psi(load("aldp800", "test"))
    assert (phi300 > 0).mean() < (phi800 > 0).mean()


def test_ghmc_keeps_dw4_planar_with_fixed_centre_of_mass():
    system = systems.dw4().system
    rng = np.random.default_rng(0)
    start = np.zeros((4, 3))
    start[:, :2] = reference.random_cluster(rng, 4, 2, 3.0, 2.5) + np.array([0.3, -0.2])
    integrator = reference.ghmc_integrator(system, 300.0, 0.05, 20, persistence=0.5, planar=True)
    integrator.setRandomNumberSeed(1234)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(start)
    context.setVelocities(np.zeros((4, 3)))
    integrator.step(200)
    x = context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    v = context.getState(getVelocities=True).getVelocities(asNumpy=True).value_in_unit(unit.nanometer / unit.picosecond)
    assert np.all(x[:, 2] == 0.0) and np.all(v[:, 2] == 0.0)
    np.testing.assert_allclose(x.mean(axis=0), start.mean(axis=0), atol=1e-10)
    assert np.abs(v.sum(axis=0)).max() < 1e-10
    assert np.abs(x - start).max() > 0.1
    acceptance = integrator.getGlobalVariableByName("ghmc_naccept") / integrator.getGlobalVariableByName("ghmc_ntrials")
    assert 0.3 < acceptance < 1.0


def test_ghmc_rejects_everything_with_a_huge_step():
    """A Metropolised integrator stays put rather than accepting a bad trajectory."""
    out = reference.sample_ghmc(systems.dw4().system, reference.random_cluster(np.random.default_rng(1), 4, 2, 3.0, 2.5),
                                300.0, 5, timestep=5.0, n_leapfrog=10, thin=10, burn_in=0, seed=3, dimensions=2)
    assert out.info["acceptance"] < 0.1
    assert out.positions.shape == (5, 4, 2)


def test_samplers_are_reproducible_and_seed_dependent():
    a = reference.sample_lj13(20, seed=5, thin=2, burn_in=20)
    b = reference.sample_lj13(20, seed=5, thin=2, burn_in=20)
    c = reference.sample_lj13(20, seed=6, thin=2, burn_in=20)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert not np.allclose(a.positions, c.positions)
    assert a.positions.shape == (20, 13, 3) and a.energies.shape == (20,)
    np.testing.assert_allclose(a.reduced_energies, a.energies / (reference.BOLTZ * 300.0))


def test_langevin_and_replica_exchange_smoke():
    out = reference.sample_aldp800(3, seed=1, thin=20, burn_in=20)
    assert out.positions.shape == (3, 22, 3) and np.all(analysis.is_l_chiral(out.positions))
    again = reference.sample_aldp800(3, seed=1, thin=20, burn_in=20)
    np.testing.assert_array_equal(out.positions, again.positions)
    re = replica_exchange.sample_aldp300(4, seed=2, n_replicas=3, t_max=500.0, steps_per_exchange=10,
                                  exchanges_per_sample=2, burn_in_exchanges=2)
    assert re.positions.shape == (4, 22, 3) and re.temperature == 300.0
    assert len(re.info["pair_acceptance"]) == 2
    assert all(0.0 <= p <= 1.0 for p in re.info["pair_acceptance"])
    assert re.info["temperatures_K"] == pytest.approx(replica_exchange.geometric_temperatures(300.0, 500.0, 3))


def test_geometric_temperatures_and_round_trips():
    temperatures = replica_exchange.geometric_temperatures(300.0, 1300.0, 6)
    assert temperatures[0] == pytest.approx(300.0) and temperatures[-1] == pytest.approx(1300.0)
    ratios = np.array(temperatures[1:]) / np.array(temperatures[:-1])
    np.testing.assert_allclose(ratios, ratios[0])
    # Rows: time; columns: walkers; entries: temperature index. Each walker completes one
    # bottom -> top -> bottom trip (walker 2 starts at the top, which does not count as a start).
    history = np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1], [1, 0, 2], [2, 1, 0], [2, 0, 1], [1, 2, 0]])
    assert replica_exchange.count_round_trips(history, 3) == 3
    assert replica_exchange.count_round_trips(history[:4], 3) == 0
