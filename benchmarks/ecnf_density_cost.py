"""E-CNF cost of exact densities (docs/ecnf.md): medians of BenchmarkCnfSampling's console output
to a CSV and a bar chart of seconds per 1024 samples.

Usage: python benchmarks/ecnf_density_cost.py OUTPUT.txt [OUTPUT.txt ...] --csv docs/x.csv -o docs/figures/x.png
(OUTPUT.txt: `build/bin/BenchmarkCnfSampling --benchmark_repetitions=3 --benchmark_report_aggregates_only=true`).
"""
import argparse
import csv
import re

LINE = re.compile(r"^(BM_\w+)/(\d+)/(\d+)/(\d+)/real_time_median\s+([\d.]+) ms")
SYSTEMS = {"0": "DW4", "1": "LJ13"}
VARIANTS = {"BM_FieldWithExactDivergence": {"0": "N D copies (before)", "1": "one forward, N D backward", "2": "one forward, (N-1) D backward (now)"}}


def read(paths):
    """Median rows of the outputs; a later output's row replaces an earlier one of the same case."""
    rows = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                m = LINE.match(line)
                if not m:
                    continue
                name, system, batch, arg, ms = m.groups()
                what = VARIANTS.get(name, {}).get(arg, f"RK4 {arg} steps")
                rows[(name, system, batch, arg)] = {"benchmark": name, "system": SYSTEMS[system], "rows": int(batch), "variant": what,
                                                    "median_ms": float(ms), "s_per_1024": float(ms) / 1000 * 1024 / int(batch)}
    return list(rows.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outputs", nargs="+")
    parser.add_argument("--csv", required=True)
    parser.add_argument("-o", "--output", required=True)
    a = parser.parse_args()
    rows = read(a.outputs)
    with open(a.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    field = [r for r in rows if r["benchmark"] == "BM_FieldWithExactDivergence" and r["rows"] > 1]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for k, system in enumerate(["DW4", "LJ13"]):
        for j, r in enumerate(x for x in field if x["system"] == system):
            ax.bar(k * 4 + j, r["s_per_1024"], color=f"C{j}", label=r["variant"] if k == 0 else None)
            ax.text(k * 4 + j, r["s_per_1024"], f"{r['s_per_1024']:.3g}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks([1, 5], ["DW4 (1024 rows)", "LJ13 (32 rows)"])
    ax.set_yscale("log")
    ax.set_ylabel("s per 1024 samples, one field evaluation")
    ax.set_title("E-CNF exact divergence, paper size, float32, 1 thread")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)


if __name__ == "__main__":
    main()
