#!/usr/bin/env bash
# The whole test suite: installs what it needs (npm dependencies, the Python venv with the
# Jupyter client for the notebook tests), builds, then runs every test with node's test runner:
# unit, statistical, CLI, figures, every notebook executed headlessly at the smoke profile, and the
# §2 and §3.1 notebooks in JupyterLab in headless Chromium (test/browser.test.ts).
#
#   bash scripts/test.sh [--backend tensorflow|tensorflow-gpu|wasm|cpu] [node --test args...]   (npm test)
#
# The backend: by default the native tensorflow one, set up by scripts/setup-native.sh where it builds
# (else wasm, with a one-line notice); --backend or COLLAPSE_BACKEND picks one. The backend-parity
# tests (test/backendParity.test.ts) compare every installed backend with cpu whatever is picked.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BACKEND="${COLLAPSE_BACKEND:-}"
case "${1:-}" in
  --backend) BACKEND="${2:?--backend needs a value}"; shift 2 ;;
  --backend=*) BACKEND="${1#*=}"; shift ;;
esac
bash scripts/setup-node.sh
bash scripts/setup-python.sh
# The browser test's JupyterLab, Playwright and Chromium (apt-get as root on Debian; elsewhere the
# test skips, saying why).
bash scripts/setup-browser.sh
source scripts/use-backend.sh
use_backend "$BACKEND" "$ROOT/.venv/native/setup-native.log"
# The Slurm test (test/sweep.test.ts) needs a running cluster: as root with apt (CI's fresh Debian
# machine), start a one-node one here; elsewhere it skips, saying why.
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "=== slurm: starting a one-node cluster (scripts/setup-slurm.sh; log: .venv/setup-slurm.log)"
  export COLLAPSE_REQUIRE_SLURM=1 # test/sweep.test.ts then fails, not skips, without a cluster
  mkdir -p "$ROOT/.venv"
  if bash scripts/setup-slurm.sh >"$ROOT/.venv/setup-slurm.log" 2>&1; then tail -1 "$ROOT/.venv/setup-slurm.log"
  else echo "=== slurm: setup failed, the Slurm tests will fail: $(tail -1 "$ROOT/.venv/setup-slurm.log")"; fi
fi
# The notebook tests need no other setup; a run store in a temp dir keeps tests independent
# of (and from touching) the user's runs/.
export COLLAPSE_RUNS_DIR="$(mktemp -d)"
trap 'rm -rf "$COLLAPSE_RUNS_DIR"' EXIT
if (( $# )); then node --test --test-reporter=spec "$@"; else node --test --test-reporter=spec dist/test/*.test.js; fi
