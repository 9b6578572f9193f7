/**
 * Child-process entry of runLmSequences: runs one sequence into the run store named by
 * $COLLAPSE_RUNS_DIR and reports its progress to the parent over IPC. One sequence per process, so
 * every sequence gets a core of its own (tfjs' wasm backend is single-threaded in Node).
 */
import { ConfigError, DataError } from "../errors";
import { RunStore } from "../store/runStore";
import { type LmSequenceConfig, runLmSequence } from "./languageModels";

export interface WorkerJob {
  config: LmSequenceConfig;
  checkpoints?: boolean;
}

export type WorkerMessage =
  | { type: "status"; message: string }
  | { type: "fit"; iteration: number; step: number; metrics: Record<string, number> }
  | { type: "iteration"; record: import("../collapse/loop").IterationRecord }
  | { type: "done" }
  | { type: "error"; name: string; message: string; field?: string; path?: string };

function send(message: WorkerMessage): void {
  process.send?.(message);
}

/** Exits once the last message has been handed to the parent. */
function finish(message: WorkerMessage, code: number): void {
  if (!process.send) process.exit(code);
  process.send(message, () => process.exit(code));
}

// An orphaned worker (the notebook kernel restarted) stops rather than training on for nobody.
process.on("disconnect", () => process.exit(130));

process.once("message", (job: WorkerJob) => {
  runLmSequence(job.config, {
    store: RunStore.fromEnv(),
    checkpoints: job.checkpoints,
    onStatus: (message) => send({ type: "status", message }),
    onFitProgress: (iteration, step, metrics) => send({ type: "fit", iteration, step, metrics: { ...metrics } }),
    onIteration: (record) => send({ type: "iteration", record }),
  }).then(
    () => finish({ type: "done" }, 0),
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      const detail = { ...(err instanceof ConfigError ? { field: err.field } : {}), ...(err instanceof DataError ? { path: err.path } : {}) };
      finish({ type: "error", name: err.name, message: err.message, ...detail }, 1);
    },
  );
});
