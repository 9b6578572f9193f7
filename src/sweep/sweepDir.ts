import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../errors";
import { type RunStore, canonicalJson, writeFileAtomic } from "../store/runStore";
import { type SweepEntry, type SweepSpec, sweepHash } from "./spec";

/**
 * A sweep's directory in the run store, <runs>/sweeps/<name>-<hash>/ (the hash of its command and
 * expanded configs, so the same sweep file finds the same directory and an edited one gets its own):
 *   sweep.json      the expanded sequences, written once, atomically
 *   jobs.jsonl      one line per Slurm submission (job id, array indices), appended
 *   tasks/<i>.jsonl what the task running sequence i reported (start, done, failed), appended
 *   logs/           the Slurm tasks' output, %A_%a.out
 *   job.sbatch      the batch script of the latest submission
 * The results themselves are ordinary runs in the store, keyed like `collapse <command>`'s.
 */
export interface SweepManifest {
  format: 1;
  name: string;
  command: SweepEntry["command"];
  profile: string;
  /** The sweep file it was expanded from (absolute). */
  source: string;
  hash: string;
  entries: SweepEntry[];
}

export interface SweepJob {
  jobId: string;
  indices: number[];
  submittedAt: string;
  /** The --array argument given to sbatch. */
  array: string;
}

export type TaskEvent =
  | { event: "start"; at: string; jobId?: string; host?: string }
  | { event: "done"; at: string; jobId?: string }
  | { event: "failed"; at: string; jobId?: string; error: string }
  /** Stopped by Slurm's warning signal (time limit, preemption) after checkpointing its fit, and requeued. */
  | { event: "preempted"; at: string; jobId?: string; signal: string };

export const SWEEP_FILE = "sweep.json";

export function sweepDirOf(store: RunStore, spec: SweepSpec, entries: readonly SweepEntry[]): string {
  return path.join(store.root, "sweeps", `${spec.name}-${sweepHash(spec.command, entries)}`);
}

export function manifestOf(spec: SweepSpec, entries: SweepEntry[]): SweepManifest {
  return { format: 1, name: spec.name, command: spec.command, profile: spec.profile, source: path.resolve(spec.file), hash: sweepHash(spec.command, entries), entries };
}

/** Creates the sweep's directory and sweep.json, or finds them (a sweep.json that disagrees is an error, never overwritten). */
export function ensureSweepDir(dir: string, manifest: SweepManifest): void {
  const file = path.join(dir, SWEEP_FILE);
  if (fs.existsSync(file)) {
    const stored = loadManifest(dir);
    if (canonicalJson(stored.entries) !== canonicalJson(manifest.entries)) throw new DataError(file, "holds other sequences than this sweep expands to; move the directory away");
    return;
  }
  fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
  writeFileAtomic(file, JSON.stringify(manifest, null, 2) + "\n");
}

/** The sweep.json of a sweep directory. */
export function loadManifest(dir: string): SweepManifest {
  const file = path.join(dir, SWEEP_FILE);
  let value: SweepManifest;
  try {
    value = JSON.parse(fs.readFileSync(file, "utf8")) as SweepManifest;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(file, code === "ENOENT" ? "not found: not a sweep directory" : `cannot be read as JSON (${(e as Error).message})`);
  }
  if (value.format !== 1 || !Array.isArray(value.entries)) throw new DataError(file, "is not a sweep manifest of format 1");
  return value;
}

/** The JSON lines of an append-only file; a torn last line (a crash mid-append) is ignored. */
function readJsonLines<T>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, "utf8");
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((l) => l.length > 0)
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as T];
      } catch {
        return []; // a line another writer tore; the next event supersedes it
      }
    });
}

/** One line appended whole (O_APPEND: concurrent writers' lines do not interleave) and synced. */
function appendJsonLine(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, "a");
  try {
    fs.writeSync(fd, JSON.stringify(value) + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function recordJob(dir: string, job: SweepJob): void {
  appendJsonLine(path.join(dir, "jobs.jsonl"), job);
}

export function readJobs(dir: string): SweepJob[] {
  return readJsonLines<SweepJob>(path.join(dir, "jobs.jsonl"));
}

export function recordTaskEvent(dir: string, index: number, event: TaskEvent): void {
  appendJsonLine(path.join(dir, "tasks", `${index}.jsonl`), event);
}

/** The last thing the task of sequence `index` reported, or null if no task ever started. */
export function lastTaskEvent(dir: string, index: number): TaskEvent | null {
  const events = readJsonLines<TaskEvent>(path.join(dir, "tasks", `${index}.jsonl`));
  return events.length ? events[events.length - 1] : null;
}
