import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { checkpointInterval } from "../src/commands/sequenceCommand";
import { LM } from "../src/lm/spec";
import { RunStore } from "../src/store/runStore";
import { expandSweep, parseSweep } from "../src/sweep/spec";
import { stateLabel, sweepStatus } from "../src/sweep/status";
import { ensureSweepDir, lastTaskEvent, manifestOf, sweepDirOf } from "../src/sweep/sweepDir";
import type { AnyModalitySpec, SequenceConfig } from "../src/collapse/spec";
import type { IterationRecord } from "../src/collapse/loop";
import { runSequence } from "../src/collapse/runSequence";
import { selectBackend } from "../src/backend";
import { InterruptedError } from "../src/interrupt";
import { VAE } from "../src/vae/spec";
import { MOLECULES } from "../src/molecules/spec";

const GENERIC_LM: AnyModalitySpec = LM;
import { packageRoot } from "../src/environment";
import { tempDir } from "./helpers";

// A fit killed with SIGKILL resumes from its last mid-fit checkpoint, and the finished run's records
// (learning curves included) are bit-identical to an uninterrupted run's, on the cpu backend.

const CLI = path.join(packageRoot(), "bin", "collapse.js");
// Smaller than the smoke profile's real sets: the cpu backend is slow, and two models suffice.
const ARGS = ["lm", "--profile", "smoke", "--backend", "cpu", "--strategy", "accumulate", "--iterations", "2", "--documents", "40", "--valid-documents", "10", "--text-metric-documents", "0"];

/** The uninterrupted run every test here compares with (made once). */
let referenceRuns: string | null = null;
function reference(): string {
  if (referenceRuns) return referenceRuns;
  const runs = tempDir("resume-ref");
  const ref = spawnSync(process.execPath, [CLI, ...ARGS, "--runs-dir", runs], { encoding: "utf8", timeout: 300_000 });
  assert.equal(ref.status, 0, ref.stderr);
  referenceRuns = runs;
  return runs;
}

/** The records of the one lm run under `runs`, without their timings. */
function records(runs: string): unknown[] {
  const [key] = fs.readdirSync(path.join(runs, "lm"));
  const text = fs.readFileSync(path.join(runs, "lm", key, "metrics.jsonl"), "utf8");
  return text
    .trim()
    .split("\n")
    .map((l) => {
      const { seconds: _seconds, ...rest } = JSON.parse(l);
      return rest;
    });
}

function artifacts(runs: string): string[] {
  const lm = path.join(runs, "lm");
  if (!fs.existsSync(lm)) return [];
  return fs.readdirSync(lm).flatMap((key) => (fs.existsSync(path.join(lm, key, "artifacts")) ? fs.readdirSync(path.join(lm, key, "artifacts")).map((f) => path.join(lm, key, "artifacts", f)) : []));
}

/** Starts the command and SIGKILLs it once `when` holds (polled); resolves true if it was killed, false if it finished first. */
function killWhen(runs: string, when: () => boolean): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...ARGS, "--runs-dir", runs, "--checkpoint-every", "3steps"], { stdio: "ignore" });
    const poll = setInterval(() => {
      if (when()) child.kill("SIGKILL");
    }, 10);
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      clearInterval(poll);
      resolve(signal === "SIGKILL");
    });
  });
}

test("a fit killed with SIGKILL (twice) resumes from its mid-fit checkpoint, bit-identical to an uninterrupted run on cpu", { timeout: 600_000 }, async () => {
  const runs = tempDir("resume-killed");
  const ckpt = (n: number) => artifacts(runs).find((f) => path.basename(f) === `fit-${n}.ckpt`);
  // First kill: once model 1's fit has written a checkpoint.
  assert.ok(await killWhen(runs, () => ckpt(1) !== undefined), "killed during model 1's fit");
  const firstCheckpoint = fs.statSync(ckpt(1)!).mtimeMs;
  // Second kill: once the resumed fit has written a later checkpoint (model 1's, or model 2's).
  assert.ok(
    await killWhen(runs, () => {
      const one = ckpt(1);
      return (one !== undefined && fs.statSync(one).mtimeMs > firstCheckpoint) || ckpt(2) !== undefined;
    }),
    "killed again, mid-fit",
  );
  const last = spawnSync(process.execPath, [CLI, ...ARGS, "--runs-dir", runs, "--checkpoint-every", "3steps"], { encoding: "utf8", timeout: 300_000 });
  assert.equal(last.status, 0, last.stderr);
  assert.deepEqual(records(runs), records(reference()), "records and learning curves, bitwise");
  assert.deepEqual(
    artifacts(runs).filter((f) => f.endsWith(".ckpt")),
    [],
    "finished models' checkpoints are pruned",
  );
});

test("--checkpoint-every takes a time or a step count, and names a bad one", () => {
  assert.deepEqual(checkpointInterval("10m"), { everySeconds: 600 });
  assert.deepEqual(checkpointInterval("90s"), { everySeconds: 90 });
  assert.deepEqual(checkpointInterval("2h"), { everySeconds: 7200 });
  assert.deepEqual(checkpointInterval("500steps"), { everySteps: 500 });
  assert.equal(checkpointInterval(undefined), undefined);
  assert.throws(() => checkpointInterval("often"), /--checkpoint-every: expected a time/);
  assert.throws(() => checkpointInterval("1.5steps"), /a step count must be an integer/);
});

test("a sweep task stopped by Slurm's warning signal (USR1) checkpoints mid-fit, says so, and its next start finishes it bit-identically", { timeout: 600_000 }, async () => {
  const runs = tempDir("resume-sweep");
  const spec = parseSweep("command: lm\nprofile: smoke\nbase: {strategy: accumulate, iterations: 2, trainDocuments: 40, validDocuments: 10, textMetricDocuments: 0}\n", "preempt.yaml");
  const entries = expandSweep(spec);
  const store = new RunStore(runs);
  const dir = sweepDirOf(store, spec, entries);
  ensureSweepDir(dir, manifestOf(spec, entries));
  const env = { ...process.env, COLLAPSE_RUNS_DIR: runs, COLLAPSE_BACKEND: "cpu" };
  // Signalled once model 1 is recorded: during model 2's fit.
  const stopped = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "sweep-task", dir, "0"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      if (/model 1\/2/.test(out) && !child.killed) child.kill("SIGUSR1");
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out }));
  });
  assert.equal(stopped.code, 130, stopped.out);
  assert.match(stopped.out, /SIGUSR1: stopping at the fit's next step, with a checkpoint/);
  assert.equal(lastTaskEvent(dir, 0)?.event, "preempted");
  const [status] = sweepStatus(GENERIC_LM, entries, store, dir, null);
  assert.equal(status.state, "partial");
  assert.equal(status.fit?.iteration, 2, "model 2's fit is checkpointed");
  assert.match(stateLabel(status), /^partial \(1 of 2 iterations; model 2 checkpointed at step \d+\)$/);
  const again = spawnSync(process.execPath, [CLI, "sweep-task", dir, "0"], { env, encoding: "utf8", timeout: 300_000 });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(lastTaskEvent(dir, 0)?.event, "done");
  assert.deepEqual(records(runs), records(reference()), "records and learning curves, bitwise");
});

/** The records of a sequence stopped mid-fit in model 2 by an interrupt (it checkpoints), then resumed, and of one run straight through. */
async function stoppedAndResumed(spec: AnyModalitySpec, config: SequenceConfig, atStep: number): Promise<{ resumed: unknown[]; straight: unknown[] }> {
  const timeless = (rs: readonly IterationRecord[]) => rs.map(({ seconds: _seconds, ...r }) => r);
  const store = new RunStore(tempDir(`resume-${spec.name}`));
  const stop = new AbortController();
  await assert.rejects(
    runSequence(spec, config, { store, signal: stop.signal, fitCheckpoints: { everySteps: 1000 }, onFitProgress: (n, step) => n === 2 && step >= atStep && stop.abort() }),
    (e: unknown) => e instanceof InterruptedError && /checkpointed after step/.test(e.message),
  );
  const resumed = await runSequence(spec, config, { store });
  const straight = await runSequence(spec, config, { store: null });
  return { resumed: timeless(resumed.records), straight: timeless(straight.records) };
}

test("an interrupt stops the VAE's and the diffusion model's fits with a checkpoint; the resumed records equal a run straight through", async () => {
  process.env.COLLAPSE_BACKEND = "cpu"; // bit-identical records: the plain-JS reference backend
  await selectBackend();
  const vae = await stoppedAndResumed(VAE, { ...VAE.profiles.smoke, strategy: "accumulate", iterations: 2 }, 2);
  assert.deepEqual(vae.resumed, vae.straight);
  const molecules = await stoppedAndResumed(MOLECULES, { ...MOLECULES.profiles.smoke, strategy: "accumulate", iterations: 2 }, 10);
  assert.deepEqual(molecules.resumed, molecules.straight);
});
