import * as path from "node:path";
import { parseArgs } from "node:util";
import { BACKEND_ENV_VAR, BACKEND_NAMES } from "../backend";
import { packageRoot } from "../environment";
import { formatSeconds } from "../progress";
import { RunStore } from "../store/runStore";
import type { AnyModalitySpec } from "../collapse/spec";
import { sweepModality } from "../sweep/commands";
import { runSweepLocal } from "../sweep/local";
import { arrayRanges, batchScriptText, haveCommand, schedulerStates, submitArray, writeBatchScript, type BatchScript } from "../sweep/slurm";
import { SWEEP_EXAMPLE, type SweepEntry, type SweepSpec, describeValues, expandSweep, readSweepFile } from "../sweep/spec";
import { type SequenceStatus, stateLabel, sweepStatus } from "../sweep/status";
import { ensureSweepDir, manifestOf, readJobs, recordJob, sweepDirOf } from "../sweep/sweepDir";
import { runSweepTask } from "../sweep/task";
import { UsageError, applyBackendFlag, backendHelp, num } from "./args";
import { EXIT } from "./exitCodes";

export const SWEEP_HELP = `collapse sweep — run a grid of sequences (any sequence command) here or as one Slurm job array

Usage: collapse sweep SWEEP.yaml [--executor local|slurm] [--status] [--resubmit] [--dry-run]
                                 [--parallel N] [--backend B] [--runs-dir DIR] [--json]

The sweep file (YAML, or JSON with a .json name) names a command, a profile, fields merged over the
profile's config, and a grid of fields to vary; the sweep is every combination. Every config is checked
before anything runs. Results are ordinary runs of the run store (keyed like \`collapse <command>\`'s):
finished sequences are skipped and partial ones resume. The sweep's own directory,
<runs>/sweeps/<name>-<hash>/, holds sweep.json (the expanded sequences), the Slurm job ids and logs.

Flags:
  --executor local       run the unfinished sequences here, in parallel worker processes (default)
  --executor slurm       submit them as one job array (sbatch --array=<indices>[%maxConcurrent]); each
                         task runs one sequence into the same run store; logs in <sweep dir>/logs/.
                         Before the time limit (slurm.signalSeconds, default 180) a task checkpoints
                         its fit and requeues itself; its next start resumes the fit
  --status               each sequence's state: finished, partial (k of N iterations, and a fit's
                         checkpointed step), running, queued, failed or pending (from the store, and
                         squeue/sacct where there)
  --resubmit             submit again every unfinished sequence not queued or running (failed ones);
                         implies --executor slurm. A plain slurm run submits only never-submitted ones
  --dry-run              expand and check the sweep, print what would run (and the batch script); run
                         and write nothing
  --parallel N           local executor: sequences at once (default: one per core)
${backendHelp(23)}
  --runs-dir DIR         run store location (default $COLLAPSE_RUNS_DIR or runs/)
  --json                 print the sequences' states as JSON to stdout
  -h, --help             this help

Example sweep file:
${SWEEP_EXAMPLE.split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}

From a notebook: readSweep(<sweep dir or file>) gives each sequence's grid values, config and records.`;

function parseSweepArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        executor: { type: "string" },
        status: { type: "boolean" },
        resubmit: { type: "boolean" },
        "dry-run": { type: "boolean" },
        parallel: { type: "string" },
        backend: { type: "string" },
        "runs-dir": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The table every mode ends with: index, grid values, state, the command's first metric. */
function printTable(cmd: AnyModalitySpec, spec: SweepSpec, statuses: SequenceStatus[]): void {
  const fields = spec.grid.map(([f]) => f);
  const metric = cmd.metrics[0];
  const cell = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  const rows = statuses.map((s) => [String(s.index), ...fields.map((f) => cell(s.values[f])), stateLabel(s), s.lastMetric === null ? "—" : s.lastMetric.toFixed(metric.digits)]);
  const header = ["#", ...fields, "status", `${metric.label} (last)`];
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const line = (r: string[]) => `  ${r.map((c, k) => (k === 0 || k === r.length - 1 ? c.padStart(widths[k]) : c.padEnd(widths[k]))).join("  ")}`;
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  console.log(`  ${statuses.length} sequences: ${[...counts].map(([k, n]) => `${n} ${k}`).join(", ")}`);
}

function printJson(spec: SweepSpec, dir: string, statuses: SequenceStatus[], extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ sweep: spec.name, command: spec.command, profile: spec.profile, dir, ...extra, sequences: statuses }, null, 2));
}

export async function sweepCommand(args: string[]): Promise<number> {
  const { values: v, positionals } = parseSweepArgs(args);
  if (v.help) {
    console.log(SWEEP_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "expected a sweep file (SWEEP.yaml or SWEEP.json)" : `expected one sweep file, got ${positionals.length}: ${positionals.join(" ")}`);
  const executor = v.executor ?? (v.resubmit ? "slurm" : "local");
  if (executor !== "local" && executor !== "slurm") throw new UsageError(`--executor: expected local or slurm, got ${JSON.stringify(executor)}`);
  if (v.resubmit && executor !== "slurm") throw new UsageError("--resubmit is for --executor slurm (the local executor always runs every unfinished sequence)");
  if (v.status && (v.resubmit || v["dry-run"])) throw new UsageError("--status only reports: give it without --resubmit and --dry-run");
  const parallel = v.parallel !== undefined ? num("parallel", v.parallel, true) : undefined;
  if (parallel !== undefined && parallel < 1) throw new UsageError(`--parallel: expected an integer ≥ 1, got ${parallel}`);

  const spec = readSweepFile(positionals[0]);
  const entries = expandSweep(spec); // every config checked before anything runs
  const cmd = sweepModality(spec.command);
  const store = v["runs-dir"] ? new RunStore(path.resolve(v["runs-dir"])) : RunStore.fromEnv();
  const dir = sweepDirOf(store, spec, entries);
  const jobIds = () => [...new Set(readJobs(dir).map((j) => j.jobId))];
  // Slurm is asked only about jobs this sweep submitted; without any, the store alone answers.
  const statusNow = () => {
    const ids = jobIds();
    return sweepStatus(cmd, entries, store, dir, ids.length ? schedulerStates(ids) : new Map());
  };

  if (v.status) {
    const statuses = statusNow();
    if (v.json) printJson(spec, dir, statuses);
    else {
      console.log(`sweep ${spec.name} · ${spec.command} · ${spec.profile} profile · ${dir}`);
      printTable(cmd, spec, statuses);
    }
    return 0;
  }

  if (executor === "local") return runLocal(cmd, spec, entries, store, dir, { parallel, dryRun: v["dry-run"] === true, json: v.json === true, backend: v.backend, statusNow });
  if (v.backend !== undefined) {
    // Not selected here (a login node may lack it): the tasks get it through the environment sbatch exports.
    if (!(BACKEND_NAMES as readonly string[]).includes(v.backend)) throw new UsageError(`--backend: expected one of ${BACKEND_NAMES.join(", ")}, got ${JSON.stringify(v.backend)}`);
    process.env[BACKEND_ENV_VAR] = v.backend;
  }
  return submitSlurm(cmd, spec, entries, store, dir, { resubmit: v.resubmit === true, dryRun: v["dry-run"] === true, json: v.json === true, statusNow });
}

async function runLocal(
  cmd: AnyModalitySpec,
  spec: SweepSpec,
  entries: SweepEntry[],
  store: RunStore,
  dir: string,
  o: { parallel?: number; dryRun: boolean; json: boolean; backend?: string; statusNow: () => SequenceStatus[] },
): Promise<number> {
  const before = o.statusNow();
  const todo = before.filter((s) => s.state !== "finished");
  if (o.dryRun) {
    console.log(`dry run: ${todo.length} of ${entries.length} sequences would run here${todo.length ? ` (${todo.map((s) => s.index).join(", ")})` : ""}; sweep directory ${dir}`);
    printTable(cmd, spec, before);
    return 0;
  }
  if (cmd.tensors) await applyBackendFlag(o.backend);
  ensureSweepDir(dir, manifestOf(spec, entries));
  console.error(`sweep ${spec.name}: ${todo.length} of ${entries.length} sequences to run (${entries.length - todo.length} finished) · ${dir}`);
  const started = performance.now();
  const metric = cmd.metrics[0];
  const { failed } = await runSweepLocal(cmd, entries, store, dir, {
    parallel: o.parallel,
    onFinished: (entry, r) => console.error(`finished ${entry.index} (${describeValues(entry.values)}): ${metric.label} ${r.metrics[metric.key]?.toFixed(metric.digits)} after ${r.iteration} iterations`),
  });
  for (const f of failed) console.error(`failed ${f.index} (${describeValues(entries[f.index].values)}): ${f.error}`);
  const after = o.statusNow();
  if (o.json) printJson(spec, dir, after, { seconds: (performance.now() - started) / 1000 });
  else {
    console.log(`\nsweep ${spec.name} · ${spec.command} · ${spec.profile} profile · ${formatSeconds((performance.now() - started) / 1000)}`);
    printTable(cmd, spec, after);
  }
  return after.every((s) => s.state === "finished") ? 0 : 1;
}

function submitSlurm(cmd: AnyModalitySpec, spec: SweepSpec, entries: SweepEntry[], store: RunStore, dir: string, o: { resubmit: boolean; dryRun: boolean; json: boolean; statusNow: () => SequenceStatus[] }): number {
  const statuses = o.statusNow();
  // Never twice: finished sequences are skipped, queued and running ones are left to their task, and
  // a plain run submits only sequences never submitted (--resubmit retries the failed ones).
  const submit = statuses.filter((s) => s.state !== "finished" && s.state !== "running" && s.state !== "queued" && (o.resubmit || s.task === null));
  const script: BatchScript = {
    sweepDir: dir,
    storeRoot: store.root,
    jobName: `collapse-${spec.name}`,
    slurm: spec.slurm,
    command: [process.execPath, path.join(packageRoot(), "bin", "collapse.js"), "sweep-task", dir],
    env: process.env[BACKEND_ENV_VAR] ? { [BACKEND_ENV_VAR]: process.env[BACKEND_ENV_VAR]! } : {},
  };
  if (o.dryRun) {
    console.log(`dry run: would submit ${submit.length} of ${entries.length} sequences${submit.length ? ` as sbatch --parsable --array=${arrayRanges(submit.map((s) => s.index))}${spec.slurm.maxConcurrent ? `%${spec.slurm.maxConcurrent}` : ""} ${path.join(dir, "job.sbatch")}` : ""}`);
    if (submit.length) console.log(`\n${batchScriptText(script)}`);
    printTable(cmd, spec, statuses);
    return 0;
  }
  if (submit.length === 0) {
    const left = statuses.filter((s) => s.state !== "finished");
    const failed = left.filter((s) => s.state === "failed" || s.state === "partial" || s.state === "pending").length;
    const active = left.length - failed;
    const parts = [...(active ? [`${active} queued or running`] : []), ...(failed ? [`${failed} unfinished after their task ended (submit them again with --resubmit)`] : [])];
    const msg = left.length === 0 ? "nothing to submit: every sequence is finished" : `nothing to submit: ${parts.join(", ")}`;
    if (o.json) printJson(spec, dir, statuses, { submitted: null, message: msg });
    else {
      console.log(msg);
      printTable(cmd, spec, statuses);
    }
    return 0;
  }
  if (!haveCommand("sbatch")) throw new UsageError("--executor slurm: sbatch is not on PATH (is this a Slurm login node? scripts/setup-slurm.sh starts a one-node cluster here)");
  ensureSweepDir(dir, manifestOf(spec, entries));
  const file = writeBatchScript(script);
  const indices = submit.map((s) => s.index);
  const { jobId, array } = submitArray(file, indices, spec.slurm.maxConcurrent);
  recordJob(dir, { jobId, indices, submittedAt: new Date().toISOString(), array });
  if (o.json) printJson(spec, dir, o.statusNow(), { submitted: { jobId, array, indices } });
  else {
    console.log(`submitted job ${jobId}: ${indices.length} of ${entries.length} sequences (--array=${array})`);
    console.log(`  script: ${file}\n  logs:   ${path.join(dir, "logs")}/${jobId}_<index>.out\n  follow: collapse sweep ${spec.file} --status${store.root !== RunStore.fromEnv().root ? ` --runs-dir ${store.root}` : ""}`);
  }
  return 0;
}

/** `collapse sweep-task DIR INDEX` (hidden): what each Slurm array task runs. */
export async function sweepTaskCommand(args: string[]): Promise<number> {
  const [dir, indexText, ...rest] = args;
  if (dir === undefined || indexText === undefined || rest.length > 0) throw new UsageError("usage: collapse sweep-task SWEEP_DIR INDEX (run by the batch script of collapse sweep --executor slurm)");
  const outcome = await runSweepTask(path.resolve(dir), num("index", indexText, true), RunStore.fromEnv());
  return outcome === "preempted" ? EXIT.interrupted : EXIT.ok;
}
