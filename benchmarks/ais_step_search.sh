#!/usr/bin/env bash
# The HMC step-size search of the AIS (docs/ais-step-search.csv, docs/lj13-fab.md): the first FAB
# iterations on LJ13 (the paper-size E-ACF, batch 32, 4 intermediate distributions, 6 iterations)
# with the search from 0.02 and from 1.0 and without it from 0.02, and on alanine dipeptide (the
# fab preset, 4 iterations) with the search from 1.0 and from the preset's 0.001; then the HMC
# acceptance and mean step size per iteration of every run as one CSV. One torch thread each.
# Usage: benchmarks/ais_step_search.sh OUT_DIR   (about 1 h of one core; writes OUT_DIR/<run>/,
# OUT_DIR/<run>.out and OUT_DIR/ais-step-search.csv)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/benchmark-setup.sh"   # root, bin, one torch thread
out=${1:?usage: ais_step_search.sh OUT_DIR}
mkdir -p "$out"
common=(--threads 1 --seed 0 --eval-every 0 --set evalFlowSamples=64 --set fab.evalAisSamples=32
        --set fab.concurrentAis=false --set logEvery=1 --set fab.bufferMinBatches=8)
run() {   # run NAME SYSTEM ITERATIONS INITIAL_STEP SEARCH [extra arguments]
    local name=$1 system=$2 iterations=$3 step=$4 search=$5; shift 5
    rm -rf "${out:?}/$name"
    "$bin" train --system "$system" --method fab --out "$out/$name" --stop-after "$iterations" "${common[@]}" \
        --set fab.ais.initialStepSize="$step" --set fab.ais.tuneInitialStepSizes="$search" "$@" > "$out/$name.out" 2>&1
}
lj13=(--set batchSize=32 --set fab.ais.numIntermediate=4)
run lj13-search-0.02 lj13 6 0.02 true "${lj13[@]}"
run lj13-search-1.0 lj13 6 1.0 true "${lj13[@]}"
run lj13-nosearch-0.02 lj13 6 0.02 false "${lj13[@]}"
run aldp-search-1.0 aldp 4 1.0 true
run aldp-search-0.001 aldp 4 0.001 true
python3 - "$out" <<'PY'
import csv, sys
out = sys.argv[1]
runs = {"lj13-search-0.02": "LJ13, search from 0.02", "lj13-search-1.0": "LJ13, search from 1.0",
        "lj13-nosearch-0.02": "LJ13, no search, 0.02", "aldp-search-1.0": "ALDP, search from 1.0",
        "aldp-search-0.001": "ALDP, search from 0.001"}
with open(f"{out}/ais-step-search.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["run", "iteration", "ais_acceptance", "ais_mean_step_size_nm"])
    for run, label in runs.items():
        figures = {}
        for row in csv.reader(open(f"{out}/{run}/train-log.csv")):
            if row[0] == "method" and row[11] in ("ais_acceptance", "ais_step_size"):
                figures.setdefault(int(row[1]), {})[row[11]] = float(row[12])
        for it, v in sorted(figures.items()):
            w.writerow([label, it, round(v["ais_acceptance"], 4), "%.3g" % v["ais_step_size"]])
PY
echo "wrote $out/ais-step-search.csv"
