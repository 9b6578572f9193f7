import type { IterationRecord } from "../collapse/loop";
import { runSequences } from "../experiments/sequences";
import type { RunStore } from "../store/runStore";
import type { SweepCommand } from "./commands";
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
export async function runSweepLocal(cmd: SweepCommand, entries: readonly SweepEntry[], store: RunStore, sweepDir: string, opts: LocalSweepOptions = {}): Promise<{ ran: number; failed: { index: number; error: string }[] }> {
  const pending = entries.filter((e) => cmd.kind.finishedIterations(store, e.config) < (e.config.iterations as number));
  if (pending.length === 0) return { ran: 0, failed: [] };
  const reported = new Set<number>();
  try {
    await runSequences(cmd.kind, pending.map((e) => e.config as { iterations: number }), {
      store,
      parallel: opts.parallel ?? (cmd.command.tensors ? undefined : 1),
      onIteration: (i, record) => {
        const entry = pending[i];
        // runSequences reads every sequence back once all are done: report each one once.
        if (record.iteration === entry.config.iterations && !reported.has(entry.index)) {
          reported.add(entry.index);
          opts.onFinished?.(entry, record);
        }
      },
      onStatus: (i, message) => opts.onStatus?.(pending[i], message),
    });
    return { ran: pending.length, failed: [] };
  } catch (e) {
    // runSequences names each failed sequence by its position in `pending`: "sequence <i> (...): why".
    const message = (e as Error).message;
    const failed: { index: number; error: string }[] = [];
    for (const line of message.split("\n")) {
      const m = /^sequence (\d+) \(.*?\): (.*)$/.exec(line);
      if (m && pending[Number(m[1])]) failed.push({ index: pending[Number(m[1])].index, error: m[2] });
    }
    // A single sequence runs in this process and rejects with its own error.
    if (failed.length === 0) {
      const unfinished = pending.filter((p) => cmd.kind.finishedIterations(store, p.config) < (p.config.iterations as number));
      if (unfinished.length !== 1) throw e;
      failed.push({ index: unfinished[0].index, error: message });
    }
    for (const f of failed) recordTaskEvent(sweepDir, f.index, { event: "failed", at: new Date().toISOString(), error: f.error });
    return { ran: pending.length, failed };
  }
}
