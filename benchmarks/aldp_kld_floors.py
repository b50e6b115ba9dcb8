"""What the alanine dipeptide divergences read for samples of known quality (docs/aldp-fab.md):
the phi/psi KLD (200 bins) and the 64 x 64 Ramachandran KLD against the 800 K test set, for n MD
frames of the training chain (evenly spaced: the floor the evaluation reports), for n uniform
random angles (a flow that has learnt nothing about the backbone) and for the mirror images of the
MD frames (D-alanine: both angles change sign), at several n.

Usage: python benchmarks/aldp_kld_floors.py [--csv docs/aldp-kld-floors.csv] [--seed 0]
"""
import argparse
import csv
import os

import numpy as np

from openmmbg import analysis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = (250, 500, 1000, 2000, 4000)


def figures(reference, phi, psi):
    """(phi KLD, psi KLD, Ramachandran KLD) of the angles against the reference angles."""
    return (analysis.angle_kld(reference[0], phi), analysis.angle_kld(reference[1], psi),
            analysis.ramachandran_kld(reference[0], reference[1], phi, psi))


def rows(seed):
    data = os.path.join(ROOT, "data", "reference")
    reference = analysis.aldp_phi_psi(np.load(os.path.join(data, "aldp800-test.npy")))
    train = np.load(os.path.join(data, "aldp800-train.npy"))
    rng = np.random.default_rng(seed)
    for n in SIZES:
        md = analysis.aldp_phi_psi(train[np.round(np.linspace(0, len(train) - 1, n)).astype(int)])
        uniform = rng.uniform(-np.pi, np.pi, size=(2, n))
        for kind, (phi, psi) in (("md", md), ("uniform", uniform), ("mirror_md", (-md[0], -md[1]))):
            phi_kld, psi_kld, rama_kld = figures(reference, phi, psi)
            yield {"samples": n, "kind": kind, "phi_kld": round(phi_kld, 4), "psi_kld": round(psi_kld, 4),
                   "ramachandran_kld": round(rama_kld, 4)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", help="write the table here as well")
    parser.add_argument("--seed", type=int, default=0, help="seed of the uniform angles")
    a = parser.parse_args()
    table = list(rows(a.seed))
    print("%7s  %-9s  %8s  %8s  %8s" % ("samples", "kind", "phi KLD", "psi KLD", "Rama KLD"))
    for r in table:
        print("%7d  %-9s  %8.3f  %8.3f  %8.3f" % (r["samples"], r["kind"], r["phi_kld"], r["psi_kld"], r["ramachandran_kld"]))
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)


if __name__ == "__main__":
    main()
