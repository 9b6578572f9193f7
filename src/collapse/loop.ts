import * as fs from "node:fs";
import { ConfigError, DataError } from "../errors";
import { throwIfInterrupted } from "../interrupt";
import { Rng } from "../random";
import { type Run, syntheticArtifact } from "../store/runStore";
import type { FitCompute, Modality } from "./modality";
import { type CheckedLoopConfig, DEFAULT_MAX_DRAWS, type LoopConfig, type Pool, checkLoopConfig, keptRealSize, samplesToDraw, trainingParts, trainingScale, unknownVerifier } from "./strategies";

/** What happened at one model-fitting iteration. */
export interface IterationRecord {
  iteration: number;
  /** Samples model n was trained on, and how many of them were real. */
  trainSize: number;
  realInTrain: number;
  metrics: Record<string, number>;
  /** The training work relative to the configured one, where it is not 1 (replace-matched-compute). */
  trainingScale?: number;
  /** Points the modality reported while fitting (a learning curve), if any. */
  curve?: { step: number; metrics: Record<string, number> }[];
  /**
   * The sequence's training work up to and including this fit (see Modality.trainingCompute); absent
   * in runs written before it was recorded.
   */
  compute?: FitCompute;
  /** Under curation: the samples this model drew for the pool, and how many of them the verifier kept. */
  curation?: { drawn: number; kept: number };
  /** Wall time of fit + evaluate + sample (not part of the reproducible result). */
  seconds: number;
}

export interface CollapseOptions<D, M> {
  modality: Modality<D, M>;
  loop: LoopConfig;
  /** Every random draw of the sequence derives from this seed. */
  seed: number;
  /** Persists records and synthetic sets after every iteration; an interrupted run resumes from it. */
  run?: Run;
  onIteration?: (record: IterationRecord) => void;
  /**
   * The run can later be continued to more iterations, and a run that already holds more iterations
   * than asked for returns its first ones (every draw is derived per iteration, so a prefix of a longer
   * run is exactly the shorter run). Continuing needs the last model's synthetic set: the last model
   * samples it, or with `restore` (and a modality `previewSize`) only its first samples, and the rest
   * when the run is continued.
   */
  extendable?: boolean;
  /**
   * The model of a finished iteration, read back (from its checkpoint), or null when there is none:
   * enough to sample from. Continuing a run samples its last model's synthetic set with it, with the
   * very draws an uninterrupted run makes.
   */
  restore?: (iteration: number) => Promise<M | null> | M | null;
  /** Sees each fitted model after evaluation and before it is disposed (e.g. to save a checkpoint). */
  onModel?: (iteration: number, model: M) => void | Promise<void>;
  onFitProgress?: (iteration: number, step: number, metrics: Readonly<Record<string, number>>) => void;
  /**
   * Mid-fit checkpoints in the run (fit-<n>.ckpt): a fit writes one every so many steps or seconds,
   * and a fit of the same iteration started again (the run resumed after a kill) continues from it.
   * Pruned once the iteration's record is stored. None without a run.
   */
  fitCheckpoints?: FitCheckpointInterval;
  /**
   * Stops the sequence with an InterruptedError: checked between iterations and whenever the fit
   * reports progress, so an iteration in progress is dropped and every finished one is kept.
   */
  signal?: AbortSignal;
}

/** How often a fit writes a mid-fit checkpoint: every so many steps, and/or seconds. */
export interface FitCheckpointInterval {
  everySteps?: number;
  everySeconds?: number;
}

/** The artifact name of model `iteration`'s mid-fit checkpoint. */
export function fitCheckpointArtifact(iteration: number): string {
  return `fit-${iteration}.ckpt`;
}

export interface CollapseResult {
  records: IterationRecord[];
  /** Iterations that were already finished in the run store when this call started. */
  resumedFrom: number;
}

/**
 * The model-collapse loop, the same for every modality: fit model n on the data its strategy selects,
 * evaluate it on held-out real data, sample the synthetic data that later iterations train on.
 */
export async function runCollapse<D, M>(opts: CollapseOptions<D, M>): Promise<CollapseResult> {
  try {
    return await collapse(opts);
  } finally {
    opts.modality.close?.();
  }
}

async function collapse<D, M>(opts: CollapseOptions<D, M>): Promise<CollapseResult> {
  const { modality, seed, run } = opts;
  const cfg = checkLoopConfig(opts.loop, "loop");
  if (run && !modality.codec) throw new Error(`modality ${modality.name} has no codec, so its runs cannot be persisted`);

  const pool: Pool<D> = { real: [], synthetic: [] };
  const addReal = async (draw: number) => {
    pool.real.push({ data: await realDraw(modality, cfg, seed, draw), origin: "real", generation: draw });
  };
  await addReal(1);
  const kept = keptRealSize(cfg);
  if (kept !== null) pool.realKept = { ...pool.real[0], data: modality.select(pool.real[0].data, Int32Array.from({ length: kept }, (_, k) => k)) };

  const records: IterationRecord[] = run ? run.records<IterationRecord>() : [];
  records.forEach((r, i) => {
    if (r.iteration !== i + 1) throw new DataError(run!.dir, `metrics.jsonl record ${i + 1} is for iteration ${r.iteration}`);
  });
  if (records.length > cfg.iterations) {
    if (opts.extendable) return { records: records.slice(0, cfg.iterations), resumedFrom: cfg.iterations };
    throw new DataError(run!.dir, `holds ${records.length} iterations, more than the ${cfg.iterations} configured`);
  }
  const resumedFrom = records.length;
  // Rebuild the pool as it stood after the last finished iteration: real data is regenerated from
  // its seed, synthetic sets are read back (they depend on models we no longer have).
  for (let n = 1; n <= resumedFrom; n++) {
    if (n >= 2 && cfg.freshRealSize > 0) await addReal(n);
    if (n < cfg.iterations && samplesToDraw(cfg, n) === 0) pool.synthetic.push({ data: emptySet(modality, pool), origin: "synthetic", generation: n });
    else if (n < cfg.iterations) {
      const file = run!.artifactPath(syntheticArtifact(n));
      let data = run!.readSynthetic(n, modality.codec!);
      if (data === null) throw new DataError(file, "missing, but iteration " + n + " is recorded as finished");
      // The last model of a run that ended here drew only a preview of its set: it draws the set now.
      if (n === resumedFrom && modality.size(data) < samplesToDraw(cfg, n)) {
        const model = opts.restore ? await opts.restore(n) : null;
        if (model === null) throw new DataError(file, `holds the first ${modality.size(data)} of model ${n}'s samples; continuing the run needs the model's checkpoint`);
        try {
          data = (await drawSynthetic(opts, cfg, model, samplesToDraw(cfg, n), n)).data;
        } finally {
          modality.dispose?.(model);
        }
      }
      pool.synthetic.push({ data, origin: "synthetic", generation: n });
    }
  }

  for (let n = resumedFrom + 1; n <= cfg.iterations; n++) {
    throwIfInterrupted(opts.signal);
    const started = performance.now();
    if (n >= 2 && cfg.freshRealSize > 0) await addReal(n);
    // A real share of 1 leaves the synthetic part empty.
    const parts = trainingParts(cfg.strategy, n, pool, { size: (d) => modality.size(d), select: (d, i) => modality.select(d, i), to: cfg.realSize, rng: Rng.derive(seed, "subsample", n) }).filter((p) => modality.size(p.data) > 0);
    const curve: { step: number; metrics: Record<string, number> }[] = [];
    const scale = trainingScale(cfg.strategy, n, pool, (d) => modality.size(d));
    const checkpointName = fitCheckpointArtifact(n);
    // A fit that keeps checkpoints (it reads one first) stops itself at a step boundary, after saving.
    let checkpointed = false;
    const model = await modality.fit(parts, {
      iteration: n,
      rng: Rng.derive(seed, "fit", n),
      trainingScale: scale,
      report: (step, metrics) => {
        if (!checkpointed) throwIfInterrupted(opts.signal);
        curve.push({ step, metrics: { ...metrics } });
        opts.onFitProgress?.(n, step, metrics);
      },
      checkpoint:
        run && opts.fitCheckpoints
          ? {
              ...opts.fitCheckpoints,
              read: () => {
                checkpointed = true;
                return run.readArtifact(checkpointName);
              },
              write: (bytes) => void run.writeArtifact(checkpointName, bytes),
              stopRequested: () => opts.signal?.aborted === true,
              // The loop's learning curve so far is kept with it.
              outer: { save: () => curve, restore: (c) => curve.splice(0, curve.length, ...(c as typeof curve)) },
            }
          : undefined,
    });
    let metrics: Readonly<Record<string, number>>;
    let curation: IterationRecord["curation"];
    try {
      metrics = await modality.evaluate(model, Rng.derive(seed, "evaluate", n));
      for (const [name, value] of Object.entries(metrics)) {
        if (!Number.isFinite(value)) throw new Error(`iteration ${n}: metric ${name} is ${value}; stopping (earlier iterations are kept)`);
      }
      throwIfInterrupted(opts.signal);
      await opts.onModel?.(n, model);
      if (n < cfg.iterations) {
        const size = samplesToDraw(cfg, n);
        const drawn = size === 0 ? { data: emptySet(modality, pool), curation: undefined } : await drawSynthetic(opts, cfg, model, size, n);
        curation = drawn.curation;
        pool.synthetic.push({ data: drawn.data, origin: "synthetic", generation: n });
      } else if (opts.extendable) {
        const size = samplesToDraw(cfg, n);
        const preview = opts.restore && modality.previewSize ? Math.min(modality.previewSize, size) : size;
        // A preview is shown, not trained on: it is not curated (a continued run draws the curated set).
        if (preview === size && size > 0) curation = (await drawSynthetic(opts, cfg, model, size, n)).curation;
        else if (preview > 0) await drawSynthetic(opts, { ...cfg, curation: undefined }, model, preview, n);
      }
    } finally {
      modality.dispose?.(model);
    }
    const trainSize = parts.reduce((s, p) => s + modality.size(p.data), 0);
    const before = n === 1 ? NO_COMPUTE : records[n - 2].compute;
    const compute = before && addCompute(before, modality.trainingCompute?.(parts, scale, n) ?? { examples: trainSize * scale });
    const record: IterationRecord = {
      iteration: n,
      trainSize,
      realInTrain: parts.filter((p) => p.origin === "real").reduce((s, p) => s + modality.size(p.data), 0),
      metrics: { ...metrics },
      ...(scale !== 1 ? { trainingScale: scale } : {}),
      ...(curve.length > 0 ? { curve } : {}),
      ...(compute ? { compute } : {}),
      ...(curation ? { curation } : {}),
      seconds: (performance.now() - started) / 1000,
    };
    run?.append(record);
    if (run) fs.rmSync(run.artifactPath(checkpointName), { force: true });
    records.push(record);
    opts.onIteration?.(record);
  }
  return { records, resumedFrom };
}

const NO_COMPUTE: FitCompute = { examples: 0, tokens: 0, flops: 0 };

/** a + b, field by field; tokens and FLOPs only where both know them. */
function addCompute(a: FitCompute, b: FitCompute): FitCompute {
  const out: FitCompute = { examples: a.examples + b.examples };
  if (a.tokens !== undefined && b.tokens !== undefined) out.tokens = a.tokens + b.tokens;
  if (a.flops !== undefined && b.flops !== undefined) out.flops = a.flops + b.flops;
  return out;
}

/** A set with no samples (a synthetic part under a real share of 1), selected from the original real set. */
function emptySet<D, M>(modality: Modality<D, M>, pool: Pool<D>): D {
  return modality.select(pool.real[0].data, new Int32Array(0));
}

/**
 * `size` samples of model n (every draw from the iteration's own generator), curated when the loop
 * says so, persisted in the run before the record that declares iteration n finished.
 */
async function drawSynthetic<D, M>(opts: CollapseOptions<D, M>, cfg: CheckedLoopConfig, model: M, size: number, n: number): Promise<{ data: D; curation?: { drawn: number; kept: number } }> {
  const { modality } = opts;
  const drawn = cfg.curation ? await curate(opts, cfg, model, size, n) : { data: await modality.sample(model, size, Rng.derive(opts.seed, "sample", n)) };
  opts.run?.writeSynthetic(n, modality.codec!, drawn.data);
  return drawn;
}

/**
 * Curation: model n's samples scored by the verifier, the best `size` kept (in the order drawn). With a
 * share, size/keep samples are drawn once; with a threshold, sets of size, 2·size, 4·size, ... samples
 * (each from its own generator) until `size` of one set pass, every drawn sample counted in the cost.
 */
async function curate<D, M>(opts: CollapseOptions<D, M>, cfg: CheckedLoopConfig, model: M, size: number, n: number): Promise<{ data: D; curation: { drawn: number; kept: number } }> {
  const { modality } = opts;
  const c = cfg.curation!;
  const verify = modality.verifiers?.[c.verifier];
  if (!verify) throw unknownVerifier(c.verifier, Object.keys(modality.verifiers ?? {}));
  const scoreSet = async (count: number, attempt: number) => {
    const data = await modality.sample(model, count, attempt === 0 ? Rng.derive(opts.seed, "sample", n) : Rng.derive(opts.seed, "sample", n, attempt));
    const scores = await verify(data, { iteration: n, model, rng: Rng.derive(opts.seed, "verify", n, attempt) });
    if (scores.length !== modality.size(data)) throw new Error(`verifier ${c.verifier} gave ${scores.length} scores for ${modality.size(data)} samples`);
    return { data, scores };
  };
  if (c.keep !== undefined) {
    const count = Math.max(size, Math.ceil(size / c.keep - 1e-9));
    const { data, scores } = await scoreSet(count, 0);
    return { data: modality.select(data, bestIndices(scores, size)), curation: { drawn: count, kept: size } };
  }
  const limit = Math.ceil((c.maxDraws ?? DEFAULT_MAX_DRAWS) * size);
  let total = 0;
  for (let attempt = 0, count = size; total + count <= limit; attempt++, count *= 2) {
    const { data, scores } = await scoreSet(count, attempt);
    total += count;
    const passing: number[] = [];
    for (let i = 0; i < scores.length && passing.length < size; i++) if (scores[i] >= c.threshold!) passing.push(i);
    if (passing.length === size) return { data: modality.select(data, Int32Array.from(passing)), curation: { drawn: total, kept: size } };
  }
  throw new ConfigError("curation.threshold", `model ${n}: fewer than ${size} of its samples scored ≥ ${c.threshold} on ${c.verifier} within ${limit} draws (maxDraws ${c.maxDraws ?? DEFAULT_MAX_DRAWS}); lower the threshold or raise maxDraws`);
}

/** Indices of the `size` highest scores (ties and NaN: the earlier sample first; NaN last), in increasing order. */
export function bestIndices(scores: Float64Array, size: number): Int32Array {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  const key = (i: number) => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
  order.sort((a, b) => key(b) - key(a) || a - b);
  return Int32Array.from(order.slice(0, size).sort((a, b) => a - b));
}

/**
 * Real draw `draw` of a sequence: the original set (draw 1, `realSize` samples) or the fresh data of
 * iteration `draw` (`freshRealSize` samples). From a modality's `realPool`, draw 1 is its first
 * `realSize` samples and draw n the (n−1)-th slice after them, so a draw is the same whichever
 * iterations ran before it (resuming regenerates them); from a generator, a stream derived per draw.
 */
export async function realDraw<D, M>(modality: Modality<D, M>, cfg: Pick<LoopConfig, "realSize" | "freshRealSize">, seed: number, draw: number): Promise<D> {
  const size = draw === 1 ? cfg.realSize : cfg.freshRealSize ?? 0;
  if (modality.realPool === undefined) {
    if (!modality.real) throw new Error(`modality ${modality.name} has neither a realPool nor a real() generator`);
    return modality.real(size, Rng.derive(seed, "real", draw), draw);
  }
  const start = draw === 1 ? 0 : cfg.realSize + (draw - 2) * (cfg.freshRealSize ?? 0);
  const available = modality.size(modality.realPool);
  if (start + size > available) {
    throw new DataError(`real ${modality.name} data`, `needs ${start + size} real training samples for real draw ${draw}, has ${available}`);
  }
  return modality.select(modality.realPool, Int32Array.from({ length: size }, (_, k) => start + k));
}

