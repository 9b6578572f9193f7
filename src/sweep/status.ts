import * as fs from "node:fs";
import * as path from "node:path";
import type { IterationRecord } from "../collapse/loop";
import { Run, type RunStore } from "../store/runStore";
import type { AnyModalitySpec } from "../collapse/spec";
import { storedRunDir } from "../collapse/runSequence";
import { readSafetensorsMetadata } from "../nn/safetensors";
import { ACTIVE_STATES, FAILED_STATES, type TaskStates } from "./slurm";
import type { SweepEntry } from "./spec";
import { type SweepJob, lastTaskEvent, readJobs } from "./sweepDir";

/**
 * finished: the store holds all its iterations; partial: some; running / queued: a Slurm task has it
 * now; failed: its last task ended without finishing it; pending: nothing done, nothing submitted.
 */
export type SequenceState = "finished" | "partial" | "running" | "queued" | "failed" | "pending";

export interface SequenceStatus {
  index: number;
  values: Record<string, unknown>;
  state: SequenceState;
  /** Iterations the run store holds (at most the config's). */
  finishedIterations: number;
  iterations: number;
  /** The run directory of its results, null while none exists. */
  runDir: string | null;
  /** "<job>_<index>" of its latest Slurm task, if it was ever submitted. */
  task: string | null;
  /** What Slurm says of that task, when it still knows it. */
  schedulerState: string | null;
  /** Why its last task failed, when it said. */
  error: string | null;
  /** The value of the command's first metric at its last finished iteration. */
  lastMetric: number | null;
  /** A fit in progress, as its last mid-fit checkpoint holds it: the model and the steps it has done. */
  fit: { iteration: number; step: number } | null;
}

/** The fit a run's mid-fit checkpoint holds (the one a resumed run continues), or null. */
export function fitInProgress(runDir: string | null): { iteration: number; step: number } | null {
  if (!runDir || !fs.existsSync(path.join(runDir, "artifacts"))) return null;
  for (const name of fs.readdirSync(path.join(runDir, "artifacts"))) {
    const m = /^fit-(\d+)\.ckpt$/.exec(name);
    if (!m) continue;
    const fit = readSafetensorsMetadata(path.join(runDir, "artifacts", name))?.fit;
    const step = fit ? (JSON.parse(fit) as { step?: number }).step : undefined;
    if (typeof step === "number") return { iteration: Number(m[1]), step };
  }
  return null;
}

/** The records of a sequence's run, cut to its own iterations (a longer run may have extended it). */
export function entryRecords(cmd: AnyModalitySpec, store: RunStore, entry: SweepEntry): { runDir: string | null; records: IterationRecord[] } {
  const runDir = storedRunDir(cmd, store, entry.config);
  if (!runDir) return { runDir, records: [] };
  const iterations = entry.config.iterations;
  return { runDir, records: new Run(runDir, path.basename(runDir)).records<IterationRecord>().slice(0, iterations) };
}

/** The latest submission of each index: later jobs supersede earlier ones. */
export function latestTasks(jobs: readonly SweepJob[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const j of jobs) for (const i of j.indices) out.set(i, `${j.jobId}_${i}`);
  return out;
}

/**
 * Each sequence's state, from the run store (what is finished), the sweep directory (what was submitted,
 * what each task reported) and, where given, Slurm's task states (what is queued or running now).
 * `scheduler` null means Slurm could not be asked: a task that started and never reported an end is then
 * taken as still running.
 */
export function sweepStatus(cmd: AnyModalitySpec, entries: readonly SweepEntry[], store: RunStore, sweepDir: string | null, scheduler: TaskStates | null): SequenceStatus[] {
  const tasks = sweepDir ? latestTasks(readJobs(sweepDir)) : new Map<number, string>();
  const firstMetric = cmd.metrics[0].key;
  return entries.map((entry) => {
    const { runDir, records } = entryRecords(cmd, store, entry);
    const iterations = entry.config.iterations;
    const task = tasks.get(entry.index) ?? null;
    const schedulerState = task && scheduler ? (scheduler.get(task) ?? null) : null;
    const event = sweepDir ? lastTaskEvent(sweepDir, entry.index) : null;
    // A task's own event counts only for its latest submission (an older task's failure is history).
    const eventOfTask = event && (task === null || event.jobId === undefined || `${event.jobId}_${entry.index}` === task) ? event : null;
    const last = records[records.length - 1];
    const status: SequenceStatus = {
      index: entry.index,
      values: entry.values,
      state: "pending",
      finishedIterations: records.length,
      iterations,
      runDir,
      task,
      schedulerState,
      error: eventOfTask?.event === "failed" ? eventOfTask.error : null,
      lastMetric: last ? (last.metrics[firstMetric] ?? null) : null,
      fit: records.length < iterations ? fitInProgress(runDir) : null,
    };
    const gone = task !== null && scheduler !== null && (schedulerState === null || !ACTIVE_STATES.includes(schedulerState));
    if (records.length >= iterations) status.state = "finished";
    else if (schedulerState && ACTIVE_STATES.includes(schedulerState)) status.state = schedulerState === "PENDING" ? "queued" : "running";
    else if (eventOfTask?.event === "failed" || (schedulerState && FAILED_STATES.includes(schedulerState))) status.state = "failed";
    else if (eventOfTask?.event === "start" && scheduler === null) status.state = "running"; // no Slurm to ask: trust the task
    else if (eventOfTask?.event === "preempted") status.state = "partial"; // checkpointed; requeued, or --resubmit continues it
    else if (gone && eventOfTask?.event !== "done") {
      // Submitted, no longer queued or running, and no result: killed, out of memory, cancelled, node lost.
      status.state = "failed";
      status.error = eventOfTask?.event === "start" ? "its task stopped without reporting a result" : "its task ended without starting the sequence";
    } else if (records.length > 0) status.state = "partial";
    return status;
  });
}

/** "partial (1 of 2 iterations)": a state as the status table prints it. */
export function stateLabel(s: SequenceStatus): string {
  const fit = s.fit ? `; model ${s.fit.iteration} checkpointed at step ${s.fit.step}` : "";
  const progress = (s.finishedIterations > 0 && s.finishedIterations < s.iterations) || s.fit ? ` (${s.finishedIterations} of ${s.iterations} iterations${fit})` : "";
  switch (s.state) {
    case "finished":
      return "finished";
    case "running":
    case "queued":
      return `${s.state}${s.task ? ` (job ${s.task})` : ""}${progress}`;
    case "failed":
      return `failed${s.schedulerState && FAILED_STATES.includes(s.schedulerState) ? ` (${s.schedulerState})` : ""}${progress}`;
    default:
      return `${s.state}${progress}`;
  }
}
