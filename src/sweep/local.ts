import type { IterationRecord } from "../collapse/loop";
import { SequencesFailedError, runSequences } from "../collapse/sequences";
import { type AnyModalitySpec, storedIterations } from "../collapse/spec";
import type { RunStore } from "../store/runStore";
import type { SweepEntry } from "./spec";
import { recordTaskEvent } from "./sweepDir";

export interface LocalSweepOptions {
  /** Sequences at once (default: runSequences' own, one per core; 1 for the in-memory gaussian). */
  parallel?: number;
  /** Called once per sequence when its last iteration is in the store. */
  onFinished?: (entry: SweepEntry, record: IterationRecord) => void;
  onStatus?: (entry: SweepEntry, message: string) => void;
}

/**
 * Runs the sweep's unfinished sequences here, through runSequences (worker processes, finished
 * sequences skipped, partial ones resumed). A sequence that fails does not stop the others; its error
 * is recorded in the sweep directory (tasks/<i>.jsonl) and returned.
 */
export async function runSweepLocal(cmd: AnyModalitySpec, entries: readonly SweepEntry[], store: RunStore, sweepDir: string, opts: LocalSweepOptions = {}): Promise<{ ran: number; failed: { index: number; error: string }[] }> {
  const unfinished = (e: SweepEntry) => storedIterations(cmd, store, e.config) < e.config.iterations;
  const pending = entries.filter(unfinished);
  if (pending.length === 0) return { ran: 0, failed: [] };
  const reported = new Set<number>();
  const seqOpts = (batch: readonly SweepEntry[], parallel: number | undefined) => ({
    store,
    parallel,
    onIteration: (i: number, record: IterationRecord) => {
      const entry = batch[i];
      // runSequences reads every sequence back once all are done: report each one once.
      if (record.iteration === entry.config.iterations && !reported.has(entry.index)) {
        reported.add(entry.index);
        opts.onFinished?.(entry, record);
      }
    },
    onStatus: (i: number, message: string) => opts.onStatus?.(batch[i], message),
  });
  const configs = (batch: readonly SweepEntry[]) => batch.map((e) => e.config);
  const failed: { index: number; error: string }[] = [];
  const parallel = opts.parallel ?? (cmd.tensors ? undefined : 1);
  if (parallel === 1) {
    // One at a time, here: each on its own, so that one failing does not stop the rest.
    for (const entry of pending) {
      try {
        await runSequences(cmd, configs([entry]), seqOpts([entry], 1));
      } catch (e) {
        failed.push({ index: entry.index, error: (e as Error).message });
      }
    }
  } else {
    try {
      await runSequences(cmd, configs(pending), seqOpts(pending, parallel));
    } catch (e) {
      // In workers, each failure comes as data, indexed by its position in `pending`.
      if (e instanceof SequencesFailedError) {
        for (const f of e.failures) failed.push({ index: pending[f.index].index, error: f.error.message });
      } else {
        // Run here instead (one core, a GPU), in order, stopping at the first error: the first
        // unfinished sequence is the one that failed.
        const first = pending.find(unfinished);
        if (!first) throw e;
        failed.push({ index: first.index, error: (e as Error).message });
      }
    }
  }
  for (const f of failed) recordTaskEvent(sweepDir, f.index, { event: "failed", at: new Date().toISOString(), error: f.error.split("\n")[0] });
  return { ran: pending.length, failed };
}
