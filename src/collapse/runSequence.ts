import * as fs from "node:fs";
import * as path from "node:path";
import { backendInfo, selectBackend } from "../backend";
import type { Params } from "../nn/params";
import { loadParams, saveParams } from "../nn/safetensors";
import { Run, type RunStore, modelArtifact } from "../store/runStore";
import { type CollapseResult, type IterationRecord, runCollapse } from "./loop";
import type { Modality } from "./modality";
import { type ModalitySpec, type SequenceConfig, type SequenceResult, type SequenceRunOptions, type SequenceSetup, checkSequence, loopModifiers, sequenceRunKey } from "./spec";
import type { LoopConfig } from "./strategies";

// Running one sequence of any modality through its spec, and reading a finished one back.

/** A SequenceSetup from a modality, its loop and its checkpoint codec. */
export function sequenceSetup<D, M, F, X>(o: {
  modality: Modality<D, M>;
  loop: LoopConfig;
  /** A model's parameters and the metadata its checkpoint needs to be loaded on its own. */
  checkpoint?: (model: M) => { params: Params; metadata: Record<string, string> };
  /**
   * A model from its checkpoint's parameters, enough to sample from. With checkpoints kept, a run's
   * last model draws only a preview of its synthetic set (the modality's previewSize), and the rest is
   * drawn from the model read back if the run is continued.
   */
  fromCheckpoint?: (params: Params) => M;
  facts: F;
  extras: X;
  dispose?: () => void;
}): SequenceSetup<F, X> {
  return {
    facts: o.facts,
    extras: o.extras,
    collapse: (run, sequence, opts) => collapseInRun({ ...o, loop: { ...o.loop, ...loopModifiers(sequence) }, seed: sequence.seed, run, opts }),
    dispose: () => o.dispose?.(),
  };
}

/** What a finished run's done.json holds. */
interface StoredSummary {
  iterations: number;
  facts?: unknown;
  [metric: string]: unknown;
}

/**
 * Runs (or resumes, or reads back) one sequence: check → (read back if the store holds it) → load →
 * open run → set up → collapse loop → finish. Everything a modality does differently is in its spec.
 */
export async function runSequence<C extends SequenceConfig, R extends SequenceResult<C>, L, F, X>(spec: ModalitySpec<C, R, L, F, X>, config: C, opts: SequenceRunOptions = {}): Promise<R> {
  checkSequence(spec, config);
  const backend = spec.tensors ? await selectBackend() : null;
  const stored = opts.store ? readSequence(spec, opts.store, config) : null;
  if (stored) return stored;
  const status = opts.onStatus ?? (() => {});
  const loaded = await spec.load(config, { status });
  const run = opts.store?.open(spec.name, sequenceRunKey(spec, config, loaded), backend ? { backend: backendInfo() } : {}) ?? null;
  let setup: SequenceSetup<F, X> | null = null;
  try {
    setup = await spec.setup(config, loaded, { run, store: opts.store ?? null, status, backendName: backend?.name ?? null });
    const result = await setup.collapse(run, config, opts);
    const facts = setup.facts;
    if (run) {
      // The summary metric per iteration, and the facts a read-back result needs (see readSequence).
      const metric = spec.metrics[0].key;
      const stored = run.records<IterationRecord>();
      run.finish({ iterations: stored.length, [metric]: stored.map((r) => r.metrics[metric]), facts } satisfies StoredSummary);
    }
    return spec.result({ ...result, kind: spec.name, config, facts, runDir: run?.dir ?? null, ...(backend ? { backend: backendInfo() } : {}) }, facts, setup.extras);
  } finally {
    setup?.dispose();
    run?.close();
  }
}

/**
 * The stored result of a finished sequence, read from the run store alone (records and the facts its
 * run recorded; the rest lazily, when asked for), or null when the store does not hold all of its
 * iterations or the run predates recorded facts. Loads no data and trains nothing.
 */
export function readSequence<C extends SequenceConfig, R extends SequenceResult<C>, L, F, X>(spec: ModalitySpec<C, R, L, F, X>, store: RunStore, config: C): R | null {
  const dir = storedRunDir(spec, store, config);
  if (dir === null) return null;
  const run = new Run(dir, path.basename(dir));
  const summary = run.summary<StoredSummary>();
  if (summary?.facts === undefined) return null;
  const records = run.records<IterationRecord>();
  if (records.length < config.iterations) return null;
  const backend = spec.tensors ? { backend: backendInfo() } : {};
  const facts = summary.facts as F; // written by runSequence from this spec's setup
  return spec.result({ records: records.slice(0, config.iterations), resumedFrom: config.iterations, kind: spec.name, config, facts, runDir: dir, ...backend }, facts, null);
}

/** Where a spec's runs are kept: its kind and key. */
export type StoreKeyed<C> = { name: string; runKey(c: C): Record<string, unknown> };

/**
 * The directory of `config`'s run in `store`, or null while there is none (or its key cannot be
 * computed yet, e.g. its data is not downloaded: then no run can hold it). Creates and locks nothing.
 */
export function storedRunDir<C extends SequenceConfig>(spec: StoreKeyed<C>, store: RunStore, config: C): string | null {
  let key: Record<string, unknown>;
  try {
    key = sequenceRunKey(spec, config);
  } catch {
    return null;
  }
  return store.find(spec.name, key);
}

/** Iterations `store` holds for `config`'s run, 0 when it has none. */
export function storedIterations<C extends SequenceConfig>(spec: StoreKeyed<C>, store: RunStore, config: C): number {
  const dir = storedRunDir(spec, store, config);
  return dir === null ? 0 : new Run(dir, path.basename(dir)).records().length;
}

/**
 * The collapse loop persisted in `run` (so it resumes, and extends to more iterations), each model's
 * checkpoint saved in the run (unless `opts.checkpoints` is false) with its iteration.
 */
async function collapseInRun<D, M>(o: {
  modality: Modality<D, M>;
  loop: LoopConfig;
  seed: number;
  run: Run | null;
  opts: SequenceRunOptions;
  checkpoint?: (model: M) => { params: Params; metadata: Record<string, string> };
  fromCheckpoint?: (params: Params) => M;
}): Promise<CollapseResult> {
  const { run, opts } = o;
  const checkpoints = run !== null && opts.checkpoints !== false && o.checkpoint !== undefined;
  return runCollapse({
    modality: o.modality,
    loop: o.loop,
    seed: o.seed,
    run: run ?? undefined,
    extendable: run !== null,
    onIteration: opts.onIteration,
    onFitProgress: opts.onFitProgress,
    signal: opts.signal,
    fitCheckpoints: opts.fitCheckpoints ?? DEFAULT_FIT_CHECKPOINTS,
    restore:
      checkpoints && o.fromCheckpoint
        ? (n) => {
            const file = run!.artifactPath(modelArtifact(n));
            return fs.existsSync(file) ? o.fromCheckpoint!(loadParams(file).params) : null;
          }
        : undefined,
    onModel: checkpoints
      ? (n, m) => {
          const { params, metadata } = o.checkpoint!(m);
          saveParams(run.artifactPath(modelArtifact(n)), params, { ...metadata, iteration: String(n) });
        }
      : undefined,
  });
}

/** Mid-fit checkpoints unless asked otherwise: every 10 minutes of a fit (so none in short fits). */
export const DEFAULT_FIT_CHECKPOINTS = { everySeconds: 600 } as const;

/**
 * A property of `target` computed on first read and kept (e.g. a tokenizer read from the run store
 * only when a table asks for it).
 */
export function lazyField<T extends object, K extends string, V>(target: T, key: K, get: () => V): T & Record<K, V> {
  let value: V | undefined;
  let done = false;
  Object.defineProperty(target, key, {
    enumerable: false,
    configurable: true,
    get: () => {
      if (!done) {
        value = get();
        done = true;
      }
      return value;
    },
  });
  return target as T & Record<K, V>;
}
