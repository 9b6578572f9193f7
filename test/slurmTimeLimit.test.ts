import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { IterationRecord } from "../src/collapse/loop";
import { RunStore } from "../src/store/runStore";
import { readSweep } from "../src/sweep/read";
import { ACTIVE_STATES } from "../src/sweep/slurm";
import type { TaskEvent } from "../src/sweep/sweepDir";
import { BIN, collapse, slurmUnavailable, tempDir } from "./helpers";

// A sweep on a real (one-node) Slurm whose task outlives its time limit: Slurm's warning signal stops
// the fit mid-way with a checkpoint, the task requeues itself, and its next start continues the fit
// at the checkpointed step; the finished records are bit-identical (cpu backend) to the same sweep run
// straight through without Slurm.
//
// Timing. Slurm sends --signal=B:USR1@N from its periodic time-limit check (every 30 s) as soon as less
// than N + 30 s are left (sbatch(1): "may be sent up to 60 seconds earlier than specified"): with a
// 1-minute limit and N = 15 the signal comes 15–45 s after a task starts (measured: 16, 39 s), well
// after the task's setup (~2 s) and at least 15 s before the limit. The fit (500 steps of the smoke
// VAE, ~70 s on one core of the 2-core development machine, cpu backend) is longer than that, so the
// first start is always cut mid-fit; a resumed start has the same limit and may be cut again, which the
// test follows as often as it happens (each start moves the fit on by ≥ 13 s).
//
// Requeue delay. A requeued job waits for a BeginTime Slurm sets ~2 min ahead (squeue: PENDING,
// reason BeginTime). Once the test has seen the task pending again with its restart counted, it cuts
// that wait, 10 s after the cut, with `scontrol update jobid=<job>_<i> StartTime=now` (Slurm starts it within a second): the
// requeue is Slurm's own, only the wait is skipped. (`scontrol release` does not apply, the job is not
// held; `--resubmit` leaves a queued sequence alone.)

const SLURM_SKIP = slurmUnavailable();

/** The smoke VAE's 64 training images in batches of 32: 2 steps an epoch, a curve point every 2 steps (train.reportEvery). */
const EPOCHS = 250;
const STEPS = 2 * EPOCHS;
const REPORT_EVERY = 2;
const SIGNAL_SECONDS = 15;

/** What the task of sequence 0 reported so far (tasks/0.jsonl). */
function taskEvents(dir: string): TaskEvent[] {
  const file = path.join(dir, "tasks", "0.jsonl");
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .flatMap((l) => {
      try {
        return l ? [JSON.parse(l) as TaskEvent] : [];
      } catch {
        return []; // a line being written
      }
    });
}

/** `scontrol show job` of one array task, as its key=value fields; null when Slurm does not know it. */
function slurmJob(task: string): Record<string, string> | null {
  const r = spawnSync("scontrol", ["show", "job", "-o", task], { encoding: "utf8", timeout: 20_000 });
  if (r.status !== 0) return null;
  return Object.fromEntries(
    r.stdout
      .trim()
      .split(/\s+/)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
}

/** Starts the kit's command line in the background; `done` resolves when it exits. */
function background(args: string[]): { done: Promise<{ code: number | null; out: string; seconds: number }>; kill(): void } {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
  child.stderr.on("data", (c: Buffer) => (out += c.toString("utf8")));
  const done = new Promise<{ code: number | null; out: string; seconds: number }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, seconds: (performance.now() - started) / 1000 }));
  });
  return { done, kill: () => void (child.exitCode === null && child.kill()) };
}

const timeless = (records: readonly IterationRecord[]) => records.map(({ seconds: _seconds, ...r }) => r);

test("a sweep task cut by a real Slurm time limit mid-fit checkpoints, is requeued, continues at its checkpointed step and finishes bit-identically", { skip: SLURM_SKIP ?? false, timeout: 420_000 }, async () => {
  const runs = tempDir("slurm-limit");
  const refRuns = tempDir("slurm-limit-ref");
  const file = path.join(tempDir("slurm-limit-file"), "time-limit.yaml");
  fs.writeFileSync(file, `name: time-limit\ncommand: vae\nprofile: smoke\nbase: {iterations: 1, train.epochs: ${EPOCHS}}\nslurm: {cpusPerTask: 1, time: "0:01:00", signalSeconds: ${SIGNAL_SECONDS}}\n`);
  const args = ["sweep", file, "--runs-dir", runs];
  const store = new RunStore(runs);

  const started = Date.now();
  const submit = collapse([...args, "--executor", "slurm", "--backend", "cpu"]);
  assert.equal(submit.code, 0, submit.stderr);
  const jobId = /^submitted job (\d+): 1 of 1 sequences/m.exec(submit.stdout)?.[1];
  assert.ok(jobId, submit.stdout);
  const task = `${jobId}_0`;
  // Meanwhile, on the other core: the same sweep straight through, here, without Slurm.
  const reference = background(["sweep", file, "--runs-dir", refRuns, "--backend", "cpu", "--parallel", "1"]);
  const dir = readSweep(file, { store }).dir;
  const logFile = path.join(dir, "logs", `${task}.out`);
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "(no log)");
  let finished = false;
  try {
    // Each cut: the checkpointed step (null: stopped after its model was recorded), how long that start
    // ran, and how long Slurm would have held the requeued task.
    const cuts: { step: number | null; ranFor: number; requeueDelay: number }[] = [];
    const deadline = started + 330_000;
    for (;;) {
      const events = taskEvents(dir);
      const last = events[events.length - 1];
      if (last?.event === "done") break;
      assert.notEqual(last?.event, "failed", `the task failed: ${JSON.stringify(last)}\n${log()}`);
      const preempted = events.filter((e) => e.event === "preempted");
      if (preempted.length > cuts.length) {
        // The task was stopped (USR1) and has requeued itself: Slurm keeps it, pending, with one more restart.
        const job = slurmJob(task);
        const state = job?.JobState ?? "(unknown to Slurm)";
        assert.ok(ACTIVE_STATES.includes(state), `task ${task} was stopped but not requeued: ${state}\n${log()}`);
        if (state === "PENDING") {
          assert.equal(job!.Restarts, String(preempted.length), `restarts of ${task}`);
          const status = collapse([...args, "--status"]);
          assert.equal(status.code, 0, status.stderr);
          const m = /queued \(job (\S+)\) \(0 of 1 iterations; model 1 checkpointed at step (\d+)\)/.exec(status.stdout);
          const records = readSweep(file, { store }).sequences[0].records.length;
          // Cut mid-fit (the first time always; later, the model may have been recorded just before).
          assert.ok(m || (cuts.length > 0 && records === 1), `cut ${cuts.length + 1}: no fit checkpoint in --status:\n${status.stdout}\n${log()}`);
          const step = m ? Number(m[2]) : null;
          if (m) {
            assert.equal(m[1], task);
            assert.ok(step! > 0 && step! < STEPS, `checkpointed at step ${step} of ${STEPS}`);
            // Never behind an earlier checkpoint (equal: the signal came after the fit, before its record).
            const before = cuts[cuts.length - 1]?.step ?? 0;
            assert.ok(step! >= before, `checkpointed at step ${step}, after step ${before} before`);
          }
          const cut = preempted[preempted.length - 1];
          const start = events.slice(0, events.lastIndexOf(cut)).reverse().find((e) => e.event === "start");
          const ranFor = (Date.parse(cut.at) - Date.parse(start!.at)) / 1000;
          const requeueDelay = (Date.parse(job!.StartTime) - Date.now()) / 1000;
          cuts.push({ step, ranFor, requeueDelay });
          // Not at once: a start within a second of the requeue can find the node still revoking the last
          // start's credential, and Slurm then fails the job ("Job credential revoked", seen in a full
          // test run); 10 s after the cut the last start is gone.
          const settle = 10_000 - (Date.now() - Date.parse(cut.at));
          if (settle > 0) await new Promise((resolve) => setTimeout(resolve, settle));
          const update = spawnSync("scontrol", ["update", `jobid=${task}`, "StartTime=now"], { encoding: "utf8", timeout: 20_000 });
          assert.equal(update.status, 0, `scontrol update StartTime=now: ${update.stderr}`);
        }
      }
      if (Date.now() > deadline) assert.fail(`sequence not done after ${(Date.now() - started) / 1000} s (${cuts.length} cuts; Slurm: ${slurmJob(task)?.JobState})\n${log()}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const seconds = (Date.now() - started) / 1000;
    // The task's process ends (its last log lines written) and Slurm sees it complete.
    for (;;) {
      const state = slurmJob(task)?.JobState ?? "(unknown to Slurm)";
      if (!ACTIVE_STATES.includes(state)) {
        assert.equal(state, "COMPLETED", log());
        break;
      }
      if (Date.now() > deadline) assert.fail(`task ${task} still ${state} after its sequence was done`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    finished = true;
    assert.ok(cuts.length >= 1, `the task finished before Slurm's warning signal (a shorter fit than ${SIGNAL_SECONDS}–45 s?):\n${log()}`);

    const status = JSON.parse(collapse([...args, "--status", "--json"]).stdout).sequences[0];
    assert.equal(status.state, "finished");
    assert.equal(status.task, task, "one job: requeued, never resubmitted");
    const ref = await reference.done;
    assert.equal(ref.code, 0, ref.out);
    const [resumed] = readSweep(file, { store }).sequences;
    const [straight] = readSweep(file, { store: new RunStore(refRuns) }).sequences;
    assert.deepEqual(timeless(resumed.records), timeless(straight.records), "records and learning curve, bitwise");
    assert.deepEqual(
      resumed.records[0].curve?.map((p) => p.step),
      Array.from({ length: STEPS / REPORT_EVERY }, (_, k) => (k + 1) * REPORT_EVERY),
      "the whole learning curve",
    );
    assert.deepEqual(
      fs.readdirSync(path.join(resumed.runDir!, "artifacts")).filter((f) => /^fit-\d+\.ckpt$/.test(f)),
      [],
      "the fit's checkpoint is pruned once its model is recorded",
    );

    // The log (appended over the task's starts): each start after a cut continued the fit from the step
    // the cut checkpointed (its first reported step within one report of it), not from step 0.
    const text = log();
    const starts = text.split(/^(?=sweep time-limit: sequence 0 )/m).filter((s) => s.startsWith("sweep time-limit"));
    assert.equal(starts.length, cuts.length + 1, `one start per cut, and the last:\n${text}`);
    const firstStep = (s: string) => Number(/^model 1: fitting, at step (\d+)$/m.exec(s)?.[1] ?? NaN);
    assert.equal(firstStep(starts[0]), REPORT_EVERY, `the first start fits from step 0:\n${starts[0]}`);
    assert.doesNotMatch(starts[0], /continues from the checkpoint/);
    cuts.forEach((cut, k) => {
      assert.match(starts[k], /^SIGUSR1: stopping at the fit's next step, with a checkpoint$/m);
      if (cut.step === null) return; // stopped after its model was recorded: the next start reads it back
      assert.match(starts[k], new RegExp(`^sequence 0 stopped by SIGUSR1; .*\\(model 1 at step ${cut.step}\\) are kept; requeueing$`, "m"));
      assert.match(starts[k + 1], new RegExp(`^model 1: its fit continues from the checkpoint at step ${cut.step}$`, "m"));
      const next = firstStep(starts[k + 1]);
      assert.ok(next > cut.step && next <= cut.step + REPORT_EVERY, `start ${k + 2} reported step ${next} first, after a checkpoint at step ${cut.step}:\n${starts[k + 1]}`);
    });
    assert.match(starts[cuts.length], /^sequence 0 finished$/m);

    const list = (xs: (number | null)[], digits = 0) => xs.map((x) => (x === null ? "—" : x.toFixed(digits))).join(", ");
    const usr1After = list(cuts.map((c) => c.ranFor), 1);
    const steps = list(cuts.map((c) => c.step));
    const delays = list(cuts.map((c) => c.requeueDelay));
    console.log(
      `# slurm time limit: a ${STEPS}-step smoke VAE fit (cpu) as array task ${task}, limit 1 min, USR1 ${SIGNAL_SECONDS} s before: cut ${cuts.length}× ` +
        `(USR1 after ${usr1After} s of a start; checkpointed at step ${steps} of ${STEPS}; requeued, Slurm would have restarted it ${delays} s later, started 10 s after the cut instead); ` +
        `finished ${seconds.toFixed(1)} s after sbatch; the same sweep straight through without Slurm: ${ref.seconds.toFixed(1)} s`,
    );
  } finally {
    reference.kill();
    if (!finished) spawnSync("scancel", [jobId], { encoding: "utf8", timeout: 20_000 });
  }
});
