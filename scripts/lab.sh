#!/usr/bin/env bash
# JupyterLab on the kit's notebooks, from the checkout's own .venv/: no conda, no global installs.
#
#   bash scripts/lab.sh [--no-browser] [--port P] [more `jupyter lab` arguments...]
#
# Sets up what is missing (the npm dependencies and the build in dist/, the .venv with JupyterLab
# and the kit's TypeScript kernel: scripts/setup-lab.sh, idempotent, seconds once done), checks that
# the kit's kernel is the one kernel Jupyter sees, then runs `jupyter lab notebooks/` on 127.0.0.1
# (port 8888 or the next free one; with --port exactly P). Jupyter prints the URL with its token.
# Jupyter's per-user state (config, data, runtime files, lab settings and workspaces) is kept in
# .venv/ too, so nothing is written to ~/.jupyter or ~/.local/share/jupyter, nor read from there.
#
# The kernel inherits this environment: COLLAPSE_PROFILE=smoke|quick|medium|paper (the notebooks' config
# cells read it; default quick), COLLAPSE_RUNS_DIR, COLLAPSE_BACKEND work as for reproduce.sh.
# Exit codes: 0 ok (JupyterLab stopped), 1 setup failure, 2 missing system prerequisite.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"

ARGS=()
while (( $# )); do
  case "$1" in
    --port) ARGS+=("--ServerApp.port=${2:?--port needs a value}" "--ServerApp.port_retries=0"); shift 2 ;;
    --port=*) ARGS+=("--ServerApp.port=${1#*=}" "--ServerApp.port_retries=0"); shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ARGS+=("$1"); shift ;;   # --no-browser and anything else go to jupyter lab as they are
  esac
done

# --- the kit: npm dependencies and dist/ ---------------------------------------------------------
# The notebooks require the compiled kit (../dist/src). setup-node.sh reinstalls when
# node_modules is missing or older than package-lock.json (npm ci, which builds); otherwise we
# rebuild only when a source file is newer than the build, so a started lab costs no build.
# COLLAPSE_LAB_SKIP_BUILD=1 skips this (the tests: the suite has built, and a rebuild would
# delete dist/test under the running test files).
if [[ "${COLLAPSE_LAB_SKIP_BUILD:-}" != 1 ]]; then
  if [[ ! -f node_modules/.package-lock.json || node_modules/.package-lock.json -ot package-lock.json ]]; then
    bash scripts/setup-node.sh
  elif [[ ! -f dist/src/index.js || ! -f dist/vendor/plotly.min.js ]] ||
       [[ -n "$(find src tsconfig.json package.json -newer dist/src/index.js -print -quit)" ]]; then
    echo "lab: dist/ is missing or older than src/: building (npm run build)"
    command -v npm >/dev/null 2>&1 || { echo "lab: npm not found (Node.js >= 20 required)" >&2; exit 2; }
    npm run --silent build
  fi
fi
[[ -f dist/src/index.js ]] || { echo "lab: dist/src/index.js missing: run 'npm run build'" >&2; exit 1; }

# --- JupyterLab in .venv ---------------------------------------------------------------------------
bash scripts/setup-lab.sh

# Jupyter's user directories, inside .venv. JUPYTER_PATH first, so the kit's tslab kernelspec wins
# over any `tslab` a user registered elsewhere (e.g. by `npx tslab install`).
export JUPYTER_DATA_DIR="$VENV/share/jupyter"
export JUPYTER_PATH="$VENV/share/jupyter"
export JUPYTER_CONFIG_DIR="$VENV/jupyter/config"
export JUPYTER_RUNTIME_DIR="$VENV/jupyter/runtime"
export JUPYTERLAB_SETTINGS_DIR="${JUPYTERLAB_SETTINGS_DIR:-$VENV/jupyter/lab/user-settings}"
export JUPYTERLAB_WORKSPACES_DIR="${JUPYTERLAB_WORKSPACES_DIR:-$VENV/jupyter/lab/workspaces}"
# Something in the server imports IPython, which makes ~/.ipython: keep that in .venv as well.
export IPYTHONDIR="$VENV/jupyter/ipython"
mkdir -p "$JUPYTER_CONFIG_DIR" "$JUPYTER_RUNTIME_DIR"

# The kernels Jupyter sees in this environment: exactly the kit's, pointing at files that exist
# (the kernelspec holds absolute paths: moving the checkout or node breaks it until setup re-runs).
"$VENV/bin/jupyter" kernelspec list --json | "$VENV/bin/python" -c '
import json, os, sys
specs = json.load(sys.stdin)["kernelspecs"]
if sorted(specs) != ["tslab"]:
    sys.exit("lab: expected exactly the kit kernel `tslab`, jupyter kernelspec list shows %s" % sorted(specs))
argv = specs["tslab"]["spec"]["argv"]
missing = [a for a in argv[:2] if not os.path.exists(a)]
if missing:
    sys.exit("lab: the tslab kernelspec points at missing %s: re-run bash scripts/setup-python.sh" % missing)
print("lab: kernel tslab (%s) -> %s" % (specs["tslab"]["spec"]["display_name"], specs["tslab"]["resource_dir"]))
'

# Jupyter refuses to run as root without --allow-root; containers and CI machines often are root,
# and the server only listens on 127.0.0.1.
(( EUID == 0 )) && ARGS=(--allow-root ${ARGS[@]+"${ARGS[@]}"})

exec "$VENV/bin/jupyter" lab "$ROOT/notebooks" --ServerApp.ip=127.0.0.1 ${ARGS[@]+"${ARGS[@]}"}
