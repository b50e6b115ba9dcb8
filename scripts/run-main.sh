#!/usr/bin/env bash
# Sets up everything (scripts/bootstrap.sh), then runs the main job.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
python -m openmmbg.testInstallation "$@"
