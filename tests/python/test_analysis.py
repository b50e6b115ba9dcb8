"""openmmbg.analysis: autocorrelation, ESS, angles, chirality, histogram distances, plots."""
import os

import numpy as np
import pytest

from openmmbg import analysis

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PDB = os.path.join(REPOSITORY, "data", "alanine-dipeptide.pdb")


def ar1(rho, n, seed):
    """A stationary AR(1) series x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t with unit variance."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(n) * np.sqrt(1.0 - rho**2)
    x = np.empty(n)
    x[0] = rng.standard_normal()
    for t in range(1, n):
        x[t] = rho * x[t - 1] + noise[t]
    return x


def aldp_pdb_positions():
    """The minimised alanine dipeptide structure, [22, 3] in nm (PDB columns are Angstrom)."""
    rows = [line for line in open(PDB) if line.startswith(("ATOM", "HETATM"))]
    return np.array([[float(r[30:38]), float(r[38:46]), float(r[46:54])] for r in rows]) / 10.0


@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_ar1_integrated_autocorrelation_time(rho):
    x = ar1(rho, 200000, seed=1)
    expected = 1.0 + 2.0 * rho / (1.0 - rho)
    assert analysis.integrated_autocorrelation_time(x) == pytest.approx(expected, rel=0.08)
    assert analysis.effective_sample_size(x) == pytest.approx(len(x) / expected, rel=0.08)


def test_independent_series_has_unit_autocorrelation_time():
    x = np.random.default_rng(2).standard_normal(50000)
    assert analysis.integrated_autocorrelation_time(x) == pytest.approx(1.0, abs=0.05)
    rho = analysis.autocorrelation(x)
    assert rho[0] == 1.0 and abs(rho[1]) < 0.02
    # A constant series has no correlation structure to estimate; tau stays finite.
    assert np.isfinite(analysis.integrated_autocorrelation_time(np.ones(100)))


def test_reduced_energies():
    assert analysis.reduced_energies([2.494338785], 300.0)[0] == pytest.approx(1.0, rel=1e-8)


def test_ess_of_equal_weights_is_one():
    lw = np.full(1000, -3.7)
    assert analysis.reverse_ess(lw) == pytest.approx(1.0, rel=1e-12)
    assert analysis.forward_ess(lw) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("delta", [0.5, 0.8])
def test_ess_of_shifted_gaussians_matches_closed_form(delta):
    """q = N(0, 1), p = N(delta, 1): both ESS fractions tend to exp(-delta^2)."""
    rng = np.random.default_rng(3)
    n = 400000
    expected = np.exp(-delta**2)

    def log_w(x):
        return -0.5 * (x - delta)**2 + 0.5 * x**2       # log p - log q

    x_q = rng.standard_normal(n)
    x_p = rng.standard_normal(n) + delta
    assert analysis.reverse_ess(log_w(x_q)) == pytest.approx(expected, rel=0.03)
    assert analysis.forward_ess(log_w(x_p)) == pytest.approx(expected, rel=0.03)
    # A constant shift of the log-weights (unknown normaliser) changes nothing.
    assert analysis.reverse_ess(log_w(x_q) + 50.0) == pytest.approx(analysis.reverse_ess(log_w(x_q)), rel=1e-10)
    assert analysis.forward_ess(log_w(x_p) - 50.0) == pytest.approx(analysis.forward_ess(log_w(x_p)), rel=1e-10)


def test_ess_with_one_dominant_weight():
    lw = np.zeros(100)
    lw[0] = 1000.0
    assert analysis.reverse_ess(lw) == pytest.approx(0.01, rel=1e-9)
    assert np.isnan(analysis.reverse_ess([0.0, np.nan]))


def test_kld_of_identical_histograms_is_zero_and_positive_otherwise():
    rng = np.random.default_rng(4)
    angles = rng.uniform(-np.pi, np.pi, 5000)
    assert analysis.angle_kld(angles, angles) == 0.0
    assert analysis.ramachandran_kld(angles, angles[::-1], angles, angles[::-1]) == 0.0
    shifted = np.angle(np.exp(1j * (rng.normal(0.0, 0.3, 5000))))
    assert analysis.angle_kld(shifted, angles) > 0.5
    assert analysis.angle_histogram(angles).shape == (200,)
    assert analysis.ramachandran_histogram(angles, angles).shape == (64, 64)


def test_js_distance():
    rng = np.random.default_rng(5)
    a = rng.normal(size=20000)
    assert analysis.js_distance(a, a) == 0.0
    assert analysis.js_distance(a, a + 100.0) == pytest.approx(1.0)
    assert 0.0 < analysis.js_distance(a, rng.normal(size=20000)) < 0.05
    assert analysis.js_distance(a, a + 1.0) > 0.3


def test_dihedral_of_constructed_geometry():
    for angle in (-2.5, -np.pi / 2, 0.3, 1.0, 3.0):
        points = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [np.cos(angle), np.sin(angle), 1.0]])
        assert analysis.dihedral(points, 0, 1, 2, 3) == pytest.approx(angle, abs=1e-12)
    # Batched input: [..., N, 3] -> [...].
    batch = np.stack([points, points])
    assert analysis.dihedral(batch, 0, 1, 2, 3).shape == (2,)


def place_dihedral(a, b, c, angle, bond=0.15):
    """The point d with |c d| = bond, angle b-c-d = 110 degrees and dihedral a-b-c-d = angle."""
    bc = (c - b) / np.linalg.norm(c - b)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    m = np.cross(n, bc)
    theta = np.radians(110.0)
    local = np.array([-np.cos(theta), np.sin(theta) * np.cos(angle), np.sin(theta) * np.sin(angle)])
    return c + bond * (local[0] * bc + local[1] * m + local[2] * n)


def test_aldp_phi_psi_of_constructed_backbone():
    phi, psi = -1.2, 2.4
    x = np.zeros((22, 3))
    x[4] = [0.0, 0.0, 0.0]                   # C (ACE)
    x[6] = [0.13, 0.0, 0.0]                  # N
    x[8] = [0.18, 0.14, 0.0]                 # CA
    x[14] = place_dihedral(x[4], x[6], x[8], phi)
    x[16] = place_dihedral(x[6], x[8], x[14], psi)
    got_phi, got_psi = analysis.aldp_phi_psi(x)
    assert got_phi == pytest.approx(phi, abs=1e-10)
    assert got_psi == pytest.approx(psi, abs=1e-10)


def test_aldp_indices_on_the_pdb():
    """The PDB's atom names are the backbone atoms the index constants claim, and its structure
    (L-alanine, minimised) lies in the beta/C7eq basin."""
    names = [line[12:16].strip() for line in open(PDB) if line.startswith(("ATOM", "HETATM"))]
    assert [names[i] for i in analysis.ALDP_PHI] == ["C", "N", "CA", "C"]
    assert [names[i] for i in analysis.ALDP_PSI] == ["N", "CA", "C", "N"]
    assert names[analysis.ALDP_CHIRALITY[3]] == "CB"
    x = aldp_pdb_positions()
    phi, psi = analysis.aldp_phi_psi(x)
    assert -np.pi < phi < 0.0 and psi > 1.5
    assert analysis.is_l_chiral(x)
    mirror = x * np.array([-1.0, 1.0, 1.0])
    assert not analysis.is_l_chiral(mirror)
    # Mirroring negates every dihedral.
    assert analysis.aldp_phi_psi(mirror)[0] == pytest.approx(-phi)


def is_png(path):
    with open(path, "rb") as handle:
        return handle.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 1000


def test_plots_write_png(tmp_path):
    rng = np.random.default_rng(6)
    phi, psi = rng.uniform(-np.pi, np.pi, (2, 2000))
    paths = [analysis.plot_ramachandran(phi, psi, str(tmp_path / "rama.png")),
             analysis.plot_ramachandran(phi, psi, str(tmp_path / "rama-w.png"), weights=rng.uniform(size=2000)),
             analysis.plot_energy_histograms({"a": rng.normal(size=500), "b": rng.normal(1, 1, 500)},
                                             str(tmp_path / "energy.png")),
             analysis.plot_weight_histogram(rng.normal(size=500), str(tmp_path / "weights.png"))]
    for path in paths:
        assert is_png(path)
