import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { writeFileAtomic } from "../store/runStore";
import type { SlurmOptions } from "./spec";

// Talking to Slurm: the batch script of a sweep's job array, sbatch, and the states squeue and sacct
// report. Every call is a plain command line, so that any Slurm from 20.11 on works unchanged.

/** "0-2,5,7-8": sorted indices as sbatch's --array list. */
export function arrayRanges(indices: readonly number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** The indices of an --array list ("0-2,5" → 0, 1, 2, 5; a "%N" suffix is ignored). */
export function parseArrayRanges(text: string): number[] {
  const out: number[] = [];
  for (const part of text.replace(/%\d+$/, "").split(",")) {
    const m = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const [from, to, step] = [Number(m[1]), Number(m[2] ?? m[1]), Number(m[3] ?? 1)];
    for (let k = from; k <= to; k += step) out.push(k);
  }
  return out;
}

/** A shell word that the shell reads back as exactly `s`. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface BatchScript {
  sweepDir: string;
  storeRoot: string;
  jobName: string;
  slurm: SlurmOptions;
  /** The command a task runs, before its array index: node, the kit's CLI, `sweep-task <dir>`. */
  command: string[];
  /** More variables the tasks need whatever the cluster's sbatch exports (e.g. COLLAPSE_BACKEND). */
  env?: Record<string, string>;
}

/** Seconds before the time limit Slurm warns a task (slurm.signalSeconds): about one fit step of margin at paper sizes. */
export const DEFAULT_SIGNAL_SECONDS = 180;

/** The #SBATCH lines of a sweep's options (the array itself is given on sbatch's command line). */
export function sbatchOptions(o: BatchScript): string[] {
  const s = o.slurm;
  return [
    `--job-name=${o.jobName}`,
    // stdout and stderr of each task in one file, named by array job and task: logs/<job>_<index>.out
    `--output=${path.join(o.sweepDir, "logs", "%A_%a.out")}`,
    // A requeued task keeps its job and log file: append, so that the log of the run it continues
    // (what stopped it, where its fit was checkpointed) is not truncated away by the next start.
    "--open-mode=append",
    ...(s.partition !== undefined ? [`--partition=${s.partition}`] : []),
    ...(s.time !== undefined ? [`--time=${s.time}`] : []),
    ...(s.cpusPerTask !== undefined ? [`--cpus-per-task=${s.cpusPerTask}`] : []),
    ...(s.gpusPerTask !== undefined && s.gpusPerTask > 0 ? [`--gpus-per-task=${s.gpusPerTask}`] : []),
    ...(s.mem !== undefined ? [`--mem=${s.mem}`] : []),
    // Before the time limit (or a preemption), USR1 to the task, which checkpoints its fit and requeues itself.
    `--signal=B:USR1@${s.signalSeconds ?? DEFAULT_SIGNAL_SECONDS}`,
    "--requeue",
    ...(s.extraArgs ?? []),
  ];
}

export function batchScriptText(o: BatchScript): string {
  return [
    "#!/bin/bash",
    "# Written by `collapse sweep --executor slurm`: one array task per sequence of the sweep in",
    `# ${o.sweepDir}; each runs its sequence into the run store below (a finished one is read back).`,
    ...sbatchOptions(o).map((a) => `#SBATCH ${a}`),
    "set -euo pipefail",
    `export COLLAPSE_RUNS_DIR=${shellQuote(o.storeRoot)}`,
    ...Object.entries(o.env ?? {}).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    `exec ${o.command.map(shellQuote).join(" ")} "$SLURM_ARRAY_TASK_ID"`,
    "",
  ].join("\n");
}

export function writeBatchScript(o: BatchScript): string {
  const file = path.join(o.sweepDir, "job.sbatch");
  writeFileAtomic(file, batchScriptText(o));
  return file;
}

/** Whether `name` runs (it is on PATH). */
export function haveCommand(name: string): boolean {
  const r = spawnSync(name, ["--version"], { encoding: "utf8", timeout: 15_000 });
  return !r.error;
}

/** Submits `script` as one job array over `indices`; returns the array's job id. */
export function submitArray(script: string, indices: readonly number[], maxConcurrent?: number): { jobId: string; array: string } {
  const array = arrayRanges(indices) + (maxConcurrent !== undefined ? `%${maxConcurrent}` : "");
  const r = spawnSync("sbatch", ["--parsable", `--array=${array}`, script], { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw new Error(`sbatch could not be run: ${(r.error as NodeJS.ErrnoException).code === "ENOENT" ? "not on PATH (is Slurm installed here? see scripts/setup-slurm.sh)" : r.error.message}`);
  if (r.status !== 0) throw new Error(`sbatch failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
  // --parsable prints "<jobid>" or "<jobid>;<cluster>".
  const jobId = r.stdout.trim().split(";")[0];
  if (!/^\d+$/.test(jobId)) throw new Error(`sbatch printed no job id: ${JSON.stringify(r.stdout.trim())}`);
  return { jobId, array };
}

/** Slurm's state of each array task ("<job>_<index>" → RUNNING, PENDING, COMPLETED, FAILED, ...). */
export type TaskStates = Map<string, string>;

/**
 * What squeue (recent jobs, all states) and sacct (older ones, where accounting is on) know of these
 * array jobs' tasks; null when neither can be asked (no Slurm here, or the controller does not answer).
 */
export function schedulerStates(jobIds: readonly string[]): TaskStates | null {
  if (jobIds.length === 0) return new Map();
  const states: TaskStates = new Map();
  // %i is "<array job>_<task>" (with -r one line per task; "<job>_[3-5]" if a version still folds them).
  const squeue = spawnSync("squeue", ["-h", "-r", "--states=all", `--jobs=${jobIds.join(",")}`, "-o", "%i|%T"], { encoding: "utf8", timeout: 30_000 });
  // squeue rejects a list in which no job is known any more: that is an answer too (all are gone).
  const squeueAnswered = !squeue.error && (squeue.status === 0 || /invalid job id/i.test(squeue.stderr));
  if (squeueAnswered && squeue.status === 0) addStates(states, squeue.stdout);
  // sacct: final states of jobs squeue has forgotten. Without accounting it fails; squeue's answer stands.
  const sacct = spawnSync("sacct", ["-n", "-P", "-X", `--jobs=${jobIds.join(",")}`, "-o", "JobID,State"], { encoding: "utf8", timeout: 30_000 });
  const sacctAnswered = !sacct.error && sacct.status === 0;
  if (sacctAnswered) addStates(states, sacct.stdout);
  return squeueAnswered || sacctAnswered ? states : null;
}

/** "<job>_<task>|STATE" lines into `states` (a state already known, from squeue, wins). */
function addStates(states: TaskStates, text: string): void {
  for (const line of text.split("\n")) {
    const [id, stateText] = line.trim().split("|");
    const m = /^(\d+)_(\d+|\[[^\]]+\])$/.exec(id ?? "");
    if (!m || !stateText) continue;
    const state = stateText.split(" ")[0]; // sacct's "CANCELLED by 0"
    const tasks = m[2].startsWith("[") ? parseArrayRanges(m[2].slice(1, -1)) : [Number(m[2])];
    for (const t of tasks) if (!states.has(`${m[1]}_${t}`)) states.set(`${m[1]}_${t}`, state);
  }
}

/** Slurm states of a task that is queued or on a node now. */
export const ACTIVE_STATES = ["PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "STAGE_OUT", "SIGNALING"];
/** Slurm states of a task that ended without finishing its work. */
export const FAILED_STATES = ["FAILED", "TIMEOUT", "CANCELLED", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED"];
