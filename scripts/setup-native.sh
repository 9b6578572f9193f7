#!/usr/bin/env bash
# Sets up the native `tensorflow` tfjs backend from the package registries alone (PyPI + npm):
#
#   bash scripts/setup-native.sh [--gpu] [--check] [--quiet]     (same as: npm run setup:native [-- --gpu])
#
#   1. pip-installs TensorFlow's wheel (tensorflow-cpu; with --gpu tensorflow plus its "and-cuda"
#      CUDA 12 / cuDNN wheels) into .venv/native/<cpu|gpu>/, keeping the wheel's own layout;
#   2. npm-installs @tensorflow/tfjs-node (with --gpu: @tensorflow/tfjs-node-gpu) 4.22 into
#      node_modules WITHOUT its install script (that script downloads libtensorflow from a Google
#      host that is unreachable from many networks);
#   3. compiles the package's N-API binding with node-gyp against the wheel's C API
#      (libtensorflow_cc.so.2 + libtensorflow_framework.so.2 and tensorflow/include), with an rpath
#      to the wheel so its own rpaths to the nvidia/* libraries keep resolving;
#   4. checks that the kit's tfjs then runs a matmul on the `tensorflow` backend.
#
# Idempotent: each step is skipped while its stamp matches. --check only runs step 4 (exit 0 when the
# backend works). The wasm backend is never touched, so it keeps working whatever happens here.
# Exit codes: 0 ok, 1 a step failed, 2 a system prerequisite (compiler, Python, platform) is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Versions in one place: tfjs-node 4.22 is what the kit's tfjs 4.22 pairs with; TensorFlow 2.21's C
# API is a superset of the 2.9 API the binding was written against (verified by building here).
TFJS_VERSION="4.22.0"
TF_VERSION="${COLLAPSE_TF_VERSION:-2.21.0}"

FLAVOR=cpu
CHECK_ONLY=0
QUIET=0
for arg in "$@"; do
  case "$arg" in
    --gpu) FLAVOR=gpu ;;
    --cpu) FLAVOR=cpu ;;
    --check) CHECK_ONLY=1 ;;
    --quiet) QUIET=1 ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-native: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { (( QUIET )) || echo "setup-native: $*"; }
die() { echo "setup-native: $*" >&2; exit 1; }
die2() { echo "setup-native: $*" >&2; exit 2; }

if [[ "$FLAVOR" == gpu ]]; then NPM_PKG="@tensorflow/tfjs-node-gpu"; else NPM_PKG="@tensorflow/tfjs-node"; fi
PKG_DIR="$ROOT/node_modules/$NPM_PKG"
TARGET="$ROOT/.venv/native/$FLAVOR"

export PIP_ROOT_USER_ACTION=ignore
# TensorFlow's C++ start-up banners (oneDNN, CPU features) are not errors; the kit sets the same.
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

# Once step 2 has put a real tfjs-node into node_modules, a failure must not leave it there half-built:
# danfojs-node requires @tensorflow/tfjs-node, which the lockfile maps to plain tfjs. `npm install`
# with no package puts node_modules back to exactly the lockfile's tree.
NPM_TOUCHED=0
restore_npm_tree() {
  (( NPM_TOUCHED )) || return 0
  NPM_TOUCHED=0
  echo "setup-native: restoring node_modules to the lockfile's tree (the wasm backend keeps working)" >&2
  npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
    echo "setup-native: could not restore node_modules; run 'npm ci'" >&2
}
trap 'rc=$?; rm -f "${CHECK_ERR:-}"; if (( rc )); then restore_npm_tree; fi' EXIT

# --- 4. the check (also the answer to --check) ------------------------------------------------------
check_backend() {
  node - "$NPM_PKG" <<'EOF'
const pkg = process.argv[2];
const tf = require("@tensorflow/tfjs");
require(pkg);
if (tf.findBackendFactory("tensorflow") == null) throw new Error(`${pkg} loaded but registered no "tensorflow" backend`);
tf.setBackend("tensorflow");
const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
const got = Array.from(tf.matMul(a, a).dataSync());
if (got.join() !== "7,10,15,22") throw new Error(`matmul on tensorflow gave ${got}`);
const binding = tf.backend().binding;
const compiled = typeof binding.compileFunction === "function" ? "with compiled steps" : "without compiled steps (op by op)";
console.log(`${pkg}@${require(pkg + "/package.json").version} on libtensorflow ${binding && binding.TF_Version ? binding.TF_Version : "?"}, ${compiled}`);
EOF
}

CHECK_ERR="$(mktemp)"
if (( CHECK_ONLY )); then
  if out="$(check_backend 2>"$CHECK_ERR")"; then say "OK: $out"; rm -f "$CHECK_ERR"; exit 0; fi
  echo "setup-native: the tensorflow backend does not work: $(grep -m1 -E 'Error' "$CHECK_ERR" || tail -1 "$CHECK_ERR")" >&2
  rm -f "$CHECK_ERR"
  exit 1
fi

# --- prerequisites -------------------------------------------------------------------------------
OS="$(uname -s)"
ARCH="$(uname -m)"
case "$OS/$ARCH" in
  Linux/x86_64) ;;
  Darwin/arm64)
    [[ "$FLAVOR" == cpu ]] || die2 "--gpu needs Linux x86-64 with an NVIDIA driver for CUDA 12 (TensorFlow ships no GPU wheel for macOS)" ;;
  *) die2 "the native backend is built for Linux x86-64 (and, untested, macOS arm64); this is $OS/$ARCH. The wasm backend works here: bash scripts/reproduce.sh --backend wasm" ;;
esac
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || die2 "node/npm not found (Node.js >= 20 is required)"
[[ -d "$ROOT/node_modules/@tensorflow/tfjs-core" ]] || die "node_modules is not installed: run 'bash scripts/setup-node.sh' (or npm ci) first"
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
command -v "$PYTHON" >/dev/null 2>&1 || die2 "'$PYTHON' not found: TensorFlow's libraries come from its PyPI wheel, which needs Python >= 3.10 with pip
  (Debian/Ubuntu: apt-get install python3 python3-pip python3-venv; macOS: brew install python)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die2 "TensorFlow $TF_VERSION's wheels need Python >= 3.10, found $("$PYTHON" --version 2>&1)"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die2 "'$PYTHON -m pip' does not work (Debian/Ubuntu: apt-get install python3-pip)"
CXX_BIN="${CXX:-}"
if [[ -z "$CXX_BIN" ]]; then for c in g++ c++ clang++; do if command -v "$c" >/dev/null 2>&1; then CXX_BIN="$c"; break; fi; done; fi
[[ -n "$CXX_BIN" ]] && command -v "$CXX_BIN" >/dev/null 2>&1 || die2 "no C++ compiler found (g++, c++ or clang++): the binding is compiled from source
  (Debian/Ubuntu: apt-get install g++ make; macOS: xcode-select --install)"
command -v make >/dev/null 2>&1 || die2 "'make' not found (Debian/Ubuntu: apt-get install make; macOS: xcode-select --install)"
NODE_GYP="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
# npm bundles node-gyp; installs without it (some distro packages) get it from the registry.
[[ -f "$NODE_GYP" ]] || NODE_GYP=""
# The installed Node's own headers, so node-gyp downloads none.
NODE_DIR="$(node -p 'require("path").dirname(require("path").dirname(process.execPath))')"
[[ -f "$NODE_DIR/include/node/node_api.h" ]] || die2 "Node's headers are missing from $NODE_DIR/include/node (install Node.js from nodejs.org, nvm or a distro package that ships its headers, e.g. Debian's libnode-dev)"

# --- 1. TensorFlow's wheel -------------------------------------------------------------------------
if [[ "$OS" == Darwin ]]; then PIP_PKG="tensorflow==$TF_VERSION"; elif [[ "$FLAVOR" == gpu ]]; then PIP_PKG="tensorflow==$TF_VERSION"; else PIP_PKG="tensorflow-cpu==$TF_VERSION"; fi
WHEEL_STAMP="$TARGET/.collapse-wheel"
want_wheel="$PIP_PKG $FLAVOR"
if [[ -f "$WHEEL_STAMP" && "$(cat "$WHEEL_STAMP")" == "$want_wheel" ]]; then
  say "[1/4] $PIP_PKG already in ${TARGET#$ROOT/}"
else
  if [[ "$FLAVOR" == gpu ]]; then size="~0.6 GB, then several GB of CUDA wheels"; else size="~270 MB"; fi
  say "[1/4] pip install $PIP_PKG into ${TARGET#$ROOT/} ($size; only its C libraries and headers are used)"
  rm -rf "$TARGET.partial"
  mkdir -p "$(dirname "$TARGET")"
  # --no-deps: the Python side of TensorFlow (keras, numpy, ...) is not needed for its C API.
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --target "$TARGET.partial" "$PIP_PKG" ||
    die "pip could not install $PIP_PKG (is PyPI reachable? a proxy goes in PIP_INDEX_URL / HTTPS_PROXY)"
  if [[ "$FLAVOR" == gpu ]]; then
    # The "and-cuda" extra lists the CUDA 12 / cuDNN wheels TensorFlow was built against; install
    # them next to it so the wheel's rpaths ($ORIGIN/../nvidia/*/lib) find them.
    mapfile -t cuda < <("$PYTHON" - "$TARGET.partial" <<'EOF'
import glob, re, sys
meta = glob.glob(sys.argv[1] + "/tensorflow-*.dist-info/METADATA")
for line in open(meta[0], encoding="utf-8"):
    m = re.match(r"Requires-Dist: ([^;]+);\s*extra\s*==\s*[\"']and-cuda[\"']", line)
    if m: print(m.group(1).replace(" ", "").replace("(", "").replace(")", ""))
EOF
)
    (( ${#cuda[@]} )) || die "the tensorflow wheel lists no and-cuda extra: cannot find its CUDA wheels"
    say "      + ${#cuda[@]} CUDA wheels from its and-cuda extra (several GB): ${cuda[*]}"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --target "$TARGET.partial" "${cuda[@]}" ||
      die "pip could not install TensorFlow's CUDA wheels"
  fi
  rm -rf "$TARGET"
  mv "$TARGET.partial" "$TARGET"
  echo "$want_wheel" >"$WHEEL_STAMP"
fi
TF_DIR="$TARGET/tensorflow"
if [[ "$OS" == Darwin ]]; then LIB_CC="libtensorflow_cc.2.dylib"; LIB_FW="libtensorflow_framework.2.dylib"; else LIB_CC="libtensorflow_cc.so.2"; LIB_FW="libtensorflow_framework.so.2"; fi
for f in "$LIB_CC" "$LIB_FW" include/tensorflow/c/c_api.h include/tensorflow/c/eager/c_api.h; do
  [[ -e "$TF_DIR/$f" ]] || die "$TF_DIR/$f is missing: the wheel does not have the layout this script expects (remove ${TARGET#$ROOT/} and retry)"
done

# --- 2. the npm package, without its download step -------------------------------------------------
installed_version() { node -e 'try { const p = require(process.argv[1] + "/package.json"); if (p.name === process.argv[2]) console.log(p.version) } catch {}' "$PKG_DIR" "$NPM_PKG"; }
if [[ "$(installed_version)" == "$TFJS_VERSION" ]]; then
  say "[2/4] $NPM_PKG@$TFJS_VERSION already in node_modules"
else
  say "[2/4] npm install $NPM_PKG@$TFJS_VERSION --ignore-scripts (no libtensorflow download)"
  # --no-save: package.json and package-lock.json stay as they are, so `npm ci` keeps giving every
  # machine the portable tree; this script adds the native package on top.
  npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error "$NPM_PKG@$TFJS_VERSION" >/dev/null ||
    die "npm could not install $NPM_PKG@$TFJS_VERSION"
fi
NPM_TOUCHED=1
cores="$(node -e 'const fs=require("fs");const r=[];(function walk(d,depth){if(depth>6)return;let es;try{es=fs.readdirSync(d,{withFileTypes:true})}catch{return}for(const e of es){if(!e.isDirectory())continue;const p=d+"/"+e.name;if(p.endsWith("node_modules/@tensorflow/tfjs-core"))r.push(p);else walk(p,depth+1)}})("node_modules",0);console.log(r.length)')"
[[ "$cores" == 1 ]] || die "node_modules holds $cores copies of @tensorflow/tfjs-core after installing $NPM_PKG (the kit needs exactly one); run 'npm ci' and retry"

# --- 3. the N-API binding ----------------------------------------------------------------------------
BINDING="$(node -e 'console.log(require(process.argv[1] + "/node_modules/@mapbox/node-pre-gyp").find(process.argv[2] + "/package.json"))' "$ROOT" "$PKG_DIR" 2>/dev/null || true)"
[[ -n "$BINDING" ]] || BINDING="$PKG_DIR/lib/napi-v8/tfjs_binding.node"
NAPI_DIR="$(basename "$(dirname "$BINDING")")"
BUILD_STAMP="$(dirname "$BINDING")/.collapse-build"
# The kit's compiled-step functions (native/compiled_functions.cc) are compiled into the binding; a
# change to them rebuilds it.
EXT_SRC="$ROOT/native/compiled_functions.cc"
ext_hash="$(node -e 'console.log(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex").slice(0, 16))' "$EXT_SRC")"
want_build="$TF_DIR $(stat -c %Y "$TF_DIR/$LIB_CC" 2>/dev/null || stat -f %m "$TF_DIR/$LIB_CC") node-$(node -p process.versions.modules) compiled-steps-$ext_hash"
if [[ -f "$BINDING" && -f "$BUILD_STAMP" && "$(cat "$BUILD_STAMP")" == "$want_build" ]] && check_backend >/dev/null 2>&1; then
  say "[3/4] binding already built against ${TF_DIR#$ROOT/}"
else
  say "[3/4] compiling the tfjs-node binding, with the kit's compiled steps, against TensorFlow $TF_VERSION's C API (~30 s)"
  # binding.gyp links -ltensorflow -ltensorflow_framework from deps/lib and includes deps/include:
  # point those at the wheel. The link names only matter at build time; at run time the binding asks
  # for the wheel's SONAMEs, found through the rpath to the wheel itself.
  rm -rf "$PKG_DIR/deps" "$PKG_DIR/build"
  mkdir -p "$PKG_DIR/deps/lib"
  ln -s "$TF_DIR/include" "$PKG_DIR/deps/include"
  if [[ "$OS" == Darwin ]]; then
    ln -s "$TF_DIR/$LIB_CC" "$PKG_DIR/deps/lib/libtensorflow.2.dylib"
    ln -s "$TF_DIR/$LIB_FW" "$PKG_DIR/deps/lib/libtensorflow_framework.2.dylib"
  else
    ln -s "$TF_DIR/$LIB_CC" "$PKG_DIR/deps/lib/libtensorflow.so"
    ln -s "$TF_DIR/$LIB_FW" "$PKG_DIR/deps/lib/libtensorflow_framework.so"
  fi
  napi="${NAPI_DIR#napi-v}"
  gyp=(node "$NODE_GYP")
  [[ -n "$NODE_GYP" ]] || gyp=(npm exec --yes -- node-gyp@11)
  log="$PKG_DIR/build-native.log"
  mkdir -p "$(dirname "$BINDING")"
  build_binding() {
    (cd "$PKG_DIR" && CXX="$CXX_BIN" LDFLAGS="-Wl,-rpath,$TF_DIR" "${gyp[@]}" rebuild --nodedir="$NODE_DIR" \
      --module_name=tfjs_binding --module_path="$(dirname "$BINDING")" --napi_build_version="$napi" \
      -j "$(node -p 'require("os").availableParallelism()')") >"$log" 2>&1
  }
  rm -f "$BUILD_STAMP"
  if "$PYTHON" -W ignore scripts/patch_tfjs_binding.py "$PKG_DIR" "$EXT_SRC" >>"$log" 2>&1 && build_binding; then
    :
  else
    # Without the extension the backend still works, eagerly (every step op by op).
    cp "$log" "$log.compiled-steps"
    echo "setup-native: could not build the kit's compiled steps into the binding ($(grep -m1 -E 'error|patch_tfjs_binding' "$log.compiled-steps" || tail -1 "$log.compiled-steps")); building tfjs-node's binding alone, whose steps run op by op (log: ${log#$ROOT/}.compiled-steps)" >&2
    "$PYTHON" -W ignore scripts/patch_tfjs_binding.py "$PKG_DIR" --restore >>"$log" 2>&1 || true
    if ! build_binding; then
      tail -20 "$log" >&2
      die "compiling the binding failed (full log: ${log#$ROOT/})"
    fi
  fi
  [[ -f "$BINDING" ]] || cp "$PKG_DIR/build/Release/tfjs_binding.node" "$BINDING"
  echo "$want_build" >"$BUILD_STAMP"
fi

# --- 4. check ----------------------------------------------------------------------------------------
if ! out="$(check_backend 2>"$CHECK_ERR")"; then
  grep -v '^I0000\|^WARNING: All log' "$CHECK_ERR" | tail -5 >&2
  die "the binding was built but the tensorflow backend does not run (see above)"
fi
rm -f "$CHECK_ERR"
NPM_TOUCHED=0
say "[4/4] OK: the kit's tfjs runs on tensorflow via $out ($FLAVOR)"
