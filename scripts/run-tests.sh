#!/usr/bin/env bash
# Sets up everything (scripts/bootstrap.sh), then runs the whole test suite:
# the C++ tests through CTest, the Python tests through pytest, and the wheel check
# (scripts/check-wheel.sh: pip wheel, a fresh virtual environment, openmmbg.testInstallation).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

status=0
echo "== C++ tests (CTest) =="
ctest --test-dir "$OPENMMBG_BUILD_DIR" --output-on-failure -j "$OPENMMBG_JOBS" || status=1
echo "== Python tests (pytest) =="
(cd "$OPENMMBG_ROOT" && python -m pytest -q -p no:cacheprovider tests/python) || status=1
echo "== Wheel (pip wheel, fresh environment, testInstallation) =="
bash "$OPENMMBG_ROOT/scripts/check-wheel.sh" || status=1
exit $status
