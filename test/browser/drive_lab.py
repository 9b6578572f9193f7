#!/usr/bin/env python3
"""Drives a running JupyterLab in headless Chromium as a reader would, and prints one JSON object
(the last line of stdout) of what it saw. Run by test/browser.test.ts, which starts JupyterLab
through scripts/lab.sh at COLLAPSE_PROFILE=smoke and asserts on the result.

    drive_lab.py --url http://127.0.0.1:PORT --token TOKEN --notebooks DIR --shots DIR
                 [--chromium /usr/bin/chromium] [NOTEBOOK ...]

For each notebook (default: the §2 and §3.1 notebooks):
  1. opens it, waits for its kernel;
  2. Run > Run All Cells, waits until every code cell has run and the kernel is idle;
  3. counts the plotly figures that rendered (.js-plotly-plot with an SVG and traces) and the
     error outputs (stderr with Error/Exception or a TypeScript diagnostic);
  4. (§2) edits the config cell (iterations), re-runs it and the run cell, reads the live figure's
     data from its DOM element (.data) and records how its traces changed;
  5. edits the config cell to a run of minutes, starts the run cell, presses Kernel > Interrupt and
     records how long the cell took to stop, what it printed and (§3.1) whether the kernel's
     worker processes are gone.
Screenshots of every step go to --shots. The driver asserts nothing itself except that it could
do the steps: a step it could not do is an "error" in the JSON, and the process exits 0 as long as
it printed the JSON.

The edits are made in the browser, in the cell's editor; JupyterLab's autosave is off for the test
(its settings dir), so the notebook files are never written.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import traceback
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

# What to edit in each notebook: (marker of the config cell, marker of the run cell, the edit that
# changes a figure or None, the edit that makes the run last minutes, whether its run uses workers).
SPECS = {
    "section2_linear_regression.ipynb": {
        "config": "ck.checkLinearConfig(",
        "run": "runLinearExperimentLive",
        # Smoke runs 12 iterations; 5 shortens every trace of Figure 9 (all iterations).
        "figure": "nb.show(ck.figure9(",
        "edit": ("// iterations: 50,", "iterations: 5,"),
        "edited_iterations": 5,
        # 20 repeats take about a second at smoke; half a million would take many minutes.
        "long": ("// seeds: 100,", "seeds: 500_000,"),
        "workers": False,
    },
    "section3_1_language_models.ipynb": {
        "config": "ck.lmBaseConfig(profile)",
        "run": "runSequencesLive(nb, ck.LM",
        "edit": None,
        # Smoke trains 3 models per sequence in seconds each; 60 iterations take many minutes.
        "long": ("// iterations: 6,", "iterations: 60,"),
        "workers": True,
    },
}

PROMPT_DONE = re.compile(r"^\[\d+\]:$")
ERROR_TEXT = re.compile(r"Error|Exception|^\d+:\d+ - ", re.M)

# JavaScript run in the page. Cells are found by their index in the notebook (windowing is off for
# the test, so every cell is in the DOM).
JS_CELLS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')]
  .map((c) => ({
    code: c.classList.contains('jp-CodeCell'),
    prompt: (c.querySelector('.jp-InputPrompt')?.textContent || '').trim(),
  }))"""

JS_FIGURES = """(root) => [...root.querySelectorAll('.collapse-kit-figure')].map((el) => ({
  id: el.id,
  plotly: el.classList.contains('js-plotly-plot'),
  svg: !!el.querySelector('svg.main-svg'),
  traces: Array.isArray(el.data) ? el.data.length : 0,
  lengths: Array.isArray(el.data) ? el.data.map((t) => (t.x ? t.x.length : 0)) : [],
}))"""

JS_OUTPUTS = """(root) => [...root.querySelectorAll('.jp-OutputArea-output')].map((o) => ({
  mime: o.getAttribute('data-mime-type') || '',
  text: o.innerText || '',
}))"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--notebooks", required=True, type=Path, help="the notebooks/ folder JupyterLab serves")
    ap.add_argument("--shots", required=True, type=Path)
    ap.add_argument("--chromium", default=os.environ.get("COLLAPSE_CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--run-timeout", type=float, default=240, help="seconds for Run All Cells")
    ap.add_argument("names", nargs="*", default=list(SPECS))
    args = ap.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    result = {"notebooks": {}, "screenshots": [], "error": None}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=args.chromium,
                headless=True,
                # Containers have a small /dev/shm; no GPU here.
                args=["--disable-dev-shm-usage", "--disable-gpu"],
            )
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(30_000)
            for name in args.names:
                lab = Lab(context, args, result, name)
                result["notebooks"][name] = entry = {}
                try:
                    lab.drive(entry)
                except Exception as e:  # what a step could not do; the test reports it
                    entry["error"] = f"{type(e).__name__}: {e}"
                    entry["trace"] = traceback.format_exc()[-3000:]
                    lab.shot("failure")
                finally:
                    lab.close()
            browser.close()
    except Exception as e:
        result["error"] = f"{type(e).__name__}: {e}"
        result["trace"] = traceback.format_exc()[-3000:]
    print(json.dumps(result))
    return 0


class Lab:
    """One notebook open in its own page."""

    def __init__(self, context, args, result, name):
        self.args, self.result, self.name = args, result, name
        self.stem = Path(name).stem
        self.spec = SPECS[name]
        self.nb = json.loads((args.notebooks / name).read_text())
        self.sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in self.nb["cells"]]
        self.page = context.new_page()
        self.console_errors: list[str] = []
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)[:300]))

    # --- helpers -----------------------------------------------------------------------------
    def shot(self, step: str) -> str:
        path = str(self.args.shots / f"{self.stem}-{len(self.result['screenshots']):02d}-{step}.png")
        try:
            self.page.screenshot(path=path)
            self.result["screenshots"].append(path)
        except Exception:
            pass
        return path

    def api(self, path: str):
        sep = "&" if "?" in path else "?"
        with urllib.request.urlopen(f"{self.args.url}{path}{sep}token={self.args.token}", timeout=10) as r:
            return json.loads(r.read())

    def kernel(self) -> dict | None:
        """The kernel of this notebook's session: {id, execution_state, ...}, or None."""
        for s in self.api("/api/sessions"):
            if s.get("path", "").endswith(self.name) and s.get("kernel"):
                return s["kernel"]
        return None

    def cells(self) -> list[dict]:
        return self.page.evaluate(JS_CELLS)

    def cell(self, index: int):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)

    def index_of(self, marker: str) -> int:
        hits = [i for i, s in enumerate(self.sources) if marker in s and self.nb["cells"][i]["cell_type"] == "code"]
        if len(hits) != 1:
            raise RuntimeError(f"{self.name}: expected one code cell containing {marker!r}, found {len(hits)}")
        return hits[0]

    def wait_idle(self, timeout: float, cells: list[int] | None = None) -> float:
        """Waits until the given code cells (default all) show an execution count and the kernel is
        idle; returns the seconds it took. Raises TimeoutError naming the cells still pending."""
        t0 = time.monotonic()
        while True:
            cs = self.cells()
            pending = [i for i, c in enumerate(cs) if c["code"] and (cells is None or i in cells) and not PROMPT_DONE.match(c["prompt"])]
            k = self.kernel()
            if not pending and k and k.get("execution_state") == "idle":
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"after {timeout:.0f} s: cells {pending} not done "
                                   f"(prompts {[cs[i]['prompt'] for i in pending]}), kernel {k and k.get('execution_state')}")
            time.sleep(0.25)

    def menu(self, menu_label: str, item_label: str) -> None:
        """Clicks a menu bar entry, then an item of its menu (by their labels, as a reader does)."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu_label)}$")).click()
        self.page.locator(".lm-Menu-content .lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item_label)}$")).click()

    def run_cell(self, index: int) -> None:
        """Selects the cell (a click on its prompt: command mode) and runs it (Ctrl+Enter)."""
        c = self.cell(index)
        c.scroll_into_view_if_needed()
        c.locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Control+Enter")

    def run_and_wait(self, index: int, timeout: float) -> float:
        """Runs one cell and waits for its new execution count (the old one would pass at once)."""
        old = self.cells()[index]["prompt"]
        self.run_cell(index)
        t0 = time.monotonic()
        while self.cells()[index]["prompt"] == old:
            if time.monotonic() - t0 > 10:
                raise TimeoutError(f"cell {index} did not start within 10 s of Ctrl+Enter (prompt {old})")
            time.sleep(0.1)
        return self.wait_idle(timeout, [index])

    def set_source(self, index: int, text: str) -> None:
        """Replaces the cell's text in its editor, as a reader typing would, and checks it took."""
        editor = self.cell(index).locator(".cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(text)
        got = self.page.evaluate("(el) => [...el.querySelectorAll('.cm-line')].map((l) => l.textContent).join('\\n')",
                                 editor.element_handle())
        if got.strip() != text.strip():
            raise RuntimeError(f"editing cell {index}: the editor holds {got[:300]!r}, expected {text[:300]!r}")
        self.page.keyboard.press("Escape")  # back to command mode

    def edited(self, index: int, edit: tuple[str, str]) -> str:
        old, new = edit
        if old not in self.sources[index]:
            raise RuntimeError(f"{self.name}: the config cell no longer contains {old!r}: update SPECS in {__file__}")
        return self.sources[index].replace(old, new, 1)

    def outputs(self, index: int) -> list[dict]:
        return self.page.evaluate(JS_OUTPUTS, self.cell(index).element_handle())

    def figures(self, index: int | None = None) -> list[dict]:
        root = self.cell(index).element_handle() if index is not None else self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").element_handle()
        return self.page.evaluate(JS_FIGURES, root)

    def kernel_pid(self, kernel_id: str) -> int | None:
        """The kernel's process: the one whose command line names its connection file."""
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                if f"kernel-{kernel_id}.json" in cmd and "--config-path" in cmd:
                    return int(entry)
        return None

    def progress_text(self, index: int) -> str:
        """The text of the cell's progress bar output (the kit draws it as a <progress> line)."""
        return self.page.evaluate("(root) => [...root.querySelectorAll('.jp-OutputArea-output')].filter((o) => o.querySelector('progress')).map((o) => o.innerText).join(' | ')",
                                  self.cell(index).element_handle())

    def cpu_seconds(self, pid: int) -> float:
        """CPU time (user + system) of pid and its live children, from /proc."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for p in [pid, *self.children(pid)]:
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                pass
        return total

    @staticmethod
    def alive(pid: int) -> bool:
        """The process exists and is not a zombie (exited, not yet reaped)."""
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False

    @staticmethod
    def children(pid: int) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == pid:
                        found.append(int(entry))
                except (OSError, IndexError, ValueError):
                    pass
        return found

    def close(self) -> None:
        try:
            k = self.kernel()
            self.page.close()  # no beforeunload prompt: playwright skips it
            if k:  # a kernel left running would slow the next notebook on 2 cores
                req = urllib.request.Request(f"{self.args.url}/api/kernels/{k['id']}?token={self.args.token}", method="DELETE")
                urllib.request.urlopen(req, timeout=10).close()
        except Exception:
            pass

    # --- the steps ---------------------------------------------------------------------------
    def drive(self, entry: dict) -> None:
        page, n_cells = self.page, len(self.nb["cells"])
        t0 = time.monotonic()
        page.goto(f"{self.args.url}/lab/tree/{self.name}?reset&token={self.args.token}")
        page.wait_for_function(f"() => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length === {n_cells}", timeout=60_000)
        deadline = time.monotonic() + 60
        while not ((k := self.kernel()) and k.get("execution_state") == "idle"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the kernel did not start within 60 s (session kernel: {k})")
            time.sleep(0.25)
        entry["kernel"] = {"name": k.get("name"), "id": k["id"]}
        entry["open_seconds"] = round(time.monotonic() - t0, 1)
        self.shot("opened")

        # Run > Run All Cells.
        self.cell(0).click()  # focus the notebook, so the menu acts on it
        t0 = time.monotonic()
        self.menu("Run", "Run All Cells")
        try:
            self.wait_idle(self.args.run_timeout)
        finally:
            entry["run_all_seconds"] = round(time.monotonic() - t0, 1)
            entry["prompts"] = [c["prompt"] for c in self.cells() if c["code"]]
        # Plotly draws from a script after the output arrives: give the last figure a moment.
        page.wait_for_timeout(1000)
        figs = self.figures()
        entry["figures"] = {"count": len(figs), "rendered": sum(1 for f in figs if f["plotly"] and f["svg"] and f["traces"] > 0),
                            "not_rendered": [f["id"] for f in figs if not (f["plotly"] and f["svg"] and f["traces"] > 0)]}
        outs = [o for i in range(n_cells) for o in self.outputs(i)]
        entry["error_outputs"] = [o["text"][:500] for o in outs
                                  if o["mime"] in ("application/vnd.jupyter.stderr", "application/vnd.jupyter.error") and ERROR_TEXT.search(o["text"])]
        entry["page_errors"] = list(self.console_errors)
        # A look at the last figure, then at the first.
        self.cell(n_cells - 1).scroll_into_view_if_needed()
        self.shot("ran-all-end")
        config, run = self.index_of(self.spec["config"]), self.index_of(self.spec["run"])
        self.cell(run).scroll_into_view_if_needed()
        self.shot("ran-all-run-cell")

        # Edit the config cell, re-run it, the run cell and the figure cell: the figure must change.
        if self.spec["edit"]:
            figure = self.index_of(self.spec["figure"])
            before = self.figures(figure)
            self.set_source(config, self.edited(config, self.spec["edit"]))
            t0 = time.monotonic()
            for i in (config, run, figure):
                self.run_and_wait(i, 120)
            page.wait_for_timeout(1000)
            after = self.figures(figure)
            entry["edit"] = {"seconds": round(time.monotonic() - t0, 1), "edit": self.spec["edit"][1],
                             "before": [f["lengths"] for f in before], "after": [f["lengths"] for f in after],
                             "iterations": self.spec["edited_iterations"],
                             "errors": [o["text"][:300] for o in self.outputs(config) + self.outputs(run) + self.outputs(figure) if ERROR_TEXT.search(o["text"]) and "stderr" in o["mime"]]}
            self.cell(figure).scroll_into_view_if_needed()
            self.shot("edited")

        # A run of minutes, then Kernel > Interrupt.
        self.set_source(config, self.edited(config, self.spec["long"]))
        self.run_and_wait(config, 30)
        self.run_cell(run)
        # Long enough for the run to be under way (workers started, the progress bar drawn).
        page.wait_for_timeout(8000 if self.spec["workers"] else 4000)
        running = self.cells()[run]["prompt"]
        k = self.kernel() or {}
        pid = self.kernel_pid(k.get("id", ""))
        workers = self.children(pid) if pid else []
        self.cell(run).scroll_into_view_if_needed()
        self.shot("long-running")
        t0 = time.monotonic()
        self.menu("Kernel", "Interrupt Kernel")
        stopped = None
        try:
            self.wait_idle(60, [run])
            stopped = round(time.monotonic() - t0, 1)
        except TimeoutError as e:
            entry["interrupt_timeout"] = str(e)
        # Really stopped, not just the cell abandoned while the run goes on (as tslab's own interrupt
        # does): over the next 3 s the kernel and its children use next to no CPU, and the progress
        # bar, which a running run keeps updating, stays as it is.
        progress = self.progress_text(run)
        cpu0 = self.cpu_seconds(pid) if pid else None
        page.wait_for_timeout(3000)
        cpu = round(self.cpu_seconds(pid) - cpu0, 2) if pid and cpu0 is not None else None
        k2 = self.kernel() or {}
        texts = [o["text"] for o in self.outputs(run) if "stderr" in o["mime"] or "error" in o["mime"]]
        entry["interrupt"] = {
            "edit": self.spec["long"][1],
            "prompt_while_running": running,
            "stopped_seconds": stopped,
            "prompt_after": self.cells()[run]["prompt"],
            "stderr": texts,
            "progress_at_stop": progress,
            "progress_3s_later": self.progress_text(run),
            "cpu_seconds_3s_later": cpu,
            "kernel_same": k2.get("id") == k.get("id"),
            "kernel_state": k2.get("execution_state"),
            "kernel_pid": pid,
            "workers_before": len(workers),
            "workers_alive_after": len([w for w in workers if self.alive(w)]) if self.spec["workers"] else None,
        }
        self.cell(run).scroll_into_view_if_needed()
        self.shot("interrupted")


if __name__ == "__main__":
    sys.exit(main())
