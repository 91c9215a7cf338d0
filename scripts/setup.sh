#!/usr/bin/env bash
# Installs everything hyperpeer needs on a fresh Debian 12 / Python 3.11 machine:
# system packages (compiler, Python and GMP headers for libp2p's fastecdsa), a virtualenv
# with the pinned dependencies of requirements.lock, and the project itself (editable).
# With --test it also installs the pinned Node packages that the interop tests drive.
# It is idempotent: a stamp file skips work that is already done.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${HYPERPEER_VENV:-$here/.venv}
with_test=0
[ "${1:-}" = "--test" ] && with_test=1

sudo_=""
[ "$(id -u)" = 0 ] || sudo_=sudo
missing=()
for pkg in build-essential python3-dev python3-venv libgmp-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}" >&2
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null
fi

py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: Python >= 3.11 is required (found $("$py" --version 2>&1))" >&2
  exit 1
fi
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"

stamp="$venv/.hyperpeer-stamp"
want=$(cat "$here/requirements.lock" "$here/pyproject.toml" | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into $venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.lock"
  if [ -z "${HYPERPEER_VENV:-}" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$here"
  fi
  echo "$want" > "$stamp"
fi

if [ "$with_test" = 1 ] && [ -f "$here/tests/interop/package-lock.json" ]; then
  if command -v npm >/dev/null 2>&1; then
    lock_hash=$(sha256sum "$here/tests/interop/package-lock.json" | cut -c1-16)
    if [ "$(cat "$here/tests/interop/node_modules/.stamp" 2>/dev/null)" != "$lock_hash" ]; then
      echo "setup: installing pinned Node packages for the interop tests" >&2
      (cd "$here/tests/interop" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
      echo "$lock_hash" > "$here/tests/interop/node_modules/.stamp"
    fi
  else
    echo "setup: npm not found; interop tests will be skipped" >&2
  fi
fi
