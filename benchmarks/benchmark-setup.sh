# Sourced by the benchmark scripts that run openmm-bg (bash): sets root (the repository), bin (the
# openmm-bg binary under OPENMMBG_BUILD_DIR, default build/) and one torch thread with passive OpenMP
# waits, the setting of every documented CPU figure.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${OPENMMBG_BUILD_DIR:-$root/build}/bin/openmm-bg
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
