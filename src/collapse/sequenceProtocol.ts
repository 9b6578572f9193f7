import type { FitCheckpointInterval, IterationRecord } from "../collapse/loop";
import type { SerializedError } from "../errors";

/**
 * The messages between runSequences (sequences.ts) and its worker processes (sequenceWorker.ts), in
 * one module that both import, so neither imports the other.
 */

/** Where a worker finds a modality spec: a module file (the spec's own `__filename`) and its export. */
export interface SequenceEntry {
  module: string;
  exportName: string;
}

/** Parent → worker: the one sequence this process runs. */
export interface SequenceJob {
  entry: SequenceEntry;
  config: unknown;
  checkpoints?: boolean;
  fitCheckpoints?: FitCheckpointInterval;
}

/** Worker → parent. */
export type SequenceMessage =
  | { type: "status"; message: string }
  | { type: "fit"; iteration: number; step: number; metrics: Record<string, number> }
  | { type: "iteration"; record: IterationRecord }
  | { type: "done" }
  | { type: "error"; error: SerializedError };
