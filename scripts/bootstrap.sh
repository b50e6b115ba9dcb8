#!/usr/bin/env bash
# Installs everything openmm-bg needs on a fresh Debian machine and builds every target.
# Safe to re-run: apt packages are installed only when missing, the Python environment is
# cached outside the checkout (keyed by the hash of requirements.lock and the Python version),
# and compilation goes through ccache.
#
# Environment knobs:
#   OPENMMBG_CACHE      cache root (default: ~/.cache/openmm-bg)
#   OPENMMBG_BUILD_DIR  build directory (default: <repo>/build)
#   OPENMMBG_PYTHON     Python interpreter used to create the environment (default: python3)
#   OPENMMBG_JOBS       parallel build jobs (default: number of cores)
#
# When sourced, it exports OPENMMBG_VENV, OPENMMBG_BUILD_DIR and puts the environment on PATH.
set -euo pipefail

OPENMMBG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OPENMMBG_CACHE=${OPENMMBG_CACHE:-$HOME/.cache/openmm-bg}
OPENMMBG_BUILD_DIR=${OPENMMBG_BUILD_DIR:-$OPENMMBG_ROOT/build}
OPENMMBG_PYTHON=${OPENMMBG_PYTHON:-python3}
OPENMMBG_JOBS=${OPENMMBG_JOBS:-$(nproc)}
bootstrapStart=$(date +%s)

log() { printf '[bootstrap] %s\n' "$*"; }

# 1. System packages (Debian). Each has a job:
#    cmake/ninja-build: build; g++: compiler; libeigen3-dev: small dense
#    linear algebra on the OpenMM side; libgtest-dev/googletest: C++ tests; libbenchmark-dev:
#    benchmarks; nlohmann-json3-dev: FlowConfig JSON; libcli11-dev: the openmm-bg command line;
#    ccache: fast rebuilds; zlib1g-dev: the CRC-32 checksums of saved flows and checkpoints;
#    libgloo-dev: the Gloo headers that LibTorch's c10d process-group header includes (distributed
#    training; the Gloo code itself ships inside the torch wheel).
#    SWIG comes from PyPI (requirements.lock): Debian's 4.1 writes SWIG runtime 4, while the openmm
#    wheel's module uses runtime 5, and the two cannot share OpenMM's Python types.
aptPackages=(cmake ninja-build g++ libeigen3-dev libgtest-dev googletest libbenchmark-dev
             nlohmann-json3-dev libcli11-dev ccache zlib1g-dev libgloo-dev)
missing=()
for p in "${aptPackages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Python environment (openmm, openmm-cuda-13, torch, numpy, pytest, matplotlib, mdtraj).
pyVersion=$("$OPENMMBG_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
envKey=$( (cat "$OPENMMBG_ROOT/requirements.lock"; echo "$pyVersion") | sha256sum | cut -c1-12)
OPENMMBG_VENV="$OPENMMBG_CACHE/venv-$envKey"
if [ ! -f "$OPENMMBG_VENV/.complete" ]; then
    log "creating Python environment $OPENMMBG_VENV (Python $pyVersion)"
    rm -rf "$OPENMMBG_VENV"
    mkdir -p "$OPENMMBG_CACHE"
    "$OPENMMBG_PYTHON" -m venv "$OPENMMBG_VENV"
    "$OPENMMBG_VENV/bin/python" -m pip install -q --upgrade pip
    "$OPENMMBG_VENV/bin/python" -m pip install -q -r "$OPENMMBG_ROOT/requirements.lock"
    touch "$OPENMMBG_VENV/.complete"
    # Environments for older lock files take gigabytes each; keep only the current one.
    for old in "$OPENMMBG_CACHE"/venv-*; do
        [ "$old" != "$OPENMMBG_VENV" ] && [ -d "$old" ] && rm -rf "$old"
    done
else
    log "reusing Python environment $OPENMMBG_VENV"
fi
export PATH="$OPENMMBG_VENV/bin:$PATH"

# 3. Configure and build every target.
export CCACHE_DIR=${CCACHE_DIR:-$OPENMMBG_CACHE/ccache}
# Precompiled headers (LibTorch) need these for ccache hits.
export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
# Paths relative to the checkout, so a fresh clone elsewhere (CI) reuses the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$OPENMMBG_ROOT} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
ccache --max-size=5G >/dev/null 2>&1 || true
if [ ! -f "$OPENMMBG_BUILD_DIR/build.ninja" ]; then
    log "configuring $OPENMMBG_BUILD_DIR"
    cmake -S "$OPENMMBG_ROOT" -B "$OPENMMBG_BUILD_DIR" -G Ninja \
        -DCMAKE_BUILD_TYPE=Release \
        -DPython3_EXECUTABLE="$OPENMMBG_VENV/bin/python" \
        -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
        -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache
fi
configured=$(date +%s)
log "building with $OPENMMBG_JOBS jobs"
cmake --build "$OPENMMBG_BUILD_DIR" -j "$OPENMMBG_JOBS"
built=$(date +%s)

# Make `import openmmbg` work inside the environment.
sitePackages=$("$OPENMMBG_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$OPENMMBG_BUILD_DIR/python" > "$sitePackages/openmmbg-build.pth"

log "set-up $((configured - bootstrapStart)) s, build $((built - configured)) s"
export OPENMMBG_ROOT OPENMMBG_VENV OPENMMBG_BUILD_DIR
