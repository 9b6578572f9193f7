#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or stale, and builds the TypeScript.
# Shared by scripts/reproduce.sh and scripts/test.sh. Works from any cwd.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup-node: node/npm not found. Install Node.js >= 20 (https://nodejs.org or your package manager)." >&2
  exit 2
fi
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if (( NODE_MAJOR < 20 )); then
  echo "setup-node: Node.js >= 20 is required, found $(node --version). Please upgrade." >&2
  exit 2
fi

# npm records the installed tree in node_modules/.package-lock.json; if that is missing or
# older than package-lock.json, reinstall exactly the locked versions (npm ci also builds,
# through the `prepare` script). Otherwise only rebuild, which is quick when nothing changed.
if [[ ! -f node_modules/.package-lock.json || node_modules/.package-lock.json -ot package-lock.json ]]; then
  echo "=== npm ci (dependencies missing or changed; builds via 'prepare')"
  npm ci --no-audit --no-fund
else
  echo "=== npm run build"
  npm run --silent build
fi
