/**
 * Child-process entry of runSequences: runs one sequence into the run store named by
 * $COLLAPSE_RUNS_DIR and reports its progress to the parent over IPC. One sequence per process, so
 * every sequence gets a core of its own (tfjs' wasm backend is single-threaded in Node).
 */
import type { IterationRecord } from "../collapse/loop";
import { type SerializedError, serializeError } from "../errors";
import { RunStore } from "../store/runStore";
import type { SequenceKind, SequenceKindName } from "./sequences";

export interface SequenceJob {
  kind: SequenceKindName;
  config: unknown;
  checkpoints?: boolean;
}

export type SequenceMessage =
  | { type: "status"; message: string }
  | { type: "fit"; iteration: number; step: number; metrics: Record<string, number> }
  | { type: "iteration"; record: IterationRecord }
  | { type: "done" }
  | { type: "error"; error: SerializedError };

/** The runner of each kind, loaded only when a job of that kind arrives. */
function kindOf(name: SequenceKindName): SequenceKind<{ iterations: number }, unknown> {
  switch (name) {
    case "lm":
      return require("./lmSequences").LM_SEQUENCES;
    case "molecules":
      return require("./molecules").MOLECULE_SEQUENCES;
    case "vae":
      return require("./vae").VAE_SEQUENCES;
  }
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
      kindOf(job.kind).run(job.config as { iterations: number }, {
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
