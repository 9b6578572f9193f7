import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";
import { tempDir } from "./helpers";

// The kit's Jupyter kernel (bin/collapse-kernel.js), driven over the Jupyter protocol as JupyterLab
// drives it: Kernel > Interrupt, a request during a long cell, a bad config.
const ROOT = packageRoot();
const PYTHON = path.join(ROOT, ".venv", "bin", "python");
const skip = !fs.existsSync(PYTHON) ? `no ${PYTHON}: run bash scripts/setup-python.sh` : false;

interface Seen {
  setup: string;
  linear: { seconds: number; output: string };
  nextCell: string;
  nextCellMessages: string[];
  statusWhileRunning: string[];
  workers: { seconds: number; output: string; before: number; after: number; lateMessages: string[] };
  configError: string;
}

test("Kernel > Interrupt stops the Monte Carlo and the sequence workers, in one line; the status stays busy; config errors print one line", { skip, timeout: 300_000 }, () => {
  const r = spawnSync(PYTHON, [path.join(ROOT, "test", "kernel_interrupt.py"), ROOT], {
    encoding: "utf8",
    env: { ...process.env, COLLAPSE_RUNS_DIR: tempDir("kernel") },
    timeout: 280_000,
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const seen = JSON.parse(r.stdout.trim().split("\n").pop()!) as Seen;
  assert.equal(seen.setup, "ready");

  // §2: the cell ends within seconds, with the interrupt's one line and nothing else.
  assert.ok(seen.linear.seconds < 5, `Monte Carlo stopped after ${seen.linear.seconds} s`);
  assert.match(seen.linear.output, /^InterruptedError: interrupted: .*resumes\n$/);
  assert.equal(seen.nextCell, "next cell\n");

  // While the sequences train, another request was answered; the last status is busy again.
  assert.ok(seen.statusWhileRunning.includes("idle"), `a request was answered meanwhile: ${seen.statusWhileRunning}`);
  assert.equal(seen.statusWhileRunning.at(-1), "busy", `status while the cell runs: ${seen.statusWhileRunning}`);

  // §3: two workers were training; both are gone, the cell ended in one line, nothing came after.
  assert.equal(seen.workers.before, 2, "two sequence workers were running when interrupted");
  assert.equal(seen.workers.after, 0, "no worker outlives the interrupt");
  assert.ok(seen.workers.seconds < 10, `sequences stopped after ${seen.workers.seconds} s`);
  assert.match(seen.workers.output, /^InterruptedError: interrupted: 2 sequence\(s\) stopped; .*\n$/);
  assert.deepEqual(seen.workers.lateMessages, [], "no output of the interrupted run after its cell ended");

  // A config error: the field and the message, no stack.
  assert.equal(seen.configError, "ConfigError: invalid config: iterations: must be ≥ 1, got 0\n");
});
