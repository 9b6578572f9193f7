import * as os from "node:os";
import { DataError } from "../errors";
import { runSequences } from "../collapse/sequences";
import type { RunStore } from "../store/runStore";
import { sweepModality } from "./commands";
import { describeValues } from "./spec";
import { loadManifest, recordTaskEvent } from "./sweepDir";

/**
 * One Slurm array task: runs sequence `index` of the sweep in `sweepDir` into `store` (finished: read
 * back; partial: resumed), reporting start and end in the sweep directory so that `--status` can tell a
 * task that failed from one that is still running.
 */
export async function runSweepTask(sweepDir: string, index: number, store: RunStore, log: (line: string) => void = console.log): Promise<void> {
  const manifest = loadManifest(sweepDir);
  const entry = manifest.entries[index];
  if (!entry || entry.index !== index) throw new DataError(sweepDir, `the sweep has no sequence ${index} (it has 0–${manifest.entries.length - 1})`);
  const cmd = sweepModality(entry.command);
  const jobId = process.env.SLURM_ARRAY_JOB_ID;
  const at = () => new Date().toISOString();
  recordTaskEvent(sweepDir, index, { event: "start", at: at(), jobId, host: os.hostname() });
  log(`sweep ${manifest.name}: sequence ${index} (${describeValues(entry.values)}) → ${store.root}`);
  try {
    await runSequences(cmd, [entry.config], {
      store,
      parallel: 1,
      onStatus: (_, m) => log(m),
      onIteration: (_, r) => log(`model ${r.iteration}/${entry.config.iterations}: ${cmd.metrics[0].label} ${r.metrics[cmd.metrics[0].key]}`),
    });
  } catch (e) {
    recordTaskEvent(sweepDir, index, { event: "failed", at: at(), jobId, error: (e as Error).message.split("\n")[0] });
    throw e;
  }
  recordTaskEvent(sweepDir, index, { event: "done", at: at(), jobId });
  log(`sequence ${index} finished`);
}
