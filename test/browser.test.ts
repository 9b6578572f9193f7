import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";
import { tempDir } from "./helpers";
import { startLab } from "./labServer";

/**
 * The notebooks in a real browser: JupyterLab (scripts/lab.sh, COLLAPSE_PROFILE=smoke) driven in
 * headless Chromium through Playwright by test/browser/drive_lab.py. For the §2 and §3.1 notebooks:
 * Run All Cells renders every plotly figure with no error output; editing the §2 config cell and
 * re-running changes the live figure; Kernel > Interrupt stops a run of minutes within 10 s with one
 * short line (and, §3.1, its worker processes).
 *
 * Needs Chromium (/usr/bin/chromium, Debian's `chromium`; COLLAPSE_CHROMIUM for another path) and
 * Playwright in .venv (scripts/setup-browser.sh, which scripts/test.sh runs, installs both where it
 * can). Without them the test skips and says why; COLLAPSE_REQUIRE_BROWSER_TEST=1 (.ci/run sets it)
 * makes that a failure instead.
 */
const ROOT = packageRoot();
const PYTHON = path.join(ROOT, ".venv", "bin", "python");
const CHROMIUM = process.env.COLLAPSE_CHROMIUM || "/usr/bin/chromium";
const NOTEBOOKS = ["section2_linear_regression.ipynb", "section3_1_language_models.ipynb"];

function missing(): string | null {
  if (!fs.existsSync(PYTHON)) return `no ${PYTHON}: run bash scripts/setup-browser.sh`;
  if (!fs.existsSync(path.join(ROOT, ".venv", ".requirements-lab.txt.sha256"))) return "JupyterLab not in .venv: run bash scripts/setup-browser.sh";
  if (spawnSync(PYTHON, ["-c", "import playwright"]).status !== 0) return "Playwright not in .venv: run bash scripts/setup-browser.sh";
  if (!fs.existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM}: bash scripts/setup-browser.sh installs Debian's chromium (as root), or set COLLAPSE_CHROMIUM`;
  return null;
}
const why = missing();
const required = process.env.COLLAPSE_REQUIRE_BROWSER_TEST === "1";
const skip = why && !required ? `browser test skipped: ${why}` : false;

interface Figures {
  count: number;
  rendered: number;
  not_rendered: string[];
}
interface Interrupt {
  edit: string;
  prompt_while_running: string;
  stopped_seconds: number | null;
  prompt_after: string;
  stderr: string[];
  progress_at_stop: string;
  progress_3s_later: string;
  cpu_seconds_3s_later: number | null;
  kernel_same: boolean;
  kernel_state: string;
  workers_before: number;
  workers_alive_after: number | null;
}
interface NotebookSeen {
  error?: string;
  trace?: string;
  kernel: { name: string };
  run_all_seconds: number;
  prompts: string[];
  figures: Figures;
  error_outputs: string[];
  page_errors: string[];
  edit?: { before: number[][]; after: number[][]; iterations: number; errors: string[]; seconds: number };
  interrupt?: Interrupt;
  interrupt_timeout?: string;
}
interface Seen {
  notebooks: Record<string, NotebookSeen>;
  screenshots: string[];
  error: string | null;
  trace?: string;
}

function hashes(): Record<string, string> {
  const dir = path.join(ROOT, "notebooks");
  return Object.fromEntries(fs.readdirSync(dir).filter((f) => f.endsWith(".ipynb")).map((f) => [f, createHash("sha256").update(fs.readFileSync(path.join(dir, f))).digest("hex")]));
}

/** JupyterLab settings for the test only (its own settings dir): every cell in the DOM, no autosave. */
function testSettings(dir: string): void {
  const write = (plugin: string, file: string, value: unknown) => {
    fs.mkdirSync(path.join(dir, plugin), { recursive: true });
    fs.writeFileSync(path.join(dir, plugin, file), JSON.stringify(value));
  };
  // Windowing renders only the cells in view; the driver reads every cell's prompt and figures.
  write("@jupyterlab/notebook-extension", "tracker.jupyterlab-settings", { windowingMode: "none" });
  // The driver edits config cells: they must never be saved into notebooks/.
  write("@jupyterlab/docmanager-extension", "plugin.jupyterlab-settings", { autosave: false });
}

function runDriver(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(PYTHON, [path.join(ROOT, "test", "browser", "drive_lab.py"), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (b) => (stdout += b));
    p.stderr.on("data", (b) => (stderr += b));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("JupyterLab in headless Chromium: Run All renders the figures with no errors, an edited config changes the figure, Interrupt stops a long run in one line", { skip, timeout: 420_000 }, async () => {
  assert.equal(why, null, `COLLAPSE_REQUIRE_BROWSER_TEST=1 but ${why}`);
  // Screenshots stay on disk when the test fails (their paths are in the message).
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), "collapse-browser-shots-"));
  const settings = tempDir("lab-settings");
  testSettings(settings);
  const before = hashes();
  const t0 = Date.now();
  const lab = await startLab({
    COLLAPSE_PROFILE: "smoke",
    COLLAPSE_RUNS_DIR: tempDir("browser-runs"),
    JUPYTERLAB_SETTINGS_DIR: settings,
    JUPYTERLAB_WORKSPACES_DIR: tempDir("lab-workspaces"),
  });
  const startSeconds = (Date.now() - t0) / 1000;
  let seen!: Seen;
  let driverOut = "";
  try {
    const r = await runDriver(["--url", lab.url, "--token", lab.token, "--notebooks", path.join(ROOT, "notebooks"), "--shots", shots, "--chromium", CHROMIUM, ...NOTEBOOKS], {}, 360_000);
    driverOut = `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`;
    assert.equal(r.code, 0, `drive_lab.py exited ${r.code}:\n${driverOut}\nlab:\n${lab.log().slice(-4000)}`);
    seen = JSON.parse(r.stdout.trim().split("\n").pop()!) as Seen;
  } finally {
    await lab.stop();
  }
  const context = () =>
    `\nscreenshots (${shots}):\n  ${seen.screenshots.join("\n  ")}\nwhat the driver saw: ${JSON.stringify(seen.notebooks, null, 1).slice(0, 6000)}\nlab log:\n${lab.log().slice(-3000)}`;
  const check = (ok: unknown, msg: string) => assert.ok(ok, msg + context());

  check(seen.error === null, `the driver failed: ${seen.error}\n${seen.trace ?? ""}`);
  for (const name of NOTEBOOKS) {
    const nb = seen.notebooks[name];
    check(nb && !nb.error, `${name}: ${nb?.error}\n${nb?.trace ?? ""}`);
    check(nb.kernel.name === "tslab", `${name}: kernel ${nb.kernel.name}`);
    check(nb.prompts.every((p) => /^\[\d+\]:$/.test(p)), `${name}: every code cell ran (prompts ${nb.prompts.join(" ")})`);
    check(nb.figures.count >= 5 && nb.figures.rendered === nb.figures.count, `${name}: ${nb.figures.rendered} of ${nb.figures.count} figures rendered (not: ${nb.figures.not_rendered})`);
    check(nb.error_outputs.length === 0, `${name}: error outputs:\n${nb.error_outputs.join("\n---\n")}`);
    check(nb.page_errors.length === 0, `${name}: errors in the page: ${nb.page_errors.join("; ")}`);

    // Kernel > Interrupt on a run of minutes: the cell ends within 10 s, in one short line.
    const it = nb.interrupt!;
    check(it.prompt_while_running === "[*]:", `${name}: the long run was running when interrupted (prompt ${it.prompt_while_running})`);
    check(it.stopped_seconds !== null && it.stopped_seconds <= 10, `${name}: Interrupt stopped the cell after ${it.stopped_seconds ?? "more than 60"} s ${nb.interrupt_timeout ?? ""}`);
    const lines = it.stderr.join("\n").split("\n").filter((l) => l.trim());
    check(lines.length === 1 && lines[0].length < 200 && /interrupt/i.test(lines[0]), `${name}: the interrupted cell's output is one short line, got:\n${it.stderr.join("\n")}`);
    check(it.progress_at_stop !== "" && it.progress_3s_later === it.progress_at_stop, `${name}: the run stopped, not only its cell: progress ${JSON.stringify(it.progress_at_stop)} -> 3 s later ${JSON.stringify(it.progress_3s_later)}`);
    check(it.cpu_seconds_3s_later !== null && it.cpu_seconds_3s_later < 1, `${name}: the kernel is idle after the interrupt, not computing (${it.cpu_seconds_3s_later} s CPU in the next 3 s)`);
    check(it.kernel_same && it.kernel_state === "idle", `${name}: the kernel survived the interrupt (same kernel: ${it.kernel_same}, state ${it.kernel_state})`);
    if (it.workers_alive_after !== null) {
      check(it.workers_before > 0, `${name}: worker processes were training when interrupted (${it.workers_before})`);
      check(it.workers_alive_after === 0, `${name}: ${it.workers_alive_after} of ${it.workers_before} workers outlived the interrupt`);
    }
  }

  // §2: fewer iterations in the config cell, re-run: the live Figure 9's traces got shorter.
  const edit = seen.notebooks[NOTEBOOKS[0]].edit!;
  const longest = (f: number[][]) => Math.max(0, ...f.flat());
  check(edit.before.length === 1 && edit.after.length === 1, `§2 run cell: one live figure before and after (${edit.before.length}, ${edit.after.length})`);
  check(edit.after[0].includes(edit.iterations) && longest(edit.after) < longest(edit.before), `§2: the figure changed with iterations=${edit.iterations}: trace lengths ${edit.before[0]} -> ${edit.after[0]}`);
  check(edit.errors.length === 0, `§2 edit: ${edit.errors.join("\n")}`);

  assert.deepEqual(hashes(), before, "the notebooks on disk are unchanged (edits stay in the browser)");
  console.log(
    `browser test: lab up in ${startSeconds.toFixed(1)} s; ` +
      NOTEBOOKS.map((n) => `${n}: run all ${seen.notebooks[n].run_all_seconds} s, ${seen.notebooks[n].figures.count} figures, interrupt ${seen.notebooks[n].interrupt?.stopped_seconds} s`).join("; "),
  );
  fs.rmSync(shots, { recursive: true, force: true });
});
