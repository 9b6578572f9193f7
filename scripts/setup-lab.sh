#!/usr/bin/env bash
# Puts JupyterLab into the checkout's own .venv/ (no conda, nothing global) and configures it so
# that the kit's TypeScript kernel is the only kernel it offers. Used by scripts/lab.sh (which
# then starts JupyterLab) and by scripts/setup-browser.sh (the browser test's setup).
#
#   bash scripts/setup-lab.sh [--browser-test]
#
# First runs scripts/setup-python.sh (the venv, the notebook requirements, the tslab kernelspec),
# then installs scripts/requirements-lab.txt on top; --browser-test also installs
# scripts/requirements-browser-test.txt (Playwright). Idempotent: each pip install is skipped while
# its stamp (.venv/.requirements-<name>.sha256: hash of the file + the Python version) matches.
#
# Exit codes: 0 ok, 1 install failure, 2 missing system prerequisite (from setup-python.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
BROWSER_TEST=0
case "${1:-}" in
  "") ;;
  --browser-test) BROWSER_TEST=1 ;;
  *) echo "setup-lab: unknown argument '$1' (usage: setup-lab.sh [--browser-test])" >&2; exit 1 ;;
esac

bash "$ROOT/scripts/setup-python.sh"

# pip install -r FILE into .venv unless its stamp matches. The stamp is written only after a
# successful install, so an interrupted install is retried next time.
install_pinned() {
  local req="$ROOT/scripts/$1" stamp="$VENV/.$1.sha256" want
  want="$("$VENV/bin/python" - "$req" <<'EOF'
import hashlib, sys
data = open(sys.argv[1], "rb").read() + sys.version.encode()
print(hashlib.sha256(data).hexdigest())
EOF
)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup-lab: $1 up to date (stamp matches), skipping pip install"
    return 0
  fi
  echo "setup-lab: installing $1 into .venv (first time: ~$2)"
  # The notebook requirements as a constraint: the lab's dependencies must not move their pins.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$ROOT/scripts/requirements-notebooks.txt" -r "$req"
  echo "$want" >"$stamp"
}
install_pinned requirements-lab.txt "30 s"
(( BROWSER_TEST )) && install_pinned requirements-browser-test.txt "15 s"

# --- Jupyter configuration (inside .venv/etc/jupyter, read by every jupyter run from .venv) ----------
# The only kernel: the kit's tslab kernelspec, which setup-python.sh wrote to
# .venv/share/jupyter/kernels/tslab. jupyterlab depends on ipykernel, whose wheel installs a
# `python3` kernelspec into .venv/share/jupyter/kernels; we hide it (allowed_kernelspecs) rather than
# delete it (pip would put it back): this venv's Python has none of the kit, every notebook here is
# TypeScript, and with one kernel JupyterLab never asks which kernel to start. ensure_native_kernel
# off stops jupyter_client from adding the python3 kernel back when it is not on disk. The same
# filter hides kernels a user registered system-wide (/usr/local/share/jupyter, /usr/share/jupyter);
# pass --KernelSpecManager.allowed_kernelspecs=... to lab.sh to see them.
# jupyter_config.json is read by every Jupyter application (`jupyter kernelspec list` included),
# jupyter_server_config.json by the server (its jupyter_server_config.d/ only enables extensions).
ETC="$VENV/etc/jupyter"
mkdir -p "$ETC"
"$VENV/bin/python" - "$ETC" <<'EOF'
import json, os, sys
etc = sys.argv[1]
def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
kernels = {"KernelSpecManager": {"allowed_kernelspecs": ["tslab"], "ensure_native_kernel": False}}
write(os.path.join(etc, "jupyter_config.json"), kernels)
write(os.path.join(etc, "jupyter_server_config.json"), {
    **kernels,
    # Offline by design: no news feed and no update check (each would fetch from jupyter.org, and
    # the news prompt pops up over the notebook).
    "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
    # What a new notebook or console starts (jupyter_server's default is python3, hidden above).
    "MultiKernelManager": {"default_kernel_name": "tslab"},
    # jupyter_lsp would look for language servers (none is installed) by running npm, which
    # writes ~/.npm/_logs; the kit's notebooks get their completions from the tslab kernel.
    "LanguageServerManager": {"autodetect": False},
})
EOF
# The same in the page: JupyterLab otherwise asks, in a pop-up over the notebook, whether to fetch
# Jupyter's news. overrides.json sets defaults only; a reader can still change them in Settings.
mkdir -p "$VENV/share/jupyter/lab/settings"
cat >"$VENV/share/jupyter/lab/settings/overrides.json" <<'EOF'
{
  "@jupyterlab/apputils-extension:notification": { "fetchNews": "false", "checkForUpdates": false }
}
EOF
# plotly (in the notebook requirements, for the static figure export) ships a JupyterLab extension,
# jupyterlab-plotly, for plotly's own output type, which it renders through ipywidgets. There are no
# ipywidgets here, so loading it fails in the page ("Shared module @jupyter-widgets/base doesn't
# exist in shared scope"), now and then as an uncaught error. The kit's figures are HTML with
# plotly.js embedded and never use it. Disabling it in page_config.json is not enough (JupyterLab
# still loads a disabled extension's code), so remove its files from .venv; a reinstall of plotly
# puts them back and the next run of this script removes them again.
rm -rf "$VENV/share/jupyter/labextensions/jupyterlab-plotly"
echo "setup-lab: JupyterLab $("$VENV/bin/python" -c 'import jupyterlab; print(jupyterlab.__version__)') in .venv; kernels allowed: tslab"
