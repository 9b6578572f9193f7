import { type ChildProcess, fork } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, DataError, deserializeError } from "../errors";
import { InterruptedError, interruptible, throwIfInterrupted } from "../interrupt";
import type { RunStore } from "../store/runStore";
import type { FitCheckpointInterval, IterationRecord } from "./loop";
import type { SequenceEntry, SequenceJob, SequenceMessage } from "./sequenceProtocol";
import { type ModalitySpec, type SequenceConfig, type SequenceResult, checkSequence } from "./spec";
import { type StoreKeyed, readSequence, runSequence, storedIterations } from "./runSequence";

export interface SequencesOptions {
  /** Where the sequences are kept; running in parallel needs one (the workers write their results there). */
  store: RunStore | null;
  /**
   * Sequences trained at once, each in a process of its own. Default: one per CPU core (each process
   * runs one thread, on every backend); 1 on a GPU, which one TensorFlow process claims whole. 1 runs
   * them here, one after another.
   */
  parallel?: number;
  /** `index` is the sequence's position in the list given to runSequences. */
  onIteration?: (index: number, record: IterationRecord) => void;
  onFitProgress?: (index: number, iteration: number, step: number, metrics: Readonly<Record<string, number>>) => void;
  onStatus?: (index: number, message: string) => void;
  checkpoints?: boolean;
  /** How often fits write mid-fit checkpoints (see SequenceRunOptions). */
  fitCheckpoints?: FitCheckpointInterval;
  /**
   * Stops every sequence (workers are killed, none is started after it) and rejects with an
   * InterruptedError; finished iterations stay in the store, so the same call resumes. Kernel >
   * Interrupt in a kit notebook aborts it too (see interrupt.ts).
   */
  signal?: AbortSignal;
}

/** Model fits the store already holds for these sequences (what a progress bar starts at). */
export function storedFits<C extends SequenceConfig>(spec: StoreKeyed<C>, configs: readonly C[], store: RunStore | null): number {
  return store ? configs.reduce((s, c) => s + Math.min(c.iterations, storedIterations(spec, store, c)), 0) : 0;
}

/**
 * The default number of sequences trained at once: one per core, each process single-threaded (wasm
 * always is; the kit runs TensorFlow with one intra-op thread, see backend.ts), which does more work
 * than one process on every core (the README's Benchmarks). On a GPU one at a time: TensorFlow gives
 * each process all its memory.
 */
export function defaultParallelism(backend: { name: string; gpu?: boolean }): number {
  return backend.gpu ? 1 : Math.max(1, os.availableParallelism());
}

/**
 * Runs many sequences of one kind, several at once, and returns their results in the order given.
 * Finished sequences are read back from the store; the others are spread over worker processes, longest
 * first. If a sequence fails, the others still run; the call then rejects naming every failed sequence.
 */
export async function runSequences<C extends SequenceConfig, R extends SequenceResult<C>, L, F, X>(spec: ModalitySpec<C, R, L, F, X>, configs: readonly C[], opts: SequencesOptions): Promise<R[]> {
  return interruptible(opts.signal, (signal) => sequencesIn(spec, configs, opts, signal));
}

async function sequencesIn<C extends SequenceConfig, R extends SequenceResult<C>, L, F, X>(spec: ModalitySpec<C, R, L, F, X>, configs: readonly C[], opts: SequencesOptions, signal: AbortSignal): Promise<R[]> {
  configs.forEach((c, i) => {
    try {
      checkSequence(spec, c);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`sequences[${i}].${e.field}`, e.detail);
      if (e instanceof DataError) throw new DataError(e.path, `sequence ${i}: ${e.detail}`);
      throw e;
    }
  });
  const store = opts.store;
  const { selectBackend } = await import("../backend");
  const parallel = opts.parallel ?? defaultParallelism(await selectBackend());
  if (!Number.isInteger(parallel) || parallel < 1) throw new ConfigError("parallel", `expected an integer ≥ 1, got ${parallel}`);
  const results: (R | undefined)[] = new Array(configs.length);
  // Here, in order: what the store holds is read back, the rest runs in this process.
  const runHere = async (i: number) => {
    results[i] = await runSequence(spec, configs[i], {
      store,
      checkpoints: opts.checkpoints,
      fitCheckpoints: opts.fitCheckpoints,
      signal,
      onIteration: (r) => opts.onIteration?.(i, r),
      onFitProgress: (n, step, m) => opts.onFitProgress?.(i, n, step, m),
      onStatus: (m) => opts.onStatus?.(i, m),
    });
  };

  // Read once: a sequence's own records do not change before its worker starts.
  const finishedAtStart = configs.map((c) => (store ? storedIterations(spec, store, c) : 0));
  const finished = (i: number) => finishedAtStart[i];
  const pending = configs.map((_, i) => i).filter((i) => !store || finished(i) < configs[i].iterations);
  if (!store || parallel === 1 || pending.length <= 1) {
    // One after another; a failure does not stop the others (one sequence alone fails as itself).
    const failures: SequenceFailure[] = [];
    for (let i = 0; i < configs.length; i++) {
      try {
        await runHere(i);
      } catch (e) {
        if (configs.length === 1 || e instanceof InterruptedError) throw e;
        failures.push({ index: i, description: spec.label(configs[i]), error: e as Error });
      }
    }
    if (failures.length > 0) throw new SequencesFailedError(failures, configs.length);
    return results as R[];
  }

  await spec.beforeWorkers?.(pending.map((i) => configs[i]), { onStatus: (m) => opts.onStatus?.(pending[0], m) });
  throwIfInterrupted(signal);
  // Longest first, so that the last sequence to finish is a short one.
  pending.sort((a, b) => spec.cost(configs[b], finished(b)) - spec.cost(configs[a], finished(a)));
  const firstKeys = configs.map((c, i) => spec.firstModelKey?.(c) ?? `sequence ${i}`);
  const training = new Set<string>(); // first models being trained right now
  const failures: SequenceFailure[] = [];
  const workers = new Set<ChildProcess>();
  await new Promise<void>((resolve) => {
    let running = 0;
    // On interrupt: start nothing more, stop the workers (each keeps its finished iterations).
    const stop = () => {
      pending.length = 0;
      for (const w of workers) stopWorker(w);
      if (running === 0) resolve();
    };
    if (signal.aborted) return stop();
    signal.addEventListener("abort", stop, { once: true });
    const startNext = () => {
      while (running < parallel && !signal.aborted) {
        const at = pending.findIndex((i) => !training.has(firstKeys[i]));
        if (at < 0) break;
        const [i] = pending.splice(at, 1);
        running++;
        const trainsFirstModel = finished(i) === 0;
        if (trainsFirstModel) training.add(firstKeys[i]);
        // Once model 1 is stored, the sequences waiting for it may start.
        const release = () => {
          if (trainsFirstModel && training.delete(firstKeys[i])) startNext();
        };
        runInWorker(spec.entry, i, configs[i], store, opts, release, workers)
          .then(
            () => undefined,
            (e: Error) => failures.push({ index: i, description: spec.label(configs[i]), error: e }),
          )
          .finally(() => {
            running--;
            if (trainsFirstModel) training.delete(firstKeys[i]);
            if (running === 0 && pending.length === 0) {
              signal.removeEventListener("abort", stop);
              resolve();
            } else startNext();
          });
      }
    };
    startNext();
  });
  throwIfInterrupted(signal, `${configs.length} sequence(s)`);
  if (failures.length > 0) throw new SequencesFailedError(failures.sort((a, b) => a.index - b.index), configs.length);
  // The workers' results, as the store holds them: records and facts, no data loaded.
  return configs.map((c, i) => {
    const stored = readSequence(spec, store, c);
    if (!stored) throw new Error(`sequence ${i} (${spec.label(c)}) finished in its worker, but the run store does not hold all its iterations`);
    return stored;
  });
}

/** One sequence of a runSequences call that failed: its position in the configs given, and why. */
export interface SequenceFailure {
  index: number;
  description: string;
  error: Error;
}

/**
 * What runSequences throws when some sequences failed and the others ran: each failure as data
 * (`failures`), and a message naming every one.
 */
export class SequencesFailedError extends Error {
  constructor(
    readonly failures: readonly SequenceFailure[],
    readonly total: number,
  ) {
    super(`${failures.length} of ${total} sequences failed (finished iterations are kept in the run store):\n${failures.map((f) => `sequence ${f.index} (${f.description}): ${f.error.message}`).join("\n")}`);
    this.name = "SequencesFailedError";
  }
}

/** SIGTERM, then SIGKILL if the worker is still there 2 s later (a TensorFlow op can hold it that long). */
function stopWorker(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }, 2000).unref();
}

function runInWorker(entry: SequenceEntry, index: number, config: unknown, store: RunStore, opts: SequencesOptions, firstModelDone: () => void, workers: Set<ChildProcess>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(path.join(__dirname, "sequenceWorker.js"), [], {
      env: { ...process.env, COLLAPSE_RUNS_DIR: store.root },
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    workers.add(child);
    child.on("exit", () => workers.delete(child));
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4000);
    });
    let outcome: SequenceMessage | null = null;
    child.on("message", (m: SequenceMessage) => {
      switch (m.type) {
        case "status":
          opts.onStatus?.(index, m.message);
          break;
        case "fit":
          opts.onFitProgress?.(index, m.iteration, m.step, m.metrics);
          break;
        case "iteration":
          if (m.record.iteration >= 1) firstModelDone();
          opts.onIteration?.(index, m.record);
          break;
        default:
          outcome = m;
      }
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      const o = outcome as SequenceMessage | null;
      if (o?.type === "done" && code === 0) return resolve();
      if (o?.type === "error") return reject(deserializeError(o.error));
      const killed = signal === "SIGKILL" ? ", killed; on Linux most often by the kernel's out-of-memory killer" : "";
      reject(new Error(`worker process stopped (${signal ?? `exit code ${code}`}${killed}) without a result${stderr ? `; its last output:\n${stderr.trim()}` : ""}`));
    });
    child.send({ entry, config, checkpoints: opts.checkpoints, fitCheckpoints: opts.fitCheckpoints } satisfies SequenceJob);
  });
}
