#!/usr/bin/env bash
# Creates bench/dagster/.venv with the newest dagster from PyPI that installs on this machine's python3.
#
#   bash bench/dagster/setup.sh            # newest dagster (resolved with `pip index versions dagster`)
#   DAGSTER_VERSION=1.13.29 bash bench/dagster/setup.sh   # a pinned version
#
# Idempotent: if the venv already holds dagster at the target version it does nothing. If PyPI cannot be
# asked for the newest version but a venv with dagster is already there, that one is kept.
# Prints progress on stderr and, as its last stdout line, the installed dagster version.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
py="${PYTHON:-python3}"

log() { echo "[dagster-setup] $*" >&2; }

if ! command -v "$py" >/dev/null 2>&1; then
  log "error: $py not found on PATH (set PYTHON=/path/to/python3.10+)"
  exit 2
fi
if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  log "error: $("$py" --version 2>&1) is too old; dagster needs Python >= 3.10"
  exit 2
fi
if ! "$py" -m venv --help >/dev/null 2>&1; then
  log "error: '$py -m venv' is unavailable (Debian: apt-get install python3-venv)"
  exit 2
fi

installed_version() {
  if [[ -x "$venv/bin/python" ]]; then
    "$venv/bin/python" -c 'from importlib.metadata import version; print(version("dagster"))' 2>/dev/null || true
  fi
}

target="${DAGSTER_VERSION:-}"
if [[ -z "$target" ]]; then
  # `pip index versions` prints "dagster (X.Y.Z)" first: the newest release installable on this interpreter.
  target="$("$py" -m pip index versions dagster 2>/dev/null | sed -n 's/^dagster (\([^)]*\)).*/\1/p' | head -n1 || true)"
fi

current="$(installed_version)"
if [[ -z "$target" ]]; then
  if [[ -n "$current" ]]; then
    log "could not ask PyPI for the newest dagster; keeping installed $current"
    echo "$current"
    exit 0
  fi
  log "error: could not resolve the newest dagster version from PyPI (is pip able to reach the index?)"
  exit 3
fi

if [[ "$current" == "$target" ]]; then
  log "dagster $current already installed in $venv"
  echo "$current"
  exit 0
fi

start=$(date +%s)
if [[ ! -x "$venv/bin/python" ]]; then
  log "creating venv $venv with $("$py" --version 2>&1)"
  "$py" -m venv "$venv"
fi
log "installing dagster==$target${current:+ (replacing $current)}"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "dagster==$target" >&2
got="$(installed_version)"
if [[ "$got" != "$target" ]]; then
  log "error: expected dagster $target in the venv, found '${got:-none}'"
  exit 4
fi
log "installed dagster $got in $(( $(date +%s) - start )) s"
echo "$got"
