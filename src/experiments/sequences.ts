import { type ChildProcess, fork } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type CollapseResult, type IterationRecord, runCollapse } from "../collapse/loop";
import type { Modality } from "../collapse/modality";
import type { LoopConfig } from "../collapse/strategies";
import type { Params } from "../nn/params";
import { loadParams, saveParams } from "../nn/safetensors";
import { ConfigError, DataError, deserializeError } from "../errors";
import { interruptible, throwIfInterrupted } from "../interrupt";
import { type Run, type RunStore, modelArtifact } from "../store/runStore";
import type { SequenceEntry, SequenceJob, SequenceMessage } from "./sequenceProtocol";

/** What every experiment's sequence runner (runLmSequence, runMoleculeSequence, runVaeSequence) takes. */
export interface SequenceRunOptions {
  store?: RunStore | null;
  onIteration?: (record: IterationRecord) => void;
  onFitProgress?: (iteration: number, step: number, metrics: Readonly<Record<string, number>>) => void;
  /** Short status lines (loading or generating data, training a tokenizer, ...). */
  onStatus?: (message: string) => void;
  /** Keep a safetensors checkpoint of every iteration's model in the run store (default true). */
  checkpoints?: boolean;
  /** Stops the sequence after its last finished iteration (an InterruptedError; see runCollapse). */
  signal?: AbortSignal;
}

/**
 * What every experiment's runner does once its data is loaded and its run opened: the collapse loop
 * persisted in `run` (so it resumes, and extends to more iterations), each model's checkpoint saved
 * in the run (unless `opts.checkpoints` is false) with its iteration, and the run's summary: the
 * per-iteration values of `summaryMetric`.
 */
export async function collapseInRun<D, M>(o: {
  modality: Modality<D, M>;
  loop: LoopConfig;
  seed: number;
  run: Run | null;
  opts: SequenceRunOptions;
  /** A model's parameters and the metadata its checkpoint needs to be loaded on its own. */
  checkpoint?: (model: M) => { params: Params; metadata: Record<string, string> };
  /**
   * A model from its checkpoint's parameters, enough to sample from. With checkpoints kept, a run's
   * last model draws only a preview of its synthetic set (the modality's previewSize), and the rest is
   * drawn from the model read back if the run is continued.
   */
  fromCheckpoint?: (params: Params) => M;
  summaryMetric: string;
}): Promise<CollapseResult> {
  const { run, opts } = o;
  const checkpoints = run !== null && opts.checkpoints !== false && o.checkpoint !== undefined;
  const result = await runCollapse({
    modality: o.modality,
    loop: o.loop,
    seed: o.seed,
    run: run ?? undefined,
    extendable: run !== null,
    onIteration: opts.onIteration,
    onFitProgress: opts.onFitProgress,
    signal: opts.signal,
    restore:
      checkpoints && o.fromCheckpoint
        ? (n) => {
            const file = run!.artifactPath(modelArtifact(n));
            return fs.existsSync(file) ? o.fromCheckpoint!(loadParams(file).params) : null;
          }
        : undefined,
    onModel:
      checkpoints
        ? (n, m) => {
            const { params, metadata } = o.checkpoint!(m);
            saveParams(run.artifactPath(modelArtifact(n)), params, { ...metadata, iteration: String(n) });
          }
        : undefined,
  });
  if (run) {
    const stored = run.records<IterationRecord>();
    run.finish({ iterations: stored.length, [o.summaryMetric]: stored.map((r) => r.metrics[o.summaryMetric]) });
  }
  return result;
}

/**
 * How runSequences handles one kind of sequence: what a modality registers to run its sequences in
 * parallel. `entry` tells the worker process (sequenceWorker.ts) where to load the same object from.
 */
export interface SequenceKind<C extends { iterations: number }, R> {
  entry: SequenceEntry;
  /** Throws a ConfigError or DataError for a config that cannot run, before any work starts. */
  check(config: C): void;
  run(config: C, opts: SequenceRunOptions): Promise<R>;
  /** Iterations the store already holds for this config. */
  finishedIterations(store: RunStore, config: C): number;
  /** Relative work of the iterations still to run (longest first). */
  cost(config: C, finishedIterations: number): number;
  /** A short name for messages. */
  describe(config: C): string;
  /**
   * Sequences with the same key train the same first model and share it through the store: they are
   * not started together, so the second reads the first's model instead of training a copy.
   */
  firstModelKey?(config: C): string;
  /** Work done once, here, before any worker starts (e.g. generating a data set every worker reads). */
  prepare?(configs: readonly C[], opts: { onStatus?: (message: string) => void }): Promise<void>;
}

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
  /**
   * Stops every sequence (workers are killed, none is started after it) and rejects with an
   * InterruptedError; finished iterations stay in the store, so the same call resumes. Kernel >
   * Interrupt in a kit notebook aborts it too (see interrupt.ts).
   */
  signal?: AbortSignal;
}

/**
 * Iterations `store` holds for the run keyed by `key()` (a SequenceKind's finishedIterations), 0 when
 * the key cannot be computed: the run's data is not there yet, so no run can hold it.
 */
export function storedIterations(store: RunStore, kind: string, key: () => Record<string, unknown>): number {
  let config: Record<string, unknown>;
  try {
    config = key();
  } catch {
    return 0;
  }
  return store.recordCount(kind, config);
}

/** Model fits the store already holds for these sequences (what a progress bar starts at). */
export function storedFits<C extends { iterations: number }>(kind: SequenceKind<C, unknown>, configs: readonly C[], store: RunStore | null): number {
  return store ? configs.reduce((s, c) => s + Math.min(c.iterations, kind.finishedIterations(store, c)), 0) : 0;
}

/**
 * The default number of sequences trained at once: one per core, each process single-threaded (wasm
 * always is; the kit runs TensorFlow with one intra-op thread, see backend.ts). Measured on 2 cores
 * (llama2-quick, native): two 1-thread processes trained 26k tokens/s and sampled 15k together, one
 * 2-thread process 21k and 8.7k. On a GPU one at a time: TensorFlow gives each process all its memory.
 */
export function defaultParallelism(backend: { name: string; gpu?: boolean }): number {
  return backend.gpu ? 1 : Math.max(1, os.availableParallelism());
}

/**
 * Runs many sequences of one kind, several at once, and returns their results in the order given.
 * Finished sequences are read back from the store; the others are spread over worker processes, longest
 * first. If a sequence fails, the others still run; the call then rejects naming every failed sequence.
 */
export async function runSequences<C extends { iterations: number }, R>(kind: SequenceKind<C, R>, configs: readonly C[], opts: SequencesOptions): Promise<R[]> {
  return interruptible(opts.signal, (signal) => sequencesIn(kind, configs, opts, signal));
}

async function sequencesIn<C extends { iterations: number }, R>(kind: SequenceKind<C, R>, configs: readonly C[], opts: SequencesOptions, signal: AbortSignal): Promise<R[]> {
  configs.forEach((c, i) => {
    try {
      kind.check(c);
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
  const readBack = async (i: number) => {
    results[i] = await kind.run(configs[i], {
      store,
      checkpoints: opts.checkpoints,
      signal,
      onIteration: (r) => opts.onIteration?.(i, r),
      onFitProgress: (n, step, m) => opts.onFitProgress?.(i, n, step, m),
      onStatus: (m) => opts.onStatus?.(i, m),
    });
  };

  // Read once: a sequence's own records do not change before its worker starts.
  const finishedAtStart = configs.map((c) => (store ? kind.finishedIterations(store, c) : 0));
  const finished = (i: number) => finishedAtStart[i];
  const pending = configs.map((_, i) => i).filter((i) => !store || finished(i) < configs[i].iterations);
  if (!store || parallel === 1 || pending.length <= 1) {
    for (let i = 0; i < configs.length; i++) await readBack(i);
    return results as R[];
  }

  await kind.prepare?.(pending.map((i) => configs[i]), { onStatus: (m) => opts.onStatus?.(pending[0], m) });
  throwIfInterrupted(signal);
  // Longest first, so that the last sequence to finish is a short one.
  pending.sort((a, b) => kind.cost(configs[b], finished(b)) - kind.cost(configs[a], finished(a)));
  const firstKeys = configs.map((c, i) => kind.firstModelKey?.(c) ?? `sequence ${i}`);
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
        runInWorker(kind.entry, i, configs[i], store, opts, release, workers)
          .then(
            () => undefined,
            (e: Error) => failures.push({ index: i, description: kind.describe(configs[i]), error: e }),
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
  for (let i = 0; i < configs.length; i++) await readBack(i);
  return results as R[];
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
      reject(new Error(`worker process stopped (${signal ?? `exit code ${code}`}) without a result${stderr ? `; its last output:\n${stderr.trim()}` : ""}`));
    });
    child.send({ entry, config, checkpoints: opts.checkpoints } satisfies SequenceJob);
  });
}

/**
 * Σ over the iterations still to run of (training-set size in units of the real set) × `perUnit(n)`:
 * accumulate and replace-multiple train on n units at iteration n (replace-matched-compute trains on 1
 * for as long as on n), augment on 2, the others on 1.
 */
export function growingSetCost(strategy: string, iterations: number, finishedIterations: number, perUnit: (iteration: number) => number): number {
  const growing = strategy === "accumulate" || strategy === "replace-multiple" || strategy === "replace-matched-compute";
  let total = 0;
  for (let n = finishedIterations + 1; n <= iterations; n++) total += (growing ? n : strategy === "augment" && n > 1 ? 2 : 1) * perUnit(n);
  return total;
}
