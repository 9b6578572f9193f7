#!/usr/bin/env bash
# The browser test's prerequisites (test/browser.test.ts: JupyterLab driven in headless Chromium):
# JupyterLab and Playwright in .venv (scripts/setup-lab.sh --browser-test), and a Chromium.
# Called by scripts/test.sh.
#
#   bash scripts/setup-browser.sh
#
# Chromium: $COLLAPSE_CHROMIUM, else /usr/bin/chromium. Playwright drives that browser; it cannot
# download its own here (`playwright install` needs a CDN), so where it is missing and we are root on
# Debian, this installs Debian's `chromium` package with apt-get. Elsewhere (not root, not Debian:
# Ubuntu's chromium is a snap) it says what to install and exits 0, and the browser test skips,
# saying why. With COLLAPSE_REQUIRE_BROWSER_TEST=1 (.ci/run sets it) a missing Chromium is an error.
# Exit codes: 0 ok (or Chromium unavailable and not required), 1 install failure, 2 missing system
# prerequisite that is required.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHROMIUM="${COLLAPSE_CHROMIUM:-/usr/bin/chromium}"
REQUIRED="${COLLAPSE_REQUIRE_BROWSER_TEST:-}"

bash "$ROOT/scripts/setup-lab.sh" --browser-test

unavailable() {
  if [[ "$REQUIRED" == 1 ]]; then
    echo "setup-browser: $* (COLLAPSE_REQUIRE_BROWSER_TEST=1: the browser test must run)" >&2
    exit 2
  fi
  echo "setup-browser: $*; the browser test will skip"
  exit 0
}

if [[ -x "$CHROMIUM" ]]; then
  echo "setup-browser: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM") (present)"
  exit 0
fi
[[ -n "${COLLAPSE_CHROMIUM:-}" ]] && unavailable "COLLAPSE_CHROMIUM=$CHROMIUM is not an executable"

# Debian proper only: on Ubuntu `apt-get install chromium` gives a snap wrapper, which does not run
# in containers or CI.
os_id="$(. /etc/os-release 2>/dev/null && echo "${ID:-}")"
if [[ "$os_id" != debian ]] || ! command -v apt-get >/dev/null 2>&1; then
  unavailable "no Chromium at $CHROMIUM and this is not Debian (${os_id:-unknown OS}): install Chromium and set COLLAPSE_CHROMIUM=/path/to/chromium"
fi
if (( EUID != 0 )); then
  unavailable "no Chromium at $CHROMIUM: install it with: sudo apt-get install --no-install-recommends chromium"
fi

# A fresh machine (or a slim container image) may have no package lists yet: update only if the
# install cannot find the package, so a machine with lists skips the download.
LOG="$ROOT/.venv/apt-chromium.log"
echo "setup-browser: installing Debian's chromium (apt-get; log: $LOG)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends chromium >"$LOG" 2>&1; then
  echo "setup-browser: apt-get install failed; updating the package lists and retrying" >>"$LOG"
  if ! { apt-get update >>"$LOG" 2>&1 && apt-get install -y --no-install-recommends chromium >>"$LOG" 2>&1; }; then
    tail -5 "$LOG" >&2
    [[ "$REQUIRED" == 1 ]] && { echo "setup-browser: could not install chromium (see $LOG)" >&2; exit 1; }
    echo "setup-browser: could not install chromium (see $LOG); the browser test will skip"
    exit 0
  fi
fi
[[ -x "$CHROMIUM" ]] || unavailable "chromium installed but $CHROMIUM is missing"
echo "setup-browser: $("$CHROMIUM" --version 2>/dev/null) installed"
