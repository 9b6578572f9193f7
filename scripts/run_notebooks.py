#!/usr/bin/env python3
"""Execute notebooks headlessly with nbclient on the `tslab` (TypeScript) kernel.

    run_notebooks.py --out OUT_DIR [--profile smoke|quick|medium|paper]
                     [--timeout SECONDS_PER_CELL] [notebooks ...]

Default notebooks: notebooks/*.ipynb (sorted). Each notebook runs with its own
directory as cwd (as in JupyterLab, so `import * as ck from "../dist/src"` works), with
COLLAPSE_PROFILE and COLLAPSE_FIGURE_DIR=<OUT_DIR>/figures in the kernel's env.
The executed notebook is written to OUT_DIR/notebooks/<name>.ipynb even when a
cell fails, and OUT_DIR/notebooks/summary.json records status/time/figures.
Exit status is 1 if any notebook failed or contains an error output.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import tempfile
import time
import warnings
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

# Hand-written notebooks often lack cell ids; run_one adds them, so don't warn on read.
warnings.filterwarnings("ignore", category=nbformat.warnings.MissingIDFieldWarning)

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "tslab"
PLOTLYJS_ID = "collapse-kit-plotlyjs"


# --- figure detection (shared with build_report.py) ------------------------------
class _DivIds(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("id"):
            self.ids.append(a["id"])


def _html_outputs(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html")
            if html is not None:
                yield "".join(html) if isinstance(html, list) else html


def figure_div_ids(nb) -> list[str]:
    """Ids of the figure divs in a notebook's outputs. A figure output is a
    text/html output with a <div id=...> that mentions Plotly (the collapse-kit
    renderer emits a div plus a script calling Plotly, and the first one also
    inlines plotly.js as <script id="collapse-kit-plotlyjs">)."""
    ids: list[str] = []
    for html in _html_outputs(nb):
        if "Plotly" in html or PLOTLYJS_ID in html or "collapse-kit-figure" in html:
            p = _DivIds()
            p.feed(html)
            ids += p.ids
    return ids


_JS_ERROR = re.compile(r"^\s*(?:Uncaught )?([A-Za-z_$][\w$]*(?:Error|Exception)|Error)(?: \[[^\]]*\])?: (.*)$")
_TS_DIAG = re.compile(r"^\d+:\d+ - (.*)$")


def describe_failure(cell) -> tuple[str, str]:
    """(ename, evalue) for a failed tslab cell. tslab sends no `error` output and
    an execute_reply without ename/evalue; the message is only in its stderr
    stream: "L:C - <message>" for TypeScript compile errors, a node stack trace
    ("Error: msg\n    at ...") for runtime exceptions."""
    text = "".join(
        "".join(o["text"]) if isinstance(o.get("text"), list) else o.get("text", "")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )
    lines = [l for l in text.splitlines() if l.strip()]
    diags = [m.group(1) for l in lines if (m := _TS_DIAG.match(l))]
    if diags:
        msg = "; ".join(diags)
        return "TypeScriptCompileError", msg if len(msg) < 500 else msg[:500] + " ..."
    for l in lines:
        if m := _JS_ERROR.match(l):
            return m.group(1), m.group(2)
    return "Error", (lines[-1] if lines else "(no message: see the notebook)")


def error_outputs(nb) -> list[dict]:
    """Every error output as {cell, ename, evalue} (cell = index in nb.cells)."""
    return [
        {"cell": i, "ename": out.get("ename", ""), "evalue": out.get("evalue", "")}
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


# --- execution --------------------------------------------------------------------
def write_atomic(nb, path: Path) -> None:
    """tmp file + rename, so an interrupted run never leaves a truncated notebook."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
    os.replace(tmp, path)


def run_one(src: Path, out_nb: Path, timeout: int | None) -> dict:
    nb = nbformat.read(src, as_version=4)
    if nb.nbformat_minor >= 5:  # v4.5 requires cell ids; hand-written notebooks may lack them
        for i, cell in enumerate(nb.cells):
            cell.setdefault("id", f"cell-{i}")
    t0 = time.monotonic()
    marks = {"cell": None, "kernel_ready": None}

    def on_sigint():
        # Ctrl-C on a long run: interrupt the kernel like JupyterLab's stop button,
        # so the cell fails, the partial notebook is saved and no further notebook
        # runs. A second Ctrl-C aborts at once.
        if marks.get("interrupted"):
            raise KeyboardInterrupt
        marks["interrupted"] = True
        print("\n  Ctrl-C: interrupting the running cell (again to abort) ...", file=sys.stderr, flush=True)
        os.kill(client.km.provisioner.pid, signal.SIGINT)

    def on_start(notebook):  # called once the kernel answered kernel_info
        marks["kernel_ready"] = time.monotonic() - t0
        # Replaces nbclient's own SIGINT handler, which shuts the kernel down mid-cell.
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, on_sigint)

    def on_cell_start(cell, cell_index):
        marks["cell"] = (cell_index, time.monotonic())

    def on_cell_complete(cell, cell_index):
        dt = time.monotonic() - marks["cell"][1]
        if dt > 10:  # long cells: show that we are alive (paper profile runs long)
            print(f"    cell {cell_index}: {dt:.1f}s", flush=True)

    client = NotebookClient(
        nb,
        kernel_name=KERNEL,  # ignore whatever kernelspec the notebook names
        timeout=timeout,
        startup_timeout=120,
        allow_errors=False,  # stop at the first failing cell, like a script
        resources={"metadata": {"path": str(src.parent)}},  # kernel cwd
        on_notebook_start=on_start,
        on_cell_start=on_cell_start,
        on_cell_complete=on_cell_complete,
    )
    def fail(ename, evalue):
        idx = marks["cell"][0] if marks["cell"] else None
        where = {}
        if idx is not None:  # what a person needs to find the cell in JupyterLab
            cell = nb.cells[idx]
            where = {"execution_count": cell.get("execution_count"),
                     "first_line": (cell.source.strip().splitlines() or [""])[0][:120]}
        return {"cell": idx, "ename": ename, "evalue": evalue, **where}

    status, failure = "ok", None
    try:
        client.execute()
    except CellExecutionError as e:
        status = "error"
        ename, evalue = e.ename, e.evalue
        if (not evalue or ename == "<Error>") and marks["cell"]:
            ename, evalue = describe_failure(nb.cells[marks["cell"][0]])
        failure = fail(ename, evalue)
    except CellTimeoutError as e:
        status = "timeout"
        failure = fail("CellTimeoutError", str(e).strip().splitlines()[0])
    except DeadKernelError as e:
        status = "dead-kernel"
        failure = fail("DeadKernelError", str(e))
    except Exception as e:  # kernel failed to start, ...
        status = "failed"
        failure = fail(type(e).__name__, str(e))
    if marks.get("interrupted"):
        status, failure = "interrupted", fail("KeyboardInterrupt", "interrupted by the user (Ctrl-C)")
    seconds = time.monotonic() - t0

    # Error outputs that did not raise (e.g. a cell tagged raises-exception) also fail the run.
    errors = error_outputs(nb)
    if status == "ok" and errors:
        status = "error"
    if failure is None and errors:
        failure = errors[0]
    # tslab sends every process.stdout.write() as its own stream output; a "\r"
    # progress line would become hundreds of outputs. Merge them and apply "\r"
    # the way JupyterLab displays it (keeps only the final state of each line).
    CoalesceStreamsPreprocessor().preprocess(nb, {})
    write_atomic(nb, out_nb)  # partially executed if a cell failed
    figs = figure_div_ids(nb)
    return {
        "status": status,
        "seconds": round(seconds, 2),
        "kernel_start_seconds": marks["kernel_ready"] and round(marks["kernel_ready"], 2),
        "figures": len(figs),
        "figure_ids": figs,
        "source": str(src),
        "error": failure,
        "error_outputs": errors,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="output directory")
    ap.add_argument("--profile", default="quick", choices=["smoke", "quick", "medium", "paper"])
    ap.add_argument("--timeout", type=int, default=None,
                    help="seconds per cell, 0 = no limit (default: smoke 600, quick 3600, medium and paper none)")
    ap.add_argument("notebooks", nargs="*", type=Path)
    args = ap.parse_args(argv)

    # A hung cell must not hang CI forever, but a medium- or paper-scale cell may run for hours.
    timeout = args.timeout if args.timeout is not None else {"smoke": 600, "quick": 3600, "medium": 0, "paper": 0}[args.profile]
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        print("run_notebooks: no notebooks found", file=sys.stderr)
        return 1
    out = args.out.resolve()
    nb_dir, fig_dir = out / "notebooks", out / "figures"
    nb_dir.mkdir(parents=True, exist_ok=True)
    fig_dir.mkdir(parents=True, exist_ok=True)

    # The kernel process inherits our environment: this is how the profile and
    # the figure directory reach the TypeScript code.
    os.environ["COLLAPSE_PROFILE"] = args.profile
    os.environ["COLLAPSE_FIGURE_DIR"] = str(fig_dir)

    # Keep entries of notebooks run earlier into the same OUT_DIR (partial re-runs).
    summary_path = nb_dir / "summary.json"
    summary = {"notebooks": {}}
    if summary_path.exists():
        try:
            summary = json.loads(summary_path.read_text())
        except ValueError:
            pass
    summary["profile"] = args.profile

    print(f"run_notebooks: profile={args.profile} out={out} ({len(notebooks)} notebooks)", flush=True)
    results = {}
    for src in notebooks:
        print(f"  {src.name} ...", flush=True)  # cell numbers below count from 0, markdown included
        try:
            res = run_one(src, nb_dir / src.name, timeout or None)
        except Exception as e:  # unreadable notebook: report it, go on with the others
            res = {"status": "failed", "seconds": 0, "kernel_start_seconds": None, "figures": 0,
                   "figure_ids": [], "source": str(src), "error_outputs": [],
                   "error": {"cell": None, "ename": type(e).__name__, "evalue": str(e)}}
        results[src.name] = res
        summary["notebooks"][src.name] = res
        summary_path.write_text(json.dumps(summary, indent=1))  # after each: survives a crash
        ks = res["kernel_start_seconds"]
        print(f"  {src.name}: {res['status'].upper()} in {res['seconds']:.1f}s"
              f" (kernel start {ks if ks is not None else '?'}s, {res['figures']} figures)", flush=True)
        if res["status"] == "interrupted":
            break

    bad = {k: r for k, r in results.items() if r["status"] != "ok"}
    if bad:
        print(f"run_notebooks: {len(bad)} of {len(results)} notebooks FAILED:", file=sys.stderr)
        for name, r in bad.items():
            e = r["error"] or {}
            where = ("before any cell" if e.get("cell") is None else
                     f"cell {e['cell']} (In [{e.get('execution_count') or ' '}]: {e.get('first_line', '')})")
            print(f"  {name}: {r['status']} in {where}: {e.get('ename')}: {e.get('evalue')}", file=sys.stderr)
        return 130 if any(r["status"] == "interrupted" for r in bad.values()) else 1
    print(f"run_notebooks: all {len(results)} notebooks OK -> {nb_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
