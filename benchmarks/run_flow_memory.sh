#!/usr/bin/env bash
# Peak memory and speed of the flow with and without the memory-saving options, one benchmark case
# per process (the peak-RSS counter is per process). Usage:
#   benchmarks/run_flow_memory.sh [build-dir] [case-regex ...]
# Each case is a BenchmarkFlow filter such as 'BM_LogProbForwardBackward/system:1/batch:128/threads:1/memorySaving:1'.
# Without cases it runs the LJ13 and ALDP-sized sizes that need the memory savings most.
set -euo pipefail
build=${1:-build}
shift || true
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
    for system in 1 2; do
        for saving in 0 1; do
            cases+=("BM_LogProbForwardBackward/system:$system/batch:128/threads:1/memorySaving:$saving")
        done
    done
    cases+=("BM_SampleAndLogProb/system:2/batch:1024/threads:1/memorySaving:1")
    cases+=("BM_LogProbForwardBackward/system:1/batch:1024/threads:1/memorySaving:1")
fi
for c in "${cases[@]}"; do
    "$build/bin/BenchmarkFlow" --benchmark_filter="^$c/" --benchmark_min_time=0.01 2>/dev/null | grep -E '^BM_' || echo "$c: failed"
done
