import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import { SequencesFailedError } from "../src/collapse/sequences";
import { EXIT, isOutOfMemory, reportError } from "../src/commands/exitCodes";
import { packageRoot } from "../src/environment";
import { InterruptedError } from "../src/interrupt";
import { RunInUseError, RunStore } from "../src/store/runStore";
import { VAE } from "../src/vae/spec";
import { tempDir } from "./helpers";

/** What reportError prints, and the code it returns. */
function reported(e: unknown): { code: number; lines: string[] } {
  const lines: string[] = [];
  const error = console.error;
  console.error = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    return { code: reportError(e, "lm"), lines: lines.join("\n").split("\n") };
  } finally {
    console.error = error;
  }
}

test("every expected condition is one line and its own exit code; only a bug prints a stack", () => {
  const inUse = reported(new RunInUseError("/runs/lm/abc", 4242));
  assert.equal(inUse.code, EXIT.runInUse);
  assert.equal(inUse.lines.length, 1);
  assert.match(inUse.lines[0], /^collapse: run \/runs\/lm\/abc is in use by process 4242/);
  const interrupted = reported(new InterruptedError("the sequence"));
  assert.deepEqual([interrupted.code, interrupted.lines.length], [EXIT.interrupted, 1]);
  const oom = reported(new Error("OOM when allocating tensor with shape[64,8,512,512] and type float"));
  assert.equal(oom.code, EXIT.outOfMemory);
  assert.match(oom.lines.join("\n"), /smaller --micro-batch/);
  assert.ok(oom.lines.every((l) => !/^\s+at /.test(l)), "no stack trace");
  const killed = new Error("worker process stopped (SIGKILL, killed; on Linux most often by the kernel's out-of-memory killer) without a result");
  const some = reported(new SequencesFailedError([{ index: 1, description: "gpt2-9m · replace", error: killed }], 3));
  assert.equal(some.code, EXIT.sequencesFailed);
  assert.match(some.lines.join("\n"), /1 of 3 sequences failed[\s\S]*smaller --micro-batch/);
  const bug = reported(new TypeError("x is undefined"));
  assert.equal(bug.code, EXIT.unexpected);
  assert.ok(bug.lines.some((l) => /^\s+at /.test(l)), "a bug keeps its stack trace");
  assert.equal(isOutOfMemory(new Error("Resource exhausted: ResourceExhaustedError")), true);
  assert.equal(isOutOfMemory(new Error("train.batchSize: must be ≥ 1")), false);
});

test("a second process on a run in use is refused in one line with exit code 3", () => {
  const runs = tempDir("exit-in-use");
  // This test's process holds the run `collapse vae --profile smoke` would open (a live owner).
  const held = new RunStore(runs).open("vae", VAE.runKey(structuredClone(VAE.profiles.smoke)));
  try {
    const r = spawnSync(process.execPath, [path.join(packageRoot(), "bin", "collapse.js"), "vae", "--profile", "smoke", "--runs-dir", runs], { encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, EXIT.runInUse, r.stderr);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("collapse:"));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`in use by process ${process.pid}`));
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  } finally {
    held.close();
  }
});
