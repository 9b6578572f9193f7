import { spawnSync } from "node:child_process";
import * as os from "node:os";
import { InterruptedError } from "../interrupt";
import { DataError } from "../errors";
import { runSequences } from "../collapse/sequences";
import type { RunStore } from "../store/runStore";
import { sweepModality } from "./commands";
import { describeValues } from "./spec";
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
  try {
    await runSequences(cmd, [entry.config], {
      store,
      parallel: 1,
      signal: stop.signal,
      onStatus: (_, m) => log(m),
      onIteration: (_, r) => log(`model ${r.iteration}/${entry.config.iterations}: ${cmd.metrics[0].label} ${r.metrics[cmd.metrics[0].key]}`),
    });
  } catch (e) {
    if (received && e instanceof InterruptedError) {
      recordTaskEvent(sweepDir, index, { event: "preempted", at: at(), jobId, signal: received });
      log(`sequence ${index} stopped by ${received}; its finished models and the fit's checkpoint are kept; requeueing`);
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
