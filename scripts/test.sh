#!/usr/bin/env bash
# The whole test suite: installs what it needs (npm dependencies, the Python venv with the
# Jupyter client for the notebook tests), builds, then runs every test with node's test runner:
# unit, statistical, CLI, figures, and every notebook executed headlessly at the smoke profile.
#
#   bash scripts/test.sh [node --test args...]     (same as: npm test)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup-node.sh
bash scripts/setup-python.sh
# The notebook tests need no other setup; a run store in a temp dir keeps tests independent
# of (and from touching) the user's runs/.
export COLLAPSE_RUNS_DIR="$(mktemp -d)"
trap 'rm -rf "$COLLAPSE_RUNS_DIR"' EXIT
if (( $# )); then node --test --test-reporter=spec "$@"; else node --test --test-reporter=spec dist/test/*.test.js; fi
