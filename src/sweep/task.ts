import { spawnSync } from "node:child_process";
import * as os from "node:os";
import { InterruptedError } from "../interrupt";
import { DataError } from "../errors";
import { storedRunDir } from "../collapse/runSequence";
import { runSequences } from "../collapse/sequences";
import type { RunStore } from "../store/runStore";
import { sweepModality } from "./commands";
import { describeValues } from "./spec";
import { fitInProgress } from "./status";
import { loadManifest, recordTaskEvent } from "./sweepDir";

/**
 * One Slurm array task: runs sequence `index` of the sweep in `sweepDir` into `store` (finished: read
 * back; partial: resumed), reporting start and end in the sweep directory so that `--status` can tell a
 * task that failed from one that is still running. Slurm's warning signal before the time limit
 * (`--signal=B:USR1@…`, which the sweep's batch script asks for) or a SIGTERM stops the fit at its next
 * step with a checkpoint; the task is then requeued (`requeue`), so that the next start continues it.
 */
export async function runSweepTask(sweepDir: string, index: number, store: RunStore, log: (line: string) => void = console.log, requeue: () => void = requeueThisTask): Promise<"done" | "preempted"> {
  const manifest = loadManifest(sweepDir);
  const entry = manifest.entries[index];
  if (!entry || entry.index !== index) throw new DataError(sweepDir, `the sweep has no sequence ${index} (it has 0–${manifest.entries.length - 1})`);
  const cmd = sweepModality(entry.command);
  const jobId = process.env.SLURM_ARRAY_JOB_ID;
  const at = () => new Date().toISOString();
  const stop = new AbortController();
  let received: string | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) return;
    received = signal;
    log(`${signal}: stopping at the fit's next step, with a checkpoint`);
    stop.abort();
  };
  const signals: NodeJS.Signals[] = ["SIGUSR1", "SIGTERM"];
  for (const s of signals) process.on(s, onSignal);
  recordTaskEvent(sweepDir, index, { event: "start", at: at(), jobId, host: os.hostname() });
  log(`sweep ${manifest.name}: sequence ${index} (${describeValues(entry.values)}) → ${store.root}`);
  // Where a fit stood (its mid-fit checkpoint), for the log: before a start, what it continues from; after a stop, what it kept.
  const fitNow = () => {
    try {
      return fitInProgress(storedRunDir(cmd, store, entry.config));
    } catch {
      return null; // an unreadable checkpoint is the fit's to report
    }
  };
  const resumed = fitNow();
  if (resumed) log(`model ${resumed.iteration}: its fit continues from the checkpoint at step ${resumed.step}`);
  // The first step each fit reports here: a resumed fit's shows that it did not start over.
  const fitting = new Set<number>();
  try {
    await runSequences(cmd, [entry.config], {
      store,
      parallel: 1,
      signal: stop.signal,
      onStatus: (_, m) => log(m),
      onFitProgress: (_, n, step) => {
        if (fitting.has(n)) return;
        fitting.add(n);
        log(`model ${n}: fitting, at step ${step}`);
      },
      onIteration: (_, r) => log(`model ${r.iteration}/${entry.config.iterations}: ${cmd.metrics[0].label} ${r.metrics[cmd.metrics[0].key]}`),
    });
  } catch (e) {
    if (received && e instanceof InterruptedError) {
      recordTaskEvent(sweepDir, index, { event: "preempted", at: at(), jobId, signal: received });
      const kept = fitNow();
      log(`sequence ${index} stopped by ${received}; its finished models and the fit's checkpoint${kept ? ` (model ${kept.iteration} at step ${kept.step})` : ""} are kept; requeueing`);
      requeue();
      return "preempted";
    }
    recordTaskEvent(sweepDir, index, { event: "failed", at: at(), jobId, error: (e as Error).message.split("\n")[0] });
    throw e;
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
  recordTaskEvent(sweepDir, index, { event: "done", at: at(), jobId });
  log(`sequence ${index} finished`);
  return "done";
}

/** `scontrol requeue` of this array task (it then starts again from the top, and resumes). */
function requeueThisTask(): void {
  const job = process.env.SLURM_ARRAY_JOB_ID;
  const task = process.env.SLURM_ARRAY_TASK_ID;
  if (!job || !task) return; // not under Slurm: `collapse sweep --resubmit` continues it
  const r = spawnSync("scontrol", ["requeue", `${job}_${task}`], { encoding: "utf8", timeout: 30_000 });
  if (r.error || r.status !== 0) console.error(`scontrol requeue ${job}_${task} failed (${r.error?.message ?? (r.stderr || r.stdout).trim()}); \`collapse sweep --resubmit\` continues the sequence`);
}
