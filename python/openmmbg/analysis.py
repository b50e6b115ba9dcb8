"""Analysis helpers for samples and importance weights (model-spec section 13).

- Markov-chain quality: normalised autocorrelation, integrated autocorrelation time with Sokal's
  adaptive window, effective sample count.
- Energies: reduced energies U / kT.
- Geometry: dihedral angles, alanine dipeptide backbone angles phi/psi, L-chirality check.
- Distribution distances: KL divergence of 1D angle histograms (200 bins on [-pi, pi],
  eps = 1e-10) and of 64 x 64 Ramachandran histograms; Jensen-Shannon distance between two energy
  histograms.
- Importance weights: reverse ESS (flow samples) and forward ESS (target samples) from
  log-weights, both as fractions in (0, 1].
- Plots written as PNG with matplotlib's Agg backend: Ramachandran, energy histograms, weights,
  Ramachandran before/after reweighting.

Units: positions nm, angles radians, energies kJ/mol (reduced energies dimensionless),
temperatures K.
"""
import math

import numpy as np

__all__ = ["autocorrelation", "integrated_autocorrelation_time", "effective_sample_size",
           "reduced_energies", "dihedral", "ALDP_PHI", "ALDP_PSI", "ALDP_CHIRALITY", "aldp_phi_psi",
           "chirality_dihedral", "is_l_chiral", "angle_histogram", "angle_kld", "ramachandran_kld",
           "js_distance", "reverse_ess", "forward_ess", "plot_ramachandran", "plot_energy_histograms",
           "plot_weight_histogram", "plot_ramachandran_reweighting"]

#: Boltzmann's constant times Avogadro's number, kJ/(mol K).
BOLTZ = 8.314462618e-3

#: Atom indices (Amber prmtop order, data/alanine-dipeptide.pdb) of the phi dihedral C(ACE)-N-CA-C.
ALDP_PHI = (4, 6, 8, 14)
#: Atom indices of the psi dihedral N-CA-C-N(NME).
ALDP_PSI = (6, 8, 14, 16)
#: Atom indices of the chirality improper N-CA-C-CB.
ALDP_CHIRALITY = (6, 8, 14, 10)


# ----------------------------------------------------------------------------------------------
# Markov-chain statistics
# ----------------------------------------------------------------------------------------------

def autocorrelation(x):
    """Normalised autocorrelation rho(t), t = 0 .. n-1, of a scalar series (FFT, biased estimator
    divided by the lag-0 value so rho(0) = 1). A constant series gives rho = [1, 0, 0, ...]."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    y = x - x.mean()
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(y, size)
    acf = np.fft.irfft(spectrum * np.conjugate(spectrum), size)[:n]
    if acf[0] <= 0.0:
        rho = np.zeros(n)
        rho[0] = 1.0
        return rho
    return acf / acf[0]


def integrated_autocorrelation_time(x, c=5.0):
    """Integrated autocorrelation time tau = 1 + 2 sum_{t=1}^{M} rho(t) of a scalar series, in
    units of its sampling interval, with Sokal's window: the smallest M with M >= c tau(M).
    tau = 1 for independent samples; anticorrelated series give tau < 1. The result is clipped
    to [1/n, n]."""
    rho = autocorrelation(x)
    n = len(rho)
    taus = 2.0 * np.cumsum(rho) - 1.0          # taus[M] = 1 + 2 sum_{t=1}^{M} rho(t)
    window = np.arange(n) >= c * taus
    m = int(np.argmax(window)) if window.any() else n - 1
    return float(min(max(taus[m], 1.0 / n), n))


def effective_sample_size(x, c=5.0):
    """Effective number of independent samples n / tau_int of a scalar series."""
    return len(x) / integrated_autocorrelation_time(x, c)


def reduced_energies(energies, temperature):
    """U / kT for potential energies in kJ/mol at ``temperature`` K."""
    return np.asarray(energies, dtype=float) / (BOLTZ * float(temperature))


# ----------------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------------

def dihedral(positions, i, j, k, l):
    """Dihedral angle i-j-k-l in radians, in (-pi, pi], IUPAC sign convention (positive =
    clockwise looking from j to k). ``positions`` is [..., N, 3]; returns [...]."""
    x = np.asarray(positions, dtype=float)
    b0 = x[..., i, :] - x[..., j, :]
    b1 = x[..., k, :] - x[..., j, :]
    b2 = x[..., l, :] - x[..., k, :]
    b1n = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
    v = b0 - np.sum(b0 * b1n, axis=-1, keepdims=True) * b1n
    w = b2 - np.sum(b2 * b1n, axis=-1, keepdims=True) * b1n
    cos = np.sum(v * w, axis=-1)
    sin = np.sum(np.cross(b1n, v) * w, axis=-1)
    return np.arctan2(sin, cos)


def aldp_phi_psi(positions):
    """Backbone angles (phi, psi) of alanine dipeptide configurations [..., 22, 3], radians."""
    return dihedral(positions, *ALDP_PHI), dihedral(positions, *ALDP_PSI)


def chirality_dihedral(positions):
    """The improper N-CA-C-CB of alanine dipeptide (radians); about -2.1 (-120 degrees) for the
    L form of data/alanine-dipeptide.pdb and of opposite sign for D."""
    return dihedral(positions, *ALDP_CHIRALITY)


def is_l_chiral(positions):
    """True where an alanine dipeptide configuration [..., 22, 3] has the L configuration at CA
    (negative N-CA-C-CB improper)."""
    return chirality_dihedral(positions) < 0.0


# ----------------------------------------------------------------------------------------------
# Distribution distances
# ----------------------------------------------------------------------------------------------

def angle_histogram(angles, bins=200, weights=None):
    """Normalised probability histogram (sums to 1) of angles (radians) on [-pi, pi]."""
    hist, _ = np.histogram(np.asarray(angles), bins=bins, range=(-np.pi, np.pi), weights=weights)
    return hist / hist.sum()


def _kld_from_probabilities(p, q, eps):
    """sum p (log(p + eps) - log(q + eps)) for probability arrays of equal shape."""
    p = np.asarray(p, dtype=float).ravel()
    q = np.asarray(q, dtype=float).ravel()
    return float(np.sum(p * (np.log(p + eps) - np.log(q + eps))))


def angle_kld(angles_p, angles_q, bins=200, eps=1e-10, weights_p=None, weights_q=None):
    """KL(p || q) of two 1D angle distributions (radians) from histograms with ``bins`` bins on
    [-pi, pi]: sum_b p_b (log(p_b + eps) - log(q_b + eps)), p_b and q_b the bin probabilities.
    0 for identical histograms; not symmetric."""
    return _kld_from_probabilities(angle_histogram(angles_p, bins, weights_p),
                                   angle_histogram(angles_q, bins, weights_q), eps)


def ramachandran_histogram(phi, psi, bins=64, weights=None):
    """Normalised 2D probability histogram [bins, bins] of (phi, psi) in radians on [-pi, pi]^2."""
    hist, _, _ = np.histogram2d(np.asarray(phi), np.asarray(psi), bins=bins,
                                range=[[-np.pi, np.pi], [-np.pi, np.pi]], weights=weights)
    return hist / hist.sum()


def ramachandran_kld(phi_p, psi_p, phi_q, psi_q, bins=64, eps=1e-10, weights_p=None, weights_q=None):
    """KL(p || q) of two Ramachandran distributions from ``bins`` x ``bins`` histograms on
    [-pi, pi]^2, as in :func:`angle_kld`."""
    return _kld_from_probabilities(ramachandran_histogram(phi_p, psi_p, bins, weights_p),
                                   ramachandran_histogram(phi_q, psi_q, bins, weights_q), eps)


def js_distance(a, b, bins=100, value_range=None):
    """Jensen-Shannon distance (square root of the JS divergence in bits, so in [0, 1]) between
    histograms of two scalar samples (e.g. energies) on common bins spanning both samples (or
    ``value_range``). 0 for identical samples, 1 for disjoint supports."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if value_range is None:
        value_range = (min(a.min(), b.min()), max(a.max(), b.max()))
    p, edges = np.histogram(a, bins=bins, range=value_range)
    q, _ = np.histogram(b, bins=edges)
    p = p / p.sum()
    q = q / q.sum()
    m = 0.5 * (p + q)

    def kl(x, y):
        mask = x > 0
        return np.sum(x[mask] * np.log2(x[mask] / y[mask]))
    return float(math.sqrt(max(0.5 * kl(p, m) + 0.5 * kl(q, m), 0.0)))


# ----------------------------------------------------------------------------------------------
# Importance weights
# ----------------------------------------------------------------------------------------------

def _logsumexp(x):
    """log sum exp(x) of a 1D array, stable; -inf for an empty or all -inf array."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return -np.inf
    top = np.max(x)
    if not np.isfinite(top):
        return float(top)
    return float(top + np.log(np.sum(np.exp(x - top))))


def reverse_ess(log_weights):
    """Reverse effective sample size fraction 1 / (n sum_i wbar_i^2), wbar the self-normalised
    weights, from log-weights log w = log p(x) - log q(x) of samples x ~ q (model-spec 13). In
    (0, 1]; 1 for equal weights. Non-finite log-weights count as zero weight (-inf) or are
    rejected (nan, +inf) by giving nan."""
    lw = np.asarray(log_weights, dtype=float).ravel()
    if np.any(np.isnan(lw)) or np.any(lw == np.inf):
        return float("nan")
    n = lw.size
    normalised = lw - _logsumexp(lw)
    return float(math.exp(-_logsumexp(2.0 * normalised)) / n)


def forward_ess(log_weights):
    """Forward effective sample size fraction 1 / (mean(w) mean(1/w)) from log-weights
    log w = log p(x) - log q(x) of samples x ~ p (model-spec 13), in log space. In (0, 1]; 1 for
    equal weights."""
    lw = np.asarray(log_weights, dtype=float).ravel()
    if np.any(np.isnan(lw)):
        return float("nan")
    n = lw.size
    log_mean_w = _logsumexp(lw) - math.log(n)
    log_mean_inv = _logsumexp(-lw) - math.log(n)
    return float(math.exp(-(log_mean_w + log_mean_inv)))


# ----------------------------------------------------------------------------------------------
# Plots
# ----------------------------------------------------------------------------------------------

def _pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(plt, fig, ax, path, title):
    """Title ``ax`` (if ``title``), lay out and write ``fig`` to the PNG ``path``, close it; returns ``path``."""
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_ramachandran(phi, psi, path, weights=None, bins=64, title=None):
    """Write a Ramachandran plot (log density of (phi, psi), radians) to the PNG ``path``;
    ``weights`` (e.g. importance weights) reweight the histogram."""
    plt = _pyplot()
    hist = ramachandran_histogram(phi, psi, bins, weights)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    with np.errstate(divide="ignore"):
        image = ax.imshow(np.log(hist.T), origin="lower", extent=[-np.pi, np.pi, -np.pi, np.pi],
                          cmap="viridis", aspect="equal")
    fig.colorbar(image, ax=ax, label="log probability")
    ax.set_xlabel(r"$\phi$ (rad)")
    ax.set_ylabel(r"$\psi$ (rad)")
    return _save(plt, fig, ax, path, title)


def plot_energy_histograms(energies, path, bins=80, xlabel="reduced energy U/kT", title=None):
    """Write overlaid density histograms of energies to the PNG ``path``; ``energies`` maps a
    label to a 1D array (or is one array)."""
    plt = _pyplot()
    if not isinstance(energies, dict):
        energies = {"energy": energies}
    finite = np.concatenate([np.asarray(e, dtype=float)[np.isfinite(e)] for e in energies.values()])
    value_range = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for label, values in energies.items():
        values = np.asarray(values, dtype=float)
        ax.hist(values[np.isfinite(values)], bins=bins, range=value_range, density=True, histtype="step",
                label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend()
    return _save(plt, fig, ax, path, title)


def plot_weight_histogram(log_weights, path, bins=80, title=None):
    """Write a histogram of self-normalised log-weights log(w / max w) to the PNG ``path``, with
    the reverse ESS in the legend."""
    plt = _pyplot()
    lw = np.asarray(log_weights, dtype=float).ravel()
    lw = lw[np.isfinite(lw)]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if lw.size:
        ax.hist(lw - lw.max(), bins=bins, label="ESS = %.3f" % reverse_ess(lw))
        ax.legend()
    ax.set_xlabel("log w - max log w")
    ax.set_ylabel("count")
    return _save(plt, fig, ax, path, title)


def _ramachandran_free_energy(phi, psi, bins, weights=None):
    """Free energy -log p (kT) of the (phi, psi) histogram bins [bins, bins], p the bin
    probabilities; empty bins are masked."""
    hist = ramachandran_histogram(phi, psi, bins, weights)
    with np.errstate(divide="ignore"):
        return np.ma.masked_invalid(-np.log(hist))


def plot_ramachandran_reweighting(phi, psi, weights, path, bins=64, title=None):
    """Write side-by-side Ramachandran plots of (phi, psi) (radians), unweighted and reweighted
    with ``weights`` (e.g. importance weights, any normalisation), to the PNG ``path``. Both panels
    show the free energy -log p in kT of the ``bins`` x ``bins`` histogram on one colour scale."""
    plt = _pyplot()
    panels = [("unweighted", _ramachandran_free_energy(phi, psi, bins)),
              ("reweighted", _ramachandran_free_energy(phi, psi, bins, np.asarray(weights, dtype=float)))]
    shown = [f.compressed() for _, f in panels if f.count()]
    vmin = min(v.min() for v in shown) if shown else 0.0
    vmax = max(v.max() for v in shown) if shown else 1.0
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.5), sharex=True, sharey=True)
    for ax, (label, free_energy) in zip(axes, panels):
        image = ax.imshow(free_energy.T, origin="lower", extent=[-np.pi, np.pi, -np.pi, np.pi],
                          cmap="viridis", aspect="equal", vmin=vmin, vmax=vmax)
        ax.set_title(label)
        ax.set_xlabel(r"$\phi$ (rad)")
    axes[0].set_ylabel(r"$\psi$ (rad)")
    fig.colorbar(image, ax=list(axes), label="free energy -log p (kT)")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
