import type { IterationRecord } from "../collapse/loop";
import { InterruptedError } from "../interrupt";
import { SequencesFailedError, runSequences } from "../collapse/sequences";
import { type AnyModalitySpec } from "../collapse/spec";
import { storedIterations } from "../collapse/runSequence";
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
  const options = {
    store,
    parallel: opts.parallel ?? (cmd.tensors ? undefined : 1),
    onIteration: (i: number, record: IterationRecord) => {
      if (record.iteration === pending[i].config.iterations) opts.onFinished?.(pending[i], record);
    },
    onStatus: (i: number, message: string) => opts.onStatus?.(pending[i], message),
  };
  const failed: { index: number; error: string }[] = [];
  try {
    await runSequences(cmd, pending.map((e) => e.config), options);
  } catch (e) {
    // Each failure comes as data, indexed by its position in `pending`; one sequence alone fails as itself.
    if (e instanceof SequencesFailedError) for (const f of e.failures) failed.push({ index: pending[f.index].index, error: f.error.message });
    else if (pending.length === 1 && !(e instanceof InterruptedError)) failed.push({ index: pending[0].index, error: (e as Error).message });
    else throw e;
  }
  for (const f of failed) recordTaskEvent(sweepDir, f.index, { event: "failed", at: new Date().toISOString(), error: f.error.split("\n")[0] });
  return { ran: pending.length, failed };
}
