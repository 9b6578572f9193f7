#!/usr/bin/env bash
# Create (or refresh) the project-local Python venv used by the headless notebook
# pipeline: .venv/ with nbclient/nbconvert/plotly/kaleido, plus a `tslab`
# kernelspec inside the venv, so nothing is installed into the user's Jupyter.
#
# Idempotent: the pip install is skipped while .venv/.requirements.sha256 matches
# the hash of scripts/requirements-notebooks.txt (+ the Python version).
# Exit codes: 0 ok, 1 install/kernelspec failure, 2 missing system prerequisite.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$ROOT/scripts/requirements-notebooks.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

die2() { echo "setup-python: $*" >&2; exit 2; }

# --- system prerequisites -------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || die2 "'$PYTHON' not found. Install Python >= 3.9
  (Debian/Ubuntu: apt-get install python3 python3-venv; macOS: brew install python)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
  die2 "Python >= 3.9 required, found $("$PYTHON" --version 2>&1)"

# --- venv -------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup-python: creating $VENV"
  # Debian/Ubuntu ship python3 without the venv module/ensurepip; venv then fails
  # half-way, so remove the remains and say which package is missing.
  if ! "$PYTHON" -m venv "$VENV"; then
    rm -rf "$VENV"
    pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    die2 "'$PYTHON -m venv' failed: the venv module / ensurepip is missing.
  Debian/Ubuntu: apt-get install python3-venv   (or python${pyver}-venv)
  then re-run: bash scripts/setup-python.sh"
  fi
fi

# Hash with Python (sha256sum is not on every system, e.g. macOS).
want="$("$VENV/bin/python" - "$REQ" <<'EOF'
import hashlib, sys
data = open(sys.argv[1], "rb").read() + sys.version.encode()
print(hashlib.sha256(data).hexdigest())
EOF
)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "setup-python: requirements up to date (stamp matches), skipping pip install"
else
  echo "setup-python: installing $(basename "$REQ") into .venv (first time: ~30 s)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
  echo "$want" >"$STAMP"   # written only after a successful install
fi

# --- tslab kernelspec -------------------------------------------------------------
# We write kernel.json ourselves instead of `tslab install`: that would register a
# bare `tslab` command (needs it on PATH), needs IPython and adds a JavaScript
# kernel. The kernel is bin/collapse-kernel.js: tslab's kernel with working
# interrupts, one-line config errors and a truthful busy status (see its header).
# Absolute paths make the kernel independent of PATH/cwd.
TSLAB="$ROOT/node_modules/tslab/dist/main.js"
KERNEL="$ROOT/bin/collapse-kernel.js"
if [[ ! -f "$TSLAB" ]]; then
  echo "setup-python: $TSLAB not found - run 'npm ci' in $ROOT first" >&2
  exit 1
fi
command -v node >/dev/null 2>&1 || die2 "node not found on PATH (Node >= 20 required)"
NODE="$(node -p 'process.execPath')"
KDIR="$VENV/share/jupyter/kernels/tslab"
mkdir -p "$KDIR"
"$VENV/bin/python" - "$KDIR/kernel.json" "$NODE" "$KERNEL" <<'EOF'
import json, sys
path, node, kernel = sys.argv[1:]
spec = {
    "argv": [node, kernel, "--config-path", "{connection_file}"],
    "interrupt_mode": "signal",
    "display_name": "TypeScript (collapse-kit)",
    "language": "typescript",
}
with open(path, "w") as f:
    json.dump(spec, f, indent=1)
EOF
echo "setup-python: kernelspec tslab -> $KDIR/kernel.json (node $("$NODE" --version))"
