#!/usr/bin/env python
"""Regenerate the reference sample sets in data/reference/ with OpenMM (see data/reference/README.md).

Sets and splits (positions float64 [n, N, D] in nm, file data/reference/<set>-<split>.npy):
  dw4      train/val/test 1000 each, [n, 4, 2], zero centre of mass   GHMC, 300 K (reduced units)
  lj13     train/val/test 1000 each, [n, 13, 3], zero centre of mass  GHMC, 300 K (reduced units)
  aldp800  train 4000, val 800, test 1200, [n, 22, 3], raw Cartesian  Langevin, 800 K
  aldp300  test 1200, [n, 22, 3], raw Cartesian                       replica exchange, 300 K

Every split is its own independent chain (own seed, own burn-in). For aldp300 a second chain with
another seed is run for the agreement check only. Per set the script prints and records in
data/reference/<set>.json: the integrated autocorrelation time of the energy (and of the mean pair
distance for DW4 and LJ13, of sin/cos phi and psi for alanine dipeptide) in units of the stored samples, the effective sample count, and
the agreement of two independent chains (mean energies, Jensen-Shannon distance of the energy
histograms; Ramachandran and phi/psi KL divergences for alanine dipeptide).

Usage (the openmmbg package must be importable, i.e. built):
  python scripts/generate_reference_data.py                     # everything, default seeds
  python scripts/generate_reference_data.py --sets dw4 lj13 --seed 11 --scale 0.1 --out /tmp/ref
"""
import argparse
import datetime
import json
import os
import platform as host_platform
import subprocess
import sys
import time

import numpy as np
import openmm

import openmmbg
from openmmbg import analysis, reference, replica_exchange

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Split sizes per set.
SPLITS = {
    "dw4": {"train": 1000, "val": 1000, "test": 1000},
    "lj13": {"train": 1000, "val": 1000, "test": 1000},
    "aldp800": {"train": 4000, "val": 800, "test": 1200},
    "aldp300": {"test": 1200},
}
#: Seed offsets per set, so the sets' chains never share a seed.
SET_SEED_OFFSET = {"dw4": 0, "lj13": 100, "aldp800": 200, "aldp300": 300}


def log(message):
    """Print a timestamped progress line."""
    print("[%s] %s" % (datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S"), message), flush=True)


def git_commit():
    """The repository's HEAD commit, or None."""
    try:
        return subprocess.check_output(["git", "-C", REPOSITORY, "rev-parse", "HEAD"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def rounded(value, digits=4):
    """``value`` with every float (also inside lists and dicts) rounded, for printing."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    return value


def chain_statistics(samples, set_name):
    """tau_int (in stored samples) and effective sample count of the reduced energy, and for
    alanine dipeptide of sin/cos phi and psi; the chirality fraction for alanine dipeptide."""
    u = samples.reduced_energies
    series = {"reduced_energy": u}
    if set_name in ("dw4", "lj13"):
        # The mean pair distance follows the slow rearrangements (DW4's wells) that the energy can miss.
        x = samples.positions
        d = np.linalg.norm(x[:, :, None, :] - x[:, None, :, :], axis=-1)
        series["mean_pair_distance"] = d.sum(axis=(1, 2)) / (x.shape[1] * (x.shape[1] - 1))
    if set_name.startswith("aldp"):
        phi, psi = analysis.aldp_phi_psi(samples.positions)
        series.update({"sin_phi": np.sin(phi), "cos_phi": np.cos(phi), "sin_psi": np.sin(psi), "cos_psi": np.cos(psi)})
    taus = {name: analysis.integrated_autocorrelation_time(values) for name, values in series.items()}
    n = len(u)
    stats = {"n": n, "tau_int": taus, "ess": {name: n / tau for name, tau in taus.items()},
             "ess_fraction_min": min(1.0 / tau for tau in taus.values()),
             "mean_reduced_energy": float(u.mean()),
             "stderr_reduced_energy": float(u.std(ddof=1) * np.sqrt(taus["reduced_energy"] / n)),
             "std_reduced_energy": float(u.std(ddof=1))}
    if set_name.startswith("aldp"):
        stats["l_chiral_fraction"] = float(analysis.is_l_chiral(samples.positions).mean())
    return stats


def agreement(a, b, set_name):
    """Agreement of two independent chains a and b (Samples): mean reduced energies, their
    difference in combined standard errors, the JS distance of the energy histograms, and for
    alanine dipeptide KL(b || a) of the Ramachandran (64 x 64) and phi/psi (200-bin) histograms."""
    ua, ub = a.reduced_energies, b.reduced_energies
    sa = ua.std(ddof=1) * np.sqrt(analysis.integrated_autocorrelation_time(ua) / len(ua))
    sb = ub.std(ddof=1) * np.sqrt(analysis.integrated_autocorrelation_time(ub) / len(ub))
    result = {"n": [len(ua), len(ub)], "mean_reduced_energy": [float(ua.mean()), float(ub.mean())],
              "stderr_reduced_energy": [float(sa), float(sb)],
              "difference_in_stderr": float(abs(ua.mean() - ub.mean()) / np.hypot(sa, sb)),
              "js_distance_energy_50_bins": analysis.js_distance(ua, ub, bins=50)}
    # The same statistic between two halves of the pooled samples, drawn at random, shows the
    # finite-sample floor of the JS distance at these sample sizes.
    pooled = np.concatenate([ua, ub])
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(pooled))
    result["js_distance_energy_random_split_floor"] = analysis.js_distance(pooled[perm[:len(ua)]], pooled[perm[len(ua):]], bins=50)
    if set_name.startswith("aldp"):
        phi_a, psi_a = analysis.aldp_phi_psi(a.positions)
        phi_b, psi_b = analysis.aldp_phi_psi(b.positions)
        result["ramachandran_kld_64"] = analysis.ramachandran_kld(phi_b, psi_b, phi_a, psi_a)
        result["phi_kld_200"] = analysis.angle_kld(phi_b, phi_a)
        result["psi_kld_200"] = analysis.angle_kld(psi_b, psi_a)
        phi, psi = analysis.aldp_phi_psi(np.concatenate([a.positions, b.positions]))
        result["ramachandran_kld_64_random_split_floor"] = analysis.ramachandran_kld(
            phi[perm[len(ua):]], psi[perm[len(ua):]], phi[perm[:len(ua)]], psi[perm[:len(ua)]])
        result["positive_phi_fraction"] = [float((phi_a > 0).mean()), float((phi_b > 0).mean())]
    return result


def run_chain(set_name, n, seed, args):
    """One independent chain of ``n`` samples for ``set_name`` with ``seed``."""
    if set_name == "dw4":
        return reference.sample_dw4(n, seed, thin=args.dw4_thin)
    if set_name == "lj13":
        return reference.sample_lj13(n, seed, thin=args.lj13_thin)
    if set_name == "aldp800":
        return reference.sample_aldp800(n, seed, thin=args.aldp800_thin, burn_in=args.aldp800_burn_in)
    if set_name == "aldp300":
        def progress(k, total):
            if k % max(1, total // 10) == 0:
                log("  aldp300 seed %d: %d/%d samples" % (seed, k, total))
        return replica_exchange.sample_aldp300(n, seed, n_replicas=args.aldp300_replicas,
                                        steps_per_exchange=args.aldp300_steps_per_exchange,
                                        exchanges_per_sample=args.aldp300_exchanges_per_sample,
                                        burn_in_exchanges=args.aldp300_burn_in_exchanges, progress=progress)
    raise ValueError("unknown set %r" % set_name)


def generate_set(set_name, args):
    """Run the chains of one set, write its .npy files and JSON, and return the JSON record."""
    wall = time.time()
    cpu = time.process_time()
    base = args.seed + SET_SEED_OFFSET[set_name]
    record = {"set": set_name, "splits": {}, "generated_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "command": " ".join(sys.argv), "git_commit": git_commit(), "openmm_version": openmm.__version__,
              "numpy_version": np.__version__, "python": sys.version.split()[0], "host": host_platform.platform()}
    chains = {}
    for k, (split, size) in enumerate(SPLITS[set_name].items()):
        n = max(2, int(round(size * args.scale)))
        log("%s %s: %d samples, seed %d" % (set_name, split, n, base + k))
        samples = run_chain(set_name, n, base + k, args)
        chains[split] = samples
        path = os.path.join(args.out, "%s-%s.npy" % (set_name, split))
        np.save(path, samples.positions.astype(np.float64))
        stats = chain_statistics(samples, set_name)
        record["splits"][split] = {"file": os.path.basename(path), "shape": list(samples.positions.shape),
                                   "sampler": samples.info, "statistics": stats}
        log("  %s %s: tau_int %s, ESS/n %.3f, mean u %.3f +- %.3f, %s, cpu %.0f s" % (
            set_name, split, {key: round(v, 2) for key, v in stats["tau_int"].items()}, stats["ess_fraction_min"],
            stats["mean_reduced_energy"], stats["stderr_reduced_energy"],
            ("acceptance %.3f" % samples.info["acceptance"]) if "acceptance" in samples.info else
            ("pair acceptance %s, round trips %d" % (np.round(samples.info["pair_acceptance"], 3).tolist(),
                                                      samples.info["round_trips"])) if "pair_acceptance" in samples.info
            else "Langevin", samples.info["cpu_seconds"]))
    if set_name == "aldp300":
        n = max(2, int(round(args.aldp300_check_samples * args.scale)))
        log("aldp300 agreement chain: %d samples, seed %d" % (n, base + 1))
        check = run_chain(set_name, n, base + 1, args)
        record["agreement_chain"] = {"sampler": check.info, "statistics": chain_statistics(check, set_name),
                                     "stored": False}
        first, second = chains["test"], check
        record["agreement"] = dict(agreement(first, second, set_name), chains=["test (seed %d)" % base,
                                                                               "agreement chain (seed %d)" % (base + 1)])
    else:
        first, second = chains["train"], chains["test"]
        record["agreement"] = dict(agreement(first, second, set_name), chains=["train", "test"])
    record["generation_wall_seconds"] = time.time() - wall
    record["generation_cpu_seconds"] = time.process_time() - cpu
    log("%s agreement: %s" % (set_name, json.dumps(rounded(record["agreement"]))))
    with open(os.path.join(args.out, "%s.json" % set_name), "w") as handle:
        json.dump(record, handle, indent=1, sort_keys=False)
        handle.write("\n")
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        analysis.plot_energy_histograms({"%s (%s)" % (set_name, label): s.reduced_energies
                                         for label, s in (("first", first), ("second", second))},
                                        os.path.join(args.plots, "%s-energy.png" % set_name))
        if set_name.startswith("aldp"):
            for label, s in (("first", first), ("second", second)):
                phi, psi = analysis.aldp_phi_psi(s.positions)
                analysis.plot_ramachandran(phi, psi, os.path.join(args.plots, "%s-%s-ramachandran.png" % (set_name, label)))
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    parser.add_argument("--seed", type=int, default=2026, help="base seed (each chain gets its own offset)")
    parser.add_argument("--out", default=os.path.join(REPOSITORY, "data", "reference"))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every split size (quick trials)")
    parser.add_argument("--plots", default=None, help="folder for diagnostic PNGs (optional)")
    parser.add_argument("--dw4-thin", type=int, default=150, help="GHMC trajectories between DW4 samples")
    parser.add_argument("--lj13-thin", type=int, default=25, help="GHMC trajectories between LJ13 samples")
    parser.add_argument("--aldp800-thin", type=int, default=600, help="Langevin steps (fs) between samples")
    parser.add_argument("--aldp800-burn-in", type=int, default=10000, help="Langevin steps discarded")
    parser.add_argument("--aldp300-replicas", type=int, default=6)
    parser.add_argument("--aldp300-steps-per-exchange", type=int, default=300)
    parser.add_argument("--aldp300-exchanges-per-sample", type=int, default=1)
    parser.add_argument("--aldp300-burn-in-exchanges", type=int, default=40)
    parser.add_argument("--aldp300-check-samples", type=int, default=600,
                        help="size of the second aldp300 chain used only for the agreement check")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log("openmm %s, openmmbg from %s, output %s" % (openmm.__version__, os.path.dirname(openmmbg.__file__), args.out))
    for set_name in args.sets:
        generate_set(set_name, args)
    log("done")


if __name__ == "__main__":
    main()
