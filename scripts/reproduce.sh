#!/usr/bin/env bash
# Run everything: build the TypeScript, set up the Python venv, execute all
# notebooks headlessly, export the figures, and build one offline HTML report.
#
#   bash scripts/reproduce.sh [--profile quick|smoke|medium|paper] [--out DIR] [--backend NAME]
#
# Defaults: --profile quick, --out out/ (in the repo). Works from any cwd. The backend: by default
# the native tensorflow one (set up by scripts/setup-native.sh where it builds, else wasm with a
# notice); --backend tensorflow|tensorflow-gpu|wasm|cpu (or COLLAPSE_BACKEND) picks one.
# Exits non-zero if any step fails; the report is still built from whatever
# executed, so a failing notebook can be inspected in DIR/report.html.
set -euo pipefail

PROFILE=quick
OUT=""
BACKEND="${COLLAPSE_BACKEND:-}"
usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --profile) PROFILE="${2:?--profile needs a value}"; shift 2 ;;
    --profile=*) PROFILE="${1#*=}"; shift ;;
    --out) OUT="${2:?--out needs a value}"; shift 2 ;;
    --out=*) OUT="${1#*=}"; shift ;;
    --backend) BACKEND="${2:?--backend needs a value}"; shift 2 ;;
    --backend=*) BACKEND="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "reproduce: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$PROFILE" in smoke|quick|medium|paper) ;; *) echo "reproduce: --profile must be smoke, quick, medium or paper" >&2; exit 2 ;; esac
# A relative --out is relative to where the user ran us, not to the repo root.
if [[ -n "$OUT" && "$OUT" != /* ]]; then OUT="$PWD/$OUT"; fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/out}"
PY="$ROOT/.venv/bin/python"

step() { echo; echo "=== [$(date +%H:%M:%S)] $*"; }

# --- (a) Node.js check, npm dependencies, TypeScript build --------------------------
bash scripts/setup-node.sh

# --- (b) Python venv + tslab kernelspec ----------------------------------------------
step "Python environment (.venv)"
bash scripts/setup-python.sh

# --- (b') the tensor backend: native where it builds -----------------------------------------------
step "Tensor backend"
source scripts/use-backend.sh
use_backend "$BACKEND" "$ROOT/.venv/native/setup-native.log"

# --- (c)-(e): keep going after a failure so the report shows what happened ------------
# Fresh executed notebooks/figures for this run (only the two folders we own).
rm -rf "$OUT/notebooks" "$OUT/figures"
mkdir -p "$OUT"
failed=()

step "Executing notebooks (profile=$PROFILE)"
"$PY" scripts/run_notebooks.py --out "$OUT" --profile "$PROFILE" || failed+=("run_notebooks")

step "Exporting figures (png, svg, pdf)"
if [[ -d "$OUT/figures" ]]; then
  "$PY" scripts/export_figures.py "$OUT/figures" || failed+=("export_figures")
fi

step "Building report"
"$PY" scripts/build_report.py --out "$OUT" || failed+=("build_report")

echo
echo "Report:    $OUT/report.html"
echo "Figures:   $OUT/figures/ (*.json, *.png, *.svg, *.pdf)"
echo "Notebooks: $OUT/notebooks/ (executed copies, summary.json)"
if (( ${#failed[@]} )); then
  echo "reproduce: FAILED steps: ${failed[*]} (see the messages above)" >&2
  exit 1
fi
echo "reproduce: all steps OK (profile=$PROFILE, backend=$COLLAPSE_BACKEND, ${SECONDS}s)"
