# Sourced by scripts/reproduce.sh and scripts/test.sh: picks the tfjs backend for everything they run and
# exports it as COLLAPSE_BACKEND, so that a run never silently changes backend half-way.
#
#   use_backend WANT LOG     WANT: "" (the default: native where it builds, else wasm), tensorflow,
#                            tensorflow-gpu, wasm or cpu. LOG: where setup-native's output goes.
#
# The default sets up the native backend (scripts/setup-native.sh: a few minutes the first time, seconds
# after) and falls back to wasm with a one-line notice if it cannot be built here. Asking for tensorflow
# explicitly makes a failed setup an error instead.
use_backend() {
  local want="$1" log="$2" flavor=()
  case "$want" in
    wasm|cpu)
      export COLLAPSE_BACKEND="$want"
      echo "=== backend: $want (native setup skipped)"
      return 0 ;;
    ""|tensorflow|tensorflow-gpu) ;;
    *) echo "unknown backend '$want' (expected tensorflow, tensorflow-gpu, wasm or cpu)" >&2; return 2 ;;
  esac
  [[ "$want" == tensorflow-gpu ]] && flavor=(--gpu)
  echo "=== backend: setting up the native tensorflow backend (scripts/setup-native.sh ${flavor[*]}; log: $log)"
  mkdir -p "$(dirname "$log")"
  if bash "$ROOT/scripts/setup-native.sh" "${flavor[@]}" >"$log" 2>&1; then
    tail -1 "$log"
    export COLLAPSE_BACKEND=tensorflow
    return 0
  fi
  local why
  why="$(grep -m1 'setup-native: ' <(grep -v '\[[0-9]/4\]\|restoring' "$log") || tail -1 "$log")"
  if [[ -n "$want" ]]; then
    cat "$log" >&2
    echo "the native backend could not be set up: $why" >&2
    return 1
  fi
  echo "=== backend: native tensorflow unavailable here (${why#setup-native: }); using wasm"
  export COLLAPSE_BACKEND=wasm
}
