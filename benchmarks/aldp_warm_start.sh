#!/usr/bin/env bash
# Alanine dipeptide at 800 K with a warm start (issue 15, docs/aldp-fab.md "With a warm start"):
# maximum likelihood on the 4000 MD frames of the 800 K training split for the flow of the `fab`
# preset (12 epochs of batch 32, learning rate 5e-5 -> 5e-4 -> 5e-5), then FAB against the OpenMM
# System from that model (the `fab` preset, 100 iterations with the learning rate decaying over
# them, evaluations at 50 and 100 on 4000 flow samples and 128 AIS samples). One torch thread.
# Usage: benchmarks/aldp_warm_start.sh OUT_DIR   (about 1.5 h of one idle core; writes OUT_DIR/ml/,
# OUT_DIR/fab/, their .out files; re-running it resumes the stage that was cut off)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/benchmark-setup.sh"   # root, bin, one torch thread
out=${1:?usage: aldp_warm_start.sh OUT_DIR}
mkdir -p "$out"
python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["methods"]["fab"]["flow"]))' \
    "$root/data/problems/aldp.json" > "$out/fab-flow.json"
stage() {   # stage NAME [train arguments]: runs, or resumes, one training stage unless it has finished
    local name=$1; shift
    # model.bgflow is written with every checkpoint; a stage has finished once it printed its final evaluation
    grep -q "^final evaluation" "$out/$name.out" 2>/dev/null && return 0
    local resume=()
    [ -f "$out/$name/checkpoint.pt" ] && resume=(--resume)
    "$bin" train --system aldp --out "$out/$name" --threads 1 --seed 1 "${resume[@]}" "$@" >> "$out/$name.out" 2>&1
}
stage ml --method ml --flow-config "$out/fab-flow.json" --eval-every 0 --set epochs=12 --set batchSize=32 \
    --set schedule.initialLr=5e-5 --set schedule.peakLr=5e-4 --set schedule.endLr=5e-5 --set schedule.warmupEpochs=1 \
    --set evalFlowSamples=4000
stage fab --method fab --init-model "$out/ml/model.bgflow" --eval-every 50 --set epochs=100 \
    --set evalFlowSamples=4000 --set fab.evalAisSamples=128 --set fab.concurrentAis=false --set checkpointEvery=10
