#!/usr/bin/env bash
# Makes sure Debian's PostgreSQL server binaries are under /usr/lib/postgresql/<version>/bin, for
# `npm run test:cluster` and `opgraph cluster` (src/server/postgres.ts runs initdb/pg_ctl from there;
# the postgresql service itself is never used). Installs them with apt-get when we are root or have
# passwordless sudo; otherwise explains what to do.
set -euo pipefail

found() { ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1; }

if [ -n "$(found)" ]; then
  echo "== postgresql: $("$(found)" --version 2>/dev/null || found)"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "ensure-postgres: no /usr/lib/postgresql/<version>/bin/initdb, and this user can't install it (not root, no passwordless sudo)." >&2
  echo "ensure-postgres: install it yourself (\`sudo apt-get install -y postgresql\`); npm run test:cluster fails without it." >&2
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-postgres: PostgreSQL is missing and there is no apt-get here; install PostgreSQL >= 12 and set OPGRAPH_POSTGRES_BIN to its bin directory." >&2
  exit 0
fi

echo "== postgresql: installing Debian's PostgreSQL (apt-get install -y postgresql) …"
export DEBIAN_FRONTEND=noninteractive
if "${SUDO[@]}" apt-get update -q && "${SUDO[@]}" apt-get install -y -q postgresql; then
  echo "== postgresql: $("$(found)" --version 2>/dev/null || echo installed)"
else
  echo "ensure-postgres: apt-get could not install postgresql; npm run test:cluster will fail." >&2
fi
