#!/usr/bin/env bash
# CPU time of one FAB iteration of the main job's flow (examples/dw4-fab-quick/) against the batch
# size (docs/dw4-fab-levers.md): 12 iterations per batch, sequential AIS, one torch thread, no
# evaluations; prints the medians of the AIS pass's and the 8 updates' thread CPU time.
# Usage: benchmarks/dw4_fab_batch_cost.sh OUT_DIR [batch ...]   (default: 64 128 512)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/benchmark-setup.sh"   # root, bin, one torch thread
out=${1:?usage: dw4_fab_batch_cost.sh OUT_DIR [batch ...]}; shift
mkdir -p "$out"
echo "batch,cpu_ais_s,cpu_update_s"
for b in "${@:-64 128 512}"; do
    for batch in $b; do
        rm -rf "${out:?}/batch$batch"
        "$bin" train --system dw4 --method fab --out "$out/batch$batch" --threads 1 --seed 1 \
            --flow-config "$root/examples/dw4-fab-quick/flow.json" --set epochs=12 --set batchSize="$batch" \
            --set fab.bufferMinBatches=8 --set fab.concurrentAis=false --set fab.ais.initialStepSize=0.05 \
            --set evalEvery=0 --set logEvery=1 > "$out/batch$batch.out" 2>&1
        python3 - "$out/batch$batch/train-log.csv" "$batch" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["kind"] == "method"]
med = lambda m: statistics.median(float(r["value"]) for r in rows if r["metric"] == m)
print(f"{sys.argv[2]},{med('cpu_ais_s'):.3f},{med('cpu_update_s'):.3f}")
PY
    done
done
