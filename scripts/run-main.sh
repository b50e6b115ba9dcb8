#!/usr/bin/env bash
# Sets up everything (scripts/bootstrap.sh), then runs the main job: a short FAB training of the
# E-ACF on DW4 on the CPU, from OpenMM energies alone, with the embedded configuration in
# examples/dw4-fab-quick/ (a smaller flow than the paper's and 450 iterations; see README.md).
# Prints progress and the effective sample sizes reached, and writes the model, the training log
# and an ESS-vs-time plot to runs/dw4-fab-quick/ (replaced on every run).
# Extra arguments go to `openmm-bg train` (e.g. --set epochs=1000, --max-minutes 5).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$OPENMMBG_ROOT"
out=runs/dw4-fab-quick
rm -rf "$out"
# One torch thread, passive OpenMP waits: the fastest setting on a small machine.
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
"$OPENMMBG_BUILD_DIR/bin/openmm-bg" train --system dw4 --method fab --out "$out" --threads 1 \
    --flow-config examples/dw4-fab-quick/flow.json --training-config examples/dw4-fab-quick/training.json "$@"
if [ -f "$out/train-log.csv" ]; then
    python -m openmmbg.trainingplots "$out/train-log.csv" --title "DW4, FAB (openmm-bg main job)" >/dev/null
    echo "plot: $out/ess-vs-time.png"
fi
