#!/usr/bin/env bash
# Makes sure Debian's chromium is at /usr/bin/chromium, for the Web UI browser test (test/ui/).
# Installs it with apt-get when we are root or have passwordless sudo; otherwise explains what to do.
# Never downloads a browser build of its own: playwright-core drives this system chromium.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "== chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "ensure-chromium: $CHROMIUM is missing and this user can't install it (not root, no passwordless sudo)." >&2
  echo "ensure-chromium: install Debian's chromium yourself (\`sudo apt-get install -y chromium\`);" >&2
  echo "ensure-chromium: the Web UI test (test/ui/webui.test.ts) fails without it." >&2
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and there is no apt-get here; install chromium with your package manager." >&2
  echo "ensure-chromium: the Web UI test (test/ui/webui.test.ts) fails without it." >&2
  exit 0
fi

echo "== chromium: installing Debian's chromium (apt-get install -y chromium) …"
export DEBIAN_FRONTEND=noninteractive
if "${SUDO[@]}" apt-get update -q && "${SUDO[@]}" apt-get install -y -q chromium; then
  echo "== chromium: $("$CHROMIUM" --version 2>/dev/null || echo installed)"
else
  echo "ensure-chromium: apt-get could not install chromium; the Web UI test (test/ui/webui.test.ts) will fail." >&2
fi
