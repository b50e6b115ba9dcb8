#!/usr/bin/env bash
# Builds the openmm-bg wheel and checks it the way a user gets it: installed with its pinned
# dependencies into a fresh virtual environment that never saw the build tree, then
# `python -m openmmbg.testInstallation` and a short `openmm-bg train` run from outside the checkout.
# scripts/run-tests.sh calls it after the tests; it can also run on its own (it sets up first).
#
#   wheel        pip wheel --no-build-isolation, reusing the project environment's openmm and torch;
#                CMake build directory $OPENMMBG_BUILD_DIR-wheel (kept, so a rebuild is incremental;
#                through ccache, a fresh checkout rebuilds it from the previous run's objects),
#                wheel in $OPENMMBG_BUILD_DIR/dist/
#   dependencies the wheel's dependencies, constrained by requirements.lock, downloaded once into
#                $OPENMMBG_CACHE/wheels-<hash of requirements.lock and pyproject.toml>; later runs
#                install offline from there (pip's own cache is not relied on)
#   fresh venv   a temporary directory, removed at the end
set -euo pipefail
if [ -z "${OPENMMBG_VENV:-}" ]; then
    source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
fi
OPENMMBG_CACHE=${OPENMMBG_CACHE:-$HOME/.cache/openmm-bg}
OPENMMBG_PYTHON=${OPENMMBG_PYTHON:-python3}
python="$OPENMMBG_VENV/bin/python"
log() { printf '[check-wheel] %s\n' "$*"; }
start=$(date +%s)

# 1. The build backend pinned in pyproject.toml, in the project environment (--no-build-isolation).
backend=$("$python" -c 'import tomllib, sys
requires = tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"]
print(next(r for r in requires if r.startswith("scikit-build-core")))' "$OPENMMBG_ROOT/pyproject.toml")
"$python" -m pip install -q "$backend"

# 2. The wheel. A build directory configured by another environment (an older lock file) starts over.
wheelBuild="$OPENMMBG_BUILD_DIR-wheel"
dist="$OPENMMBG_BUILD_DIR/dist"
if [ -f "$wheelBuild/CMakeCache.txt" ] && ! grep -q "$OPENMMBG_VENV/" "$wheelBuild/CMakeCache.txt"; then
    rm -rf "$wheelBuild"
fi
rm -rf "$dist"
log "building the wheel in $wheelBuild"
(cd "$OPENMMBG_ROOT" && CMAKE_BUILD_PARALLEL_LEVEL=${OPENMMBG_JOBS:-$(nproc)} "$python" -m pip wheel . -q \
    --no-deps --no-build-isolation -w "$dist" -C build-dir="$wheelBuild")
wheel=$(ls "$dist"/openmm_bg-*.whl)
built=$(date +%s)
log "built $(basename "$wheel") ($(du -h "$wheel" | cut -f1)) in $((built - start)) s"

# 3. The dependencies, downloaded once per lock file and pyproject.toml.
key=$(cat "$OPENMMBG_ROOT/requirements.lock" "$OPENMMBG_ROOT/pyproject.toml" | sha256sum | cut -c1-12)
wheelhouse="$OPENMMBG_CACHE/wheels-$key"
if [ ! -f "$wheelhouse/.complete" ]; then
    log "downloading the wheel's dependencies into $wheelhouse"
    rm -rf "$wheelhouse"
    "$python" -m pip download -q -c "$OPENMMBG_ROOT/requirements.lock" -d "$wheelhouse" "$wheel"
    rm -f "$wheelhouse"/openmm_bg-*.whl
    touch "$wheelhouse/.complete"
    for old in "$OPENMMBG_CACHE"/wheels-*; do
        [ "$old" != "$wheelhouse" ] && [ -d "$old" ] && rm -rf "$old"
    done
fi

# 4. A fresh virtual environment outside the checkout: the wheel and its dependencies, offline.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$OPENMMBG_PYTHON" -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install -q --no-compile --no-index --find-links "$wheelhouse" \
    -c "$OPENMMBG_ROOT/requirements.lock" "$wheel"
installed=$(date +%s)
log "fresh environment with the wheel installed in $((installed - built)) s"

# 5. Nothing in it may point into the checkout: no .pth file, no RUNPATH outside $ORIGIN.
site=$("$scratch/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
if grep -l "$OPENMMBG_ROOT" "$site"/*.pth 2>/dev/null; then
    log "FAILED: a .pth file of the fresh environment points into the checkout"; exit 1
fi
for f in $(find "$site/openmmbg" -name '*.so' -o -path '*/bin/openmm-bg' -type f); do
    runpath=$(readelf -d "$f" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
    if [ -z "$runpath" ] || printf '%s' "$runpath" | tr ':' '\n' | grep -qv '^\$ORIGIN'; then
        log "FAILED: $f has RUNPATH '$runpath' (only \$ORIGIN-relative entries belong in the wheel)"; exit 1
    fi
done

# 6. The installation self-test and the command line, from outside the checkout, with a clean environment.
cleanEnv=(env -u PYTHONPATH -u OPENMMBG_PLUGIN_DIR -u OPENMMBG_CUDA_PLUGIN_DIR -u OPENMMBG_DATA_DIR
          -u OPENMM_PLUGIN_DIR PATH="$scratch/venv/bin:/usr/bin:/bin")
(cd "$scratch" && "${cleanEnv[@]}" python -m openmmbg.testInstallation)
(cd "$scratch" && "${cleanEnv[@]}" openmm-bg train --system dw4 --method ml --out run --set epochs=1 \
    --set batchSize=500 --set flow.numBlocks=1 --set flow.egnnLayers=1 --set flow.egnnWidth=8 \
    --set flow.invariantFeatures=4 --set evalFlowSamples=64 > train.log 2>&1) || {
    cat "$scratch/train.log"; log "FAILED: openmm-bg train from the wheel"; exit 1; }
grep -q "test_nll" "$scratch/train.log" && [ -f "$scratch/run/model.bgflow" ] || {
    cat "$scratch/train.log"; log "FAILED: openmm-bg train wrote no evaluation or model"; exit 1; }
log "wheel checks passed: build $((built - start)) s, fresh environment $((installed - built)) s, tests $(($(date +%s) - installed)) s"
