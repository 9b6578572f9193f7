/**
 * Child-process entry of runSequences: runs one sequence into the run store named by
 * $COLLAPSE_RUNS_DIR and reports its progress to the parent over IPC. One sequence per process, so
 * every sequence gets a core of its own (tfjs' wasm backend is single-threaded in Node).
 */
import { serializeError } from "../errors";
import { RunStore } from "../store/runStore";
import type { SequenceJob, SequenceMessage } from "./sequenceProtocol";
import type { SequenceKind } from "./sequences";

/** The kind a job names, loaded from its module: any module that exports a SequenceKind. */
function kindOf(job: SequenceJob): SequenceKind<{ iterations: number }, unknown> {
  const kind = require(job.entry.module)[job.entry.exportName] as SequenceKind<{ iterations: number }, unknown> | undefined;
  if (!kind || typeof kind.run !== "function") throw new Error(`${job.entry.module} exports no sequence kind named ${job.entry.exportName}`);
  return kind;
}

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
      kindOf(job).run(job.config as { iterations: number }, {
        store: RunStore.fromEnv(),
        checkpoints: job.checkpoints,
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
