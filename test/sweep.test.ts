import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";
import { DataError } from "../src/errors";
import { RunStore } from "../src/store/runStore";
import { type AnyModalitySpec } from "../src/collapse/spec";
import { runSequence } from "../src/collapse/runSequence";
import { modalityNames } from "../src/modalities";
import { GAUSSIAN } from "../src/gaussian/spec";
import { VAE } from "../src/vae/spec";
import { readSweep } from "../src/sweep/read";
import { arrayRanges, batchScriptText, parseArrayRanges } from "../src/sweep/slurm";
import { SWEEP_EXAMPLE, expandSweep, parseSweep } from "../src/sweep/spec";
import { sweepStatus } from "../src/sweep/status";
import { ensureSweepDir, manifestOf, recordJob, recordTaskEvent, sweepDirOf } from "../src/sweep/sweepDir";
import { collapse, freshStore, slurmUnavailable, tempDir } from "./helpers";

/** A sweep file in a fresh directory. */
function sweepFile(text: string, name = "sweep.yaml"): string {
  const file = path.join(tempDir("sweep-file"), name);
  fs.writeFileSync(file, text);
  return file;
}

/** The message of the DataError `fn` throws (fails the test on anything else). */
function sweepErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DataError, `expected a DataError, got ${e}`);
    return e.message;
  }
  assert.fail("expected an error, nothing was thrown");
}

const expand = (text: string, file = "sweep.yaml") => expandSweep(parseSweep(text, file));

test("a sweep is the cartesian product of its grid over the profile's config and base", () => {
  const entries = expand(`
command: vae
profile: smoke
base:
  iterations: 3
  train.learningRate: 0.002
grid:
  strategy: [replace, accumulate]
  train.epochs: [1, 2, 3]
seeds: 2
`);
  assert.equal(entries.length, 2 * 3 * 2);
  assert.deepEqual(
    entries.map((e) => e.index),
    entries.map((_, i) => i),
  );
  // The last grid field varies fastest; seeds come last.
  assert.deepEqual(entries[0].values, { strategy: "replace", "train.epochs": 1, seed: 0 });
  assert.deepEqual(entries[1].values, { strategy: "replace", "train.epochs": 1, seed: 1 });
  assert.deepEqual(entries[11].values, { strategy: "accumulate", "train.epochs": 3, seed: 1 });
  const c = entries[5].config as { strategy: string; seed: number; iterations: number; train: Record<string, number>; imageSize: number };
  assert.equal(c.strategy, "replace");
  assert.equal(c.seed, 1);
  assert.equal(c.iterations, 3);
  assert.equal(c.train.epochs, 3);
  assert.equal(c.train.learningRate, 0.002);
  // Fields the sweep leaves alone are the profile's (a dotted key merges, it does not replace `train`).
  const profile = structuredClone(VAE.profiles.smoke);
  assert.equal(c.imageSize, profile.imageSize);
  assert.equal(c.train.batchSize, profile.train.batchSize);
});

test("JSON sweep files work like YAML ones, and lm's size given one way clears the other", () => {
  const yaml = expand("command: lm\nprofile: smoke\ngrid:\n  trainDocuments: [10, 20]\n");
  const json = expand(JSON.stringify({ command: "lm", profile: "smoke", grid: { trainDocuments: [10, 20] } }), "sweep.json");
  assert.deepEqual(json, yaml);
  assert.equal(yaml[1].config.trainDocuments, 20);
  assert.equal(yaml[1].config.trainTokens, undefined, "trainDocuments replaces the profile's trainTokens");
});

test("sweep errors name the file and the grid value, base field or key at fault", () => {
  const cases: [string, RegExp][] = [
    ["command: vae\nprofile: smoke\ngrid:\n  train.epochs: [1, x]\n", /^sweep\.yaml: grid\.train\.epochs\[1\]: expected a finite number, got "x"$/],
    ["command: gaussian\nprofile: smoke\ngrid:\n  strategy: [replace, bogus]\n", /^sweep\.yaml: grid\.strategy\[1\]: expected one of .*got "bogus"/],
    ["command: gaussian\nprofile: smoke\nbase: {iterations: 0}\ngrid: {strategy: [replace]}\n", /^sweep\.yaml: base\.iterations: must be ≥ 1/],
    ["command: gaussian\nprofile: smoke\ngrid: {typo: [1]}\n", /^sweep\.yaml: grid\.typo\[0\]: unknown field \(known: dim, /],
    ["command: gaussian\nprofile: smoke\ngrdi: {strategy: [replace]}\n", /^sweep\.yaml: grdi: unknown key \(known: name, command/],
    ["command: gauss\n", new RegExp(`^sweep\\.yaml: command: expected one of ${modalityNames().join(", ")}, got "gauss"`)],
    ["command: gaussian\nprofile: huge\n", /^sweep\.yaml: profile: expected one of smoke, quick, medium, paper/],
    ["command: gaussian\ngrid: {strategy: replace}\n", /^sweep\.yaml: grid\.strategy: expected a list of values/],
    ["command: gaussian\ngrid: {strategy: []}\n", /^sweep\.yaml: grid\.strategy: is an empty list/],
    ["command: gaussian\nseeds: 0\n", /^sweep\.yaml: seeds: expected an integer ≥ 1, got 0/],
    ["command: gaussian\nseeds: 2\ngrid: {seed: [0, 1]}\n", /^sweep\.yaml: seeds: and grid\.seed give the seeds two ways/],
    ["command: gaussian\nslurm: {partition: debug, gpus: 1}\n", /^sweep\.yaml: slurm\.gpus: unknown option \(known: partition, /],
    ["command: gaussian\nslurm: {maxConcurrent: 0}\n", /^sweep\.yaml: slurm\.maxConcurrent: expected an integer ≥ 1/],
    ["command: gaussian\ncommand: vae\n", /^sweep\.yaml: is not valid YAML/],
    ["- just a list\n", /^sweep\.yaml: must hold a mapping/],
  ];
  for (const [text, pattern] of cases) assert.match(sweepErrorOf(() => expand(text)), pattern, text);
  // `seeds: N` sets the seed of every sequence, whatever base says.
  assert.deepEqual(
    expand("command: gaussian\nprofile: smoke\nbase: {seed: -5}\nseeds: 2\n").map((e) => e.config.seed),
    [0, 1],
  );
});

test("collapse sweep --help shows an example sweep file that expands; the main help lists the command", () => {
  const help = collapse(["sweep", "--help"]);
  assert.equal(help.code, 0);
  for (const flag of ["--executor", "--status", "--resubmit", "--dry-run", "--runs-dir", "--json"]) assert.ok(help.stdout.includes(flag), flag);
  assert.match(help.stdout, /grid:/);
  assert.match(collapse(["--help"]).stdout, /collapse sweep SWEEP\.yaml/);
  // The example in the help and the shipped example file are valid sweeps.
  assert.equal(expandSweep(parseSweep(SWEEP_EXAMPLE, "example.yaml")).length, 4);
  const shipped = path.join(packageRoot(), "sweeps", "example-smoke.yaml");
  assert.equal(expandSweep(parseSweep(fs.readFileSync(shipped, "utf8"), shipped)).length, 4);
  const usage = collapse(["sweep"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^collapse: expected a sweep file/);
});

test("array ranges round-trip through sbatch's --array syntax", () => {
  assert.equal(arrayRanges([5, 0, 1, 2, 8, 7]), "0-2,5,7-8");
  assert.equal(arrayRanges([3]), "3");
  assert.deepEqual(parseArrayRanges("0-2,5,7-8%4"), [0, 1, 2, 5, 7, 8]);
  assert.deepEqual(parseArrayRanges("0-6:3"), [0, 3, 6]);
});

test("the batch script runs one sequence per array task into the sweep's run store", () => {
  const text = batchScriptText({
    sweepDir: "/runs/sweeps/s-1",
    storeRoot: "/runs dir",
    jobName: "collapse-s",
    slurm: { partition: "gpu", time: "1:00:00", gpusPerTask: 1, cpusPerTask: 4, mem: "16G", extraArgs: ["--qos=short"] },
    command: ["/usr/bin/node", "/kit/bin/collapse.js", "sweep-task", "/runs/sweeps/s-1"],
  });
  for (const line of ["#SBATCH --output=/runs/sweeps/s-1/logs/%A_%a.out", "#SBATCH --partition=gpu", "#SBATCH --time=1:00:00", "#SBATCH --gpus-per-task=1", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=16G", "#SBATCH --open-mode=append", "#SBATCH --qos=short", "export COLLAPSE_RUNS_DIR='/runs dir'"]) {
    assert.ok(text.split("\n").includes(line), `${line} in\n${text}`);
  }
  assert.match(text, /^exec \/usr\/bin\/node \/kit\/bin\/collapse\.js sweep-task \/runs\/sweeps\/s-1 "\$SLURM_ARRAY_TASK_ID"$/m);
});

test("status comes from the store, the tasks' reports and Slurm's states", async () => {
  const store = freshStore("sweep-status");
  const spec = parseSweep("command: gaussian\nprofile: smoke\nbase: {iterations: 3}\nseeds: 7\n", "s.yaml");
  const entries = expandSweep(spec);
  const cmd: AnyModalitySpec = GAUSSIAN;
  const dir = sweepDirOf(store, spec, entries);
  ensureSweepDir(dir, manifestOf(spec, entries));
  await runSequence(cmd, entries[0].config, { store }); // 0: finished
  recordJob(dir, { jobId: "41", indices: [1, 2, 3, 4, 5], submittedAt: "", array: "1-5" });
  recordTaskEvent(dir, 2, { event: "start", at: "", jobId: "41" });
  recordTaskEvent(dir, 3, { event: "start", at: "", jobId: "41" });
  recordTaskEvent(dir, 3, { event: "failed", at: "", jobId: "41", error: "out of data" });
  recordTaskEvent(dir, 4, { event: "start", at: "", jobId: "41" });
  const slurm = new Map([
    ["41_1", "PENDING"],
    ["41_2", "RUNNING"],
    ["41_3", "FAILED"],
  ]); // 41_4 started and vanished; 41_5 was never seen running; 6 was never submitted
  const states = sweepStatus(cmd, entries, store, dir, slurm);
  assert.deepEqual(
    states.map((s) => s.state),
    ["finished", "queued", "running", "failed", "failed", "failed", "pending"],
  );
  assert.equal(states[0].finishedIterations, 3);
  assert.ok(states[0].lastMetric !== null && states[0].lastMetric > 0);
  assert.equal(states[3].error, "out of data");
  assert.match(states[4].error!, /stopped without reporting a result/);
  // Without Slurm to ask, a task that started is taken as running; an unfinished one was never ended.
  const offline = sweepStatus(cmd, entries, store, dir, null);
  assert.deepEqual(
    offline.map((s) => s.state),
    ["finished", "pending", "running", "failed", "running", "pending", "pending"],
  );
});

test("collapse sweep runs a gaussian grid here, skips it on a second run, reports --status and reads back", () => {
  const runs = tempDir("sweep-gauss");
  const file = sweepFile("command: gaussian\nprofile: smoke\nbase: {iterations: 4}\ngrid:\n  strategy: [replace, accumulate, accumulate-subsample]\nseeds: 2\n", "gauss.yaml");
  const first = collapse(["sweep", file, "--runs-dir", runs]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /6 of 6 sequences to run/);
  assert.equal(first.stderr.match(/^finished \d+ \(/gm)?.length, 6, "one line per finished sequence");
  assert.match(first.stdout, /6 sequences: 6 finished/);
  assert.match(first.stdout, /#\s+strategy\s+seed\s+status\s+Fréchet \(last\)/);

  const second = collapse(["sweep", file, "--runs-dir", runs]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /0 of 6 sequences to run \(6 finished\)/);

  const status = collapse(["sweep", file, "--runs-dir", runs, "--status", "--json"]);
  assert.equal(status.code, 0, status.stderr);
  const out = JSON.parse(status.stdout);
  assert.equal(out.sequences.length, 6);
  assert.ok(out.sequences.every((s: { state: string; finishedIterations: number }) => s.state === "finished" && s.finishedIterations === 4));

  // The sweep directory holds the expanded sequences; readSweep finds them by file or by directory.
  const sweepDirs = fs.readdirSync(path.join(runs, "sweeps"));
  assert.equal(sweepDirs.length, 1);
  assert.match(sweepDirs[0], /^gauss-[0-9a-f]{12}$/);
  const manifest = JSON.parse(fs.readFileSync(path.join(runs, "sweeps", sweepDirs[0], "sweep.json"), "utf8"));
  assert.deepEqual(manifest.entries[3].values, { strategy: "accumulate", seed: 1 });
  const byFile = readSweep(file, { store: new RunStore(runs) });
  const byDir = readSweep(path.join(runs, "sweeps", sweepDirs[0]));
  assert.deepEqual(byDir.sequences, byFile.sequences);
  assert.equal(byFile.sequences[5].records.length, 4);
  assert.deepEqual(byFile.sequences[5].values, { strategy: "accumulate-subsample", seed: 1 });
  assert.ok(byFile.sequences.every((s) => s.finished && s.records.every((r, i) => r.iteration === i + 1)));
  // Different seeds give different sequences.
  assert.notEqual(byFile.sequences[0].records[3].metrics.frechetDistance, byFile.sequences[1].records[3].metrics.frechetDistance);
});

test("--dry-run checks and lists the sequences but runs and writes nothing", () => {
  const runs = tempDir("sweep-dry");
  const file = sweepFile("command: gaussian\nprofile: smoke\ngrid: {strategy: [replace, accumulate]}\nslurm: {maxConcurrent: 1}\n");
  const local = collapse(["sweep", file, "--runs-dir", runs, "--dry-run"]);
  assert.equal(local.code, 0, local.stderr);
  assert.match(local.stdout, /dry run: 2 of 2 sequences would run here/);
  const slurm = collapse(["sweep", file, "--runs-dir", runs, "--dry-run", "--executor", "slurm"]);
  assert.equal(slurm.code, 0, slurm.stderr);
  assert.match(slurm.stdout, /--array=0-1%1 /);
  assert.match(slurm.stdout, /^exec .*collapse\.js sweep-task /m);
  assert.deepEqual(fs.readdirSync(runs), []);
  const bad = collapse(["sweep", sweepFile("command: gaussian\ngrid: {strategy: [nope]}\n", "bad.yaml"), "--runs-dir", runs]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^collapse: .*bad\.yaml: grid\.strategy\[0\]: expected one of /);
});

test("a 2×2 smoke VAE sweep runs in worker processes, into the runs `collapse vae` reads", () => {
  const runs = tempDir("sweep-vae");
  const file = sweepFile("command: vae\nprofile: smoke\nbase: {iterations: 2}\ngrid:\n  strategy: [replace, accumulate]\nseeds: 2\n", "vae.yaml");
  const first = collapse(["sweep", file, "--runs-dir", runs, "--parallel", "2"]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /4 sequences: 4 finished/);
  const second = collapse(["sweep", file, "--runs-dir", runs]);
  assert.match(second.stderr, /0 of 4 sequences to run \(4 finished\)/);
  const single = collapse(["vae", "--profile", "smoke", "--iterations", "2", "--strategy", "accumulate", "--seed", "1", "--runs-dir", runs, "--json"]);
  assert.equal(single.code, 0, single.stderr);
  const json = JSON.parse(single.stdout);
  assert.equal(json.resumedFrom, 2, "read back from the sweep's run");
  const swept = readSweep(file, { store: new RunStore(runs) }).sequences[3];
  assert.deepEqual(swept.values, { strategy: "accumulate", seed: 1 });
  assert.equal(json.runDir, swept.runDir);
  assert.equal(json.iterations[1].testNegElbo, swept.records[1].metrics.testNegElbo);
});

// ----- real Slurm --------------------------------------------------------------------------------

const SLURM_SKIP = slurmUnavailable();

// Where scripts/test.sh started (or tried to start) a cluster, CI's case, a missing one is a failure, not a skip.
test("Slurm is up where the test script set it up", { skip: process.env.COLLAPSE_REQUIRE_SLURM === "1" ? false : "COLLAPSE_REQUIRE_SLURM is not set" }, () => {
  assert.equal(SLURM_SKIP, null, `scripts/setup-slurm.sh ran but: ${SLURM_SKIP} (see .venv/setup-slurm.log)`);
});

/** Polls --status until every sequence is in one of `states` (or the time is up). */
async function waitForStates(args: string[], states: string[], timeoutMs: number): Promise<{ state: string; finishedIterations: number; task: string | null; error: string | null }[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = collapse([...args, "--status", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const seqs = JSON.parse(r.stdout).sequences;
    if (seqs.every((s: { state: string }) => states.includes(s.state))) return seqs;
    if (Date.now() > deadline) assert.fail(`sequences not ${states.join("/")} after ${timeoutMs / 1000} s: ${seqs.map((s: { state: string }) => s.state).join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

test("--executor slurm: one job array on a real Slurm, --status, no resubmission, --resubmit", { skip: SLURM_SKIP ?? false, timeout: 600_000 }, async () => {
  const runs = tempDir("sweep-slurm");
  const file = sweepFile("name: slurm-smoke\ncommand: vae\nprofile: smoke\nbase: {iterations: 2}\ngrid:\n  strategy: [replace, accumulate]\nseeds: 2\nslurm: {cpusPerTask: 1, time: '0:10:00', maxConcurrent: 2}\n", "slurm.yaml");
  const args = ["sweep", file, "--runs-dir", runs];
  const started = Date.now();
  const submit = collapse([...args, "--executor", "slurm"]);
  assert.equal(submit.code, 0, submit.stderr);
  const m = /^submitted job (\d+): 4 of 4 sequences \(--array=0-3%2\)/m.exec(submit.stdout);
  assert.ok(m, submit.stdout);
  const jobId = m[1];
  // Submitting again while the array is queued or running submits nothing.
  const again = collapse([...args, "--executor", "slurm"]);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /submitted job/);

  const done = await waitForStates(args, ["finished", "failed"], 300_000);
  const dir = readSweep(file, { store: new RunStore(runs) }).dir;
  const logs = () => fs.readdirSync(path.join(dir, "logs")).map((f) => `--- ${f}\n${fs.readFileSync(path.join(dir, "logs", f), "utf8").slice(-2000)}`).join("\n");
  assert.ok(done.every((s) => s.state === "finished"), `${JSON.stringify(done)}\n${logs()}`);
  console.log(`# slurm: 4 smoke VAE sequences as array job ${jobId} finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.deepEqual(
    done.map((s) => s.task),
    [0, 1, 2, 3].map((i) => `${jobId}_${i}`),
  );
  // The records are in the run store, where the sweep (and `collapse vae`) find them.
  const results = readSweep(file, { store: new RunStore(runs) });
  assert.ok(results.sequences.every((s) => s.finished && s.records.length === 2 && s.runDir?.startsWith(path.join(runs, "vae"))));
  assert.ok(fs.existsSync(path.join(dir, "logs", `${jobId}_0.out`)));
  assert.equal(fs.readFileSync(path.join(dir, "jobs.jsonl"), "utf8").trim().split("\n").length, 1);

  const status = collapse([...args, "--status"]);
  assert.match(status.stdout, /4 sequences: 4 finished/);
  const rerun = collapse([...args, "--executor", "slurm"]);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stdout, /nothing to submit: every sequence is finished/);

  // Cut sequence 2 back to its first model: partial; a plain run leaves it (its task ended), --resubmit retries it.
  const run2 = results.sequences[2].runDir!;
  const metrics = fs.readFileSync(path.join(run2, "metrics.jsonl"), "utf8").split("\n");
  fs.writeFileSync(path.join(run2, "metrics.jsonl"), metrics[0] + "\n");
  fs.rmSync(path.join(run2, "done.json"));
  const partial = collapse([...args, "--status", "--json"]);
  assert.deepEqual(
    JSON.parse(partial.stdout).sequences.map((s: { state: string; finishedIterations: number }) => `${s.state}:${s.finishedIterations}`),
    ["finished:2", "finished:2", "partial:1", "finished:2"],
  );
  assert.match(collapse([...args, "--executor", "slurm"]).stdout, /nothing to submit: 1 unfinished after their task ended \(submit them again with --resubmit\)/);
  const resubmit = collapse([...args, "--resubmit"]);
  assert.equal(resubmit.code, 0, resubmit.stderr);
  assert.match(resubmit.stdout, /^submitted job \d+: 1 of 4 sequences \(--array=2%2\)/m);
  const redone = await waitForStates(args, ["finished", "failed"], 300_000);
  assert.ok(redone.every((s) => s.state === "finished"), `${JSON.stringify(redone)}\n${logs()}`);
  // Resumed, not retrained: model 2 is the same as before.
  const after = readSweep(file, { store: new RunStore(runs) }).sequences[2];
  assert.equal(after.records[1].metrics.testNegElbo, results.sequences[2].records[1].metrics.testNegElbo);
});

test("--executor slurm: a cancelled array is reported failed and --resubmit runs it again", { skip: SLURM_SKIP ?? false, timeout: 300_000 }, async () => {
  const runs = tempDir("sweep-slurm-cancel");
  const text = (extra: string) => `name: cancelled\ncommand: gaussian\nprofile: smoke\nbase: {iterations: 3}\ngrid:\n  strategy: [replace, accumulate]\nslurm: {cpusPerTask: 1${extra}}\n`;
  // Held, so that it is cancelled before any task starts: a failure that does not depend on timing.
  const file = sweepFile(text(", extraArgs: [--hold]"), "cancel.yaml");
  const args = ["sweep", file, "--runs-dir", runs];
  const submit = collapse([...args, "--executor", "slurm"]);
  assert.equal(submit.code, 0, submit.stderr);
  const jobId = /^submitted job (\d+)/m.exec(submit.stdout)![1];
  const queued = JSON.parse(collapse([...args, "--status", "--json"]).stdout).sequences;
  assert.deepEqual(
    queued.map((s: { state: string }) => s.state),
    ["queued", "queued"],
  );
  const cancel = spawnSync("scancel", [jobId], { encoding: "utf8" });
  assert.equal(cancel.status, 0, cancel.stderr);
  const failed = await waitForStates(args, ["failed"], 60_000);
  assert.ok(failed.every((s) => s.task?.startsWith(`${jobId}_`)));
  assert.match(collapse([...args, "--status"]).stdout, /failed \(CANCELLED\)/);
  assert.match(collapse([...args, "--executor", "slurm"]).stdout, /nothing to submit: 2 unfinished after their task ended/);
  // Slurm options are not part of the sweep: without the hold it is the same sweep, resubmitted.
  fs.writeFileSync(file, text(""));
  const resubmit = collapse([...args, "--resubmit"]);
  assert.match(resubmit.stdout, /^submitted job \d+: 2 of 2 sequences \(--array=0-1\)/m);
  const done = await waitForStates(args, ["finished", "failed"], 120_000);
  assert.deepEqual(
    done.map((s) => s.state),
    ["finished", "finished"],
  );
  assert.equal(readSweep(file, { store: new RunStore(runs) }).sequences[1].records.length, 3);
});

test("a sequence that fails locally does not stop the others; --status reports it failed, with why", () => {
  const runs = tempDir("sweep-fail");
  const file = sweepFile("command: gaussian\nprofile: smoke\nbase: {iterations: 3}\ngrid:\n  strategy: [replace, accumulate, augment]\n", "fail.yaml");
  // Sequence 1's run directory holds another config: it passes every check, and fails when it opens its run.
  const store = new RunStore(runs);
  const [, second] = readSweep(file, { store }).sequences;
  const run = store.open("gaussian", second.config);
  run.close();
  const configFile = path.join(run.dir, "config.json");
  fs.writeFileSync(configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(configFile, "utf8")), canonical: "another config" }));
  const r = collapse(["sweep", file, "--runs-dir", runs]);
  assert.equal(r.code, 1, "a sweep with a failed sequence exits 1");
  assert.match(r.stderr, /^failed 1 \(strategy=accumulate\): .*holds a different config/m);
  assert.match(r.stdout, /3 sequences: 2 finished, 1 failed/);
  const status = JSON.parse(collapse(["sweep", file, "--runs-dir", runs, "--status", "--json"]).stdout).sequences;
  assert.deepEqual(
    status.map((s: { state: string }) => s.state),
    ["finished", "failed", "finished"],
  );
  assert.match(status[1].error, /holds a different config/);
});
