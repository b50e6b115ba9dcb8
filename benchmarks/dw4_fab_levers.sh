#!/usr/bin/env bash
# The DW4 FAB settings study of docs/dw4-fab-levers.md: the main job's flow (examples/dw4-fab-quick/)
# trained with FAB for 550 iterations (D: 1100 of half the batch) in each variant below, one torch
# thread, evaluated every 50 (W, D: 100) iterations with 10^4 flow samples. Quality per iteration does not depend on the machine's load
# (fixed seeds, one intra-op thread), so the variants may run one after another on a shared machine.
# Usage: benchmarks/dw4_fab_levers.sh OUT_DIR [variant ...]   (default: all variants)
# Writes OUT_DIR/<variant>/ (the run) and OUT_DIR/<variant>.out (its console output).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/benchmark-setup.sh"   # root, bin, one torch thread
out=${1:?usage: dw4_fab_levers.sh OUT_DIR [variant ...]}; shift
mkdir -p "$out"
fast=(--set fab.ais.initialStepSize=0.05 --set fab.bufferMinBatches=16)
declare -A variants=(
    [base]=""                                                        # the main job's settings before the study
    [A]="--set fab.ais.initialStepSize=0.05"                        # HMC step size near its adapted value (~0.045)
    [B]="${fast[*]}"                                                 # A + buffer fill of 16 batches instead of 64
    # B with half the batch for twice the iterations (the same number of AIS samples and buffer rows
    # drawn), evaluated at the same points per sample drawn as B (every 100 of its iterations).
    [D]="${fast[*]} --set batchSize=64 --set epochs=1100 --set schedule.warmupEpochs=60 --set evalEvery=100"
    # B with four times the batch (AIS samples per iteration and rows per update); an iteration then
    # costs about 2.5 times the CPU of B's (benchmarks/dw4_fab_batch_cost.sh).
    [E]="${fast[*]} --set batchSize=512"
)
run() {   # run NAME [extra arguments]
    local name=$1; shift
    rm -rf "${out:?}/$name"
    "$bin" train --system dw4 --method fab --out "$out/$name" --threads 1 --seed 1 "$@" > "$out/$name.out" 2>&1
}
for name in "${@:-base A B W}"; do
    for v in $name; do
        # The main job's training settings before the study (FAB defaults: HMC step 1 nm, fill 64 batches).
        common=(--set epochs=550 --set schedule.initialLr=1e-4 --set schedule.peakLr=1e-3 --set schedule.endLr=1e-4
                --set schedule.warmupEpochs=30 --set logEvery=10 --set fab.evalAisSamples=2048 --set evalEvery=50
                --set evalFlowSamples=10000 --set fab.concurrentAis=false)
        if [ "$v" = W ]; then
            # Warm start: 50 epochs of maximum likelihood on the DW4 MD samples, then FAB as in B.
            rm -rf "${out:?}/W-ml"
            "$bin" train --system dw4 --method ml --out "$out/W-ml" --threads 1 --seed 1 \
                --flow-config "$root/examples/dw4-fab-quick/flow.json" --set epochs=50 --set evalFlowSamples=10000 > "$out/W-ml.out" 2>&1
            run W "${common[@]}" "${fast[@]}" --set evalEvery=100 --init-model "$out/W-ml/model.bgflow"
        else
            # shellcheck disable=SC2086
            run "$v" --flow-config "$root/examples/dw4-fab-quick/flow.json" "${common[@]}" ${variants[$v]}
        fi
    done
done
