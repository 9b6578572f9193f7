/**
 * Child-process entry of runSequences: runs one sequence into the run store named by
 * $COLLAPSE_RUNS_DIR and reports its progress to the parent over IPC. One sequence per process, so
 * every sequence gets a core of its own (tfjs' wasm backend is single-threaded in Node).
 */
import { serializeError } from "../errors";
import { RunStore } from "../store/runStore";
import type { SequenceJob, SequenceMessage } from "./sequenceProtocol";
import { type SequenceConfig, specAt } from "./spec";
import { runSequence } from "./runSequence";

function send(message: SequenceMessage): void {
  process.send?.(message);
}

/** Exits once the last message has been handed to the parent. */
function finish(message: SequenceMessage, code: number): void {
  if (!process.send) process.exit(code);
  process.send(message, () => process.exit(code));
}

// An orphaned worker (the notebook kernel restarted) stops rather than training on for nobody.
process.on("disconnect", () => process.exit(130));

process.once("message", (job: SequenceJob) => {
  Promise.resolve()
    .then(() =>
      runSequence(specAt(job.entry), job.config as SequenceConfig, {
        store: RunStore.fromEnv(),
        checkpoints: job.checkpoints,
        fitCheckpoints: job.fitCheckpoints,
        onStatus: (message) => send({ type: "status", message }),
        onFitProgress: (iteration, step, metrics) => send({ type: "fit", iteration, step, metrics: { ...metrics } }),
        onIteration: (record) => send({ type: "iteration", record }),
      }),
    )
    .then(
      () => finish({ type: "done" }, 0),
      (e: unknown) => finish({ type: "error", error: serializeError(e) }, 1),
    );
});
