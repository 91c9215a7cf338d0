#!/usr/bin/env bash
# The one test command: installs everything (system packages included) and runs the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/core -x
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$here/scripts/setup.sh" --test
venv=${HYPERPEER_VENV:-$here/.venv}
cd "$here"
exec "$venv/bin/python" -m pytest "$@"
