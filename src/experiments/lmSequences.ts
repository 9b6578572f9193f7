import { type ChildProcess, fork } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import type { IterationRecord } from "../collapse/loop";
import { ConfigError, DataError } from "../errors";
import { lmConfig } from "../lm/configs";
import { parameterCount } from "../lm/model";
import { type RunStore, canonicalJson } from "../store/runStore";
import {
  type LmSequenceConfig,
  type LmSequenceResult,
  checkLmSequenceConfig,
  firstModelKey,
  lmFinishedIterations,
  lmRunKey,
  runLmSequence,
} from "./languageModels";
import type { WorkerJob, WorkerMessage } from "./lmWorker";

export interface LmSequencesOptions {
  /** Where the sequences are kept; running in parallel needs one (the workers write their results there). */
  store: RunStore | null;
  /**
   * Sequences trained at once, each in a process of its own. Default: one per CPU core on the wasm and
   * cpu backends (each is single-threaded in Node); 1 on the native tensorflow backend, which already
   * uses every core (or the GPU). 1 runs them here, one after another.
   */
  parallel?: number;
  /** `index` is the sequence's position in the list given to runLmSequences. */
  onIteration?: (index: number, record: IterationRecord) => void;
  onFitProgress?: (index: number, iteration: number, step: number, metrics: Readonly<Record<string, number>>) => void;
  onStatus?: (index: number, message: string) => void;
  checkpoints?: boolean;
}

/** The default number of sequences trained at once for a backend (see LmSequencesOptions.parallel). */
export function defaultParallelism(backend: string): number {
  return backend === "tensorflow" ? 1 : Math.max(1, os.availableParallelism());
}

/**
 * Runs many §3.1 sequences, several at once, and returns their results in the order given. Finished
 * sequences are read back from the store; the others are spread over worker processes, longest first.
 * Sequences that share a first model (same setting, another strategy or temperature) do not start
 * together: the second waits for the first to store model 1 and then reads it instead of training it.
 * If a sequence fails, the others still run; the call then rejects naming every failed sequence.
 */
export async function runLmSequences(configs: readonly LmSequenceConfig[], opts: LmSequencesOptions): Promise<LmSequenceResult[]> {
  configs.forEach((c, i) => {
    try {
      checkLmSequenceConfig(c);
      lmRunKey(c); // a missing text file
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`sequences[${i}].${e.field}`, e.message.replace(/^invalid config: [^:]+: /, ""));
      if (e instanceof DataError) throw new DataError(e.path, `sequence ${i}: ${e.message.slice(e.path.length + 2)}`);
      throw e;
    }
  });
  const store = opts.store;
  const { selectBackend } = await import("../backend");
  const parallel = opts.parallel ?? defaultParallelism((await selectBackend()).name);
  if (!Number.isInteger(parallel) || parallel < 1) throw new ConfigError("parallel", `expected an integer ≥ 1, got ${parallel}`);
  const results: (LmSequenceResult | undefined)[] = new Array(configs.length);
  const readBack = async (i: number) => {
    results[i] = await runLmSequence(configs[i], {
      store,
      checkpoints: opts.checkpoints,
      onIteration: (r) => opts.onIteration?.(i, r),
      onFitProgress: (n, step, m) => opts.onFitProgress?.(i, n, step, m),
      onStatus: (m) => opts.onStatus?.(i, m),
    });
  };

  const pending = configs.map((_, i) => i).filter((i) => !store || lmFinishedIterations(store, configs[i]) < configs[i].iterations);
  if (!store || parallel === 1 || pending.length <= 1) {
    for (let i = 0; i < configs.length; i++) await readBack(i);
    return results as LmSequenceResult[];
  }

  // Longest first, so that the last sequence to finish is a short one.
  const finished = (i: number) => lmFinishedIterations(store, configs[i]);
  pending.sort((a, b) => estimatedCost(configs[b], finished(b)) - estimatedCost(configs[a], finished(a)));
  const firstKeys = configs.map((c) => canonicalJson(firstModelKey(lmRunKey(c))));
  const training = new Set<string>(); // first models being trained right now
  const failures: string[] = [];
  await new Promise<void>((resolve) => {
    let running = 0;
    const startNext = () => {
      while (running < parallel) {
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
        runInWorker(i, configs[i], store, opts, release).then(
          () => undefined,
          (e: Error) => failures.push(`sequence ${i} (${describe(configs[i])}): ${e.message}`),
        ).finally(() => {
          running--;
          if (trainsFirstModel) training.delete(firstKeys[i]);
          if (running === 0 && pending.length === 0) resolve();
          else startNext();
        });
      }
    };
    startNext();
  });
  if (failures.length > 0) throw new Error(`${failures.length} of ${configs.length} sequences failed (finished iterations are kept in the run store):\n${failures.join("\n")}`);
  for (let i = 0; i < configs.length; i++) await readBack(i);
  return results as LmSequenceResult[];
}

/** model · strategy · the fields that set it apart, for messages. */
function describe(c: LmSequenceConfig): string {
  const extra = [c.sampling?.temperature !== undefined ? `temperature ${c.sampling.temperature}` : "", c.firstIterationEpochs !== undefined ? `first epochs ${c.firstIterationEpochs}` : ""];
  return [c.model, c.strategy, `${c.trainDocuments} documents`, ...extra].filter(Boolean).join(" · ");
}

/** Relative training work of the iterations still to run: parameters × documents trained on × epochs. */
export function estimatedCost(c: LmSequenceConfig, finishedIterations = 0): number {
  const growing = c.strategy === "accumulate" || c.strategy === "replace-multiple";
  let documents = 0;
  for (let n = finishedIterations + 1; n <= c.iterations; n++) {
    const epochs = n === 1 ? (c.firstIterationEpochs ?? c.train.epochs ?? 1) : (c.train.epochs ?? 1);
    const size = growing ? n : c.strategy === "augment" && n > 1 ? 2 : 1;
    documents += size * c.trainDocuments * epochs;
  }
  let params = 1;
  try {
    params = parameterCount(lmConfig(c.model, c.vocabSize));
  } catch {
    // an unknown model is reported by the sequence itself
  }
  return documents * params;
}

function runInWorker(index: number, config: LmSequenceConfig, store: RunStore, opts: LmSequencesOptions, firstModelDone: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(path.join(__dirname, "lmWorker.js"), [], {
      env: { ...process.env, COLLAPSE_RUNS_DIR: store.root },
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4000);
    });
    let outcome: WorkerMessage | null = null;
    child.on("message", (m: WorkerMessage) => {
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
      const o = outcome as WorkerMessage | null;
      if (o?.type === "done" && code === 0) return resolve();
      if (o?.type === "error") {
        if (o.field !== undefined) return reject(new ConfigError(o.field, o.message.replace(/^invalid config: [^:]+: /, "")));
        if (o.path !== undefined) return reject(new DataError(o.path, o.message.slice(o.path.length + 2)));
        return reject(new Error(o.message));
      }
      reject(new Error(`worker process stopped (${signal ?? `exit code ${code}`}) without a result${stderr ? `; its last output:\n${stderr.trim()}` : ""}`));
    });
    child.send({ config, checkpoints: opts.checkpoints } satisfies WorkerJob);
  });
}
