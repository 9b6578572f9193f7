import * as tf from "@tensorflow/tfjs";
import { ConfigError, checkInt, checkKnownKeys, checkNumber, checkOneOf, fieldNames } from "../errors";
import { type OptimizerConfig, type ScheduleConfig, ShuffledOrder, checkOptimizerConfig, fit, learningRateAt, yieldToEventLoop, type FitCheckpoint } from "../nn/fit";
import type { Rng, RngState } from "../random";
import { BATCH_TENSOR_COUNT, type BatchTensors, type EgnnConfig, type GraphBatch, batchTensorList, batchTensors, batchTensorsFromList, buildGraphBatch, disposeBatchTensors, egnnForward, padGraphBatch } from "./egnn";
import { compiledWithParams } from "../nn/compiled";
import type { ConformationSet, MoleculeGraph } from "./types";
import type { Params } from "../nn/params";

/**
 * A GeoDiff-style denoising diffusion over atom coordinates, conditioned on the molecular graph:
 * x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε with centre-of-mass-free Gaussian ε (each molecule's mean noise is
 * removed, and x_0 is centred), a network trained to predict ε (denoising score matching in its
 * ε-parametrisation), and ancestral DDPM sampling over an evenly spaced subset of the steps.
 *
 * Differences from GeoDiff (Xu et al. 2022): the noise is predicted directly on Cartesian coordinates
 * by an EGNN (GeoDiff predicts it through pairwise distances with a graph-field network), heavy atoms
 * only, and plain ancestral sampling instead of GeoDiff's sampler with its local/global clipping.
 */
export interface DiffusionConfig {
  /** "sigmoid": β_t = σ(linspace(−6, 6, steps)) · (βend − βstart) + βstart (GeoDiff); "linear". */
  schedule: "sigmoid" | "linear";
  steps: number;
  betaStart: number;
  betaEnd: number;
  /** Steps used when sampling (evenly spaced over the schedule; the paper: 50). */
  samplingSteps: number;
}

/** GeoDiff's GEOM-Drugs schedule. */
export const GEODIFF_DRUGS_DIFFUSION: DiffusionConfig = { schedule: "sigmoid", steps: 5000, betaStart: 1e-7, betaEnd: 2e-3, samplingSteps: 50 };

/**
 * The drugs schedule on `steps` steps: β scaled by 5000/steps so that the cumulative noise (and hence
 * the ᾱ curve as a function of the fraction of the schedule) stays close to GeoDiff's.
 */
export function rescaledDrugsSchedule(steps: number, samplingSteps: number): DiffusionConfig {
  const f = GEODIFF_DRUGS_DIFFUSION.steps / steps;
  return { schedule: "sigmoid", steps, betaStart: GEODIFF_DRUGS_DIFFUSION.betaStart * f, betaEnd: GEODIFF_DRUGS_DIFFUSION.betaEnd * f, samplingSteps };
}

const KEYS = fieldNames<DiffusionConfig>({ schedule: true, steps: true, betaStart: true, betaEnd: true, samplingSteps: true });

export function checkDiffusionConfig(partial: Partial<DiffusionConfig>, field = "diffusion"): DiffusionConfig {
  if (typeof partial !== "object" || partial === null) throw new ConfigError(field, "expected an object");
  checkKnownKeys(field, partial, KEYS);
  const c = { ...GEODIFF_DRUGS_DIFFUSION, ...partial };
  checkOneOf(`${field}.schedule`, c.schedule, ["sigmoid", "linear"] as const);
  checkInt(`${field}.steps`, c.steps, { min: 2, max: 1_000_000 });
  checkNumber(`${field}.betaStart`, c.betaStart, { exclusiveMin: 0, max: 1 });
  checkNumber(`${field}.betaEnd`, c.betaEnd, { min: c.betaStart, max: 0.999 });
  checkInt(`${field}.samplingSteps`, c.samplingSteps, { min: 1, max: c.steps });
  return c;
}

/** β_1..β_T of the schedule (index t-1 for step t). */
export function betaSchedule(c: DiffusionConfig): Float64Array {
  const out = new Float64Array(c.steps);
  for (let i = 0; i < c.steps; i++) {
    const u = c.steps === 1 ? 0 : i / (c.steps - 1);
    const w = c.schedule === "sigmoid" ? 1 / (1 + Math.exp(-(-6 + 12 * u))) : u;
    out[i] = w * (c.betaEnd - c.betaStart) + c.betaStart;
  }
  return out;
}

/** ᾱ_t = Π_{s ≤ t} (1 − β_s). */
export function alphaBars(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let prod = 1;
  for (let i = 0; i < betas.length; i++) out[i] = prod *= 1 - betas[i];
  return out;
}

/** The schedule's step indices (0-based, increasing, last = steps−1) that sampling visits. */
export function samplingTimesteps(c: DiffusionConfig): Int32Array {
  const s = c.samplingSteps;
  const out = new Int32Array(s);
  for (let i = 0; i < s; i++) out[i] = s === 1 ? c.steps - 1 : Math.round((i * (c.steps - 1)) / (s - 1));
  return out;
}

/** Standard normal noise with each molecule's mean removed (atoms of molecule g: sizes[g] consecutive rows). */
export function centredNoise(sizes: ArrayLike<number>, rng: Rng): Float32Array {
  const total = Array.from(sizes).reduce((a, b) => a + b, 0);
  const out = new Float32Array(3 * total);
  let o = 0;
  for (let g = 0; g < sizes.length; g++) {
    const n = sizes[g];
    const mean = [0, 0, 0];
    for (let i = 0; i < 3 * n; i++) {
      const v = rng.normal();
      out[3 * o + i] = v;
      mean[i % 3] += v / n;
    }
    for (let i = 0; i < 3 * n; i++) out[3 * o + i] -= mean[i % 3];
    o += n;
  }
  return out;
}

/** Centred copy of one conformer's coordinates. */
export function centreXyz(xyz: Float32Array): Float32Array {
  const n = xyz.length / 3;
  const mean = [0, 0, 0];
  for (let i = 0; i < xyz.length; i++) mean[i % 3] += xyz[i] / n;
  return Float32Array.from(xyz, (v, i) => v - mean[i % 3]);
}

/** One noised batch: which conformers, at which steps, with which noise. Everything the loss needs. */
export interface NoisedBatch {
  molecules: MoleculeGraph[];
  /** Step index (0-based) per molecule of the batch. */
  steps: Int32Array;
  /** ε, centred per molecule, concatenated. */
  noise: Float32Array;
  /** x_t, concatenated. */
  noisy: Float32Array;
}

/** Noises conformers `indices` of `set` at steps `steps` with noise drawn from `rng`. */
export function noiseBatch(set: ConformationSet, indices: ArrayLike<number>, steps: Int32Array, alphaBar: Float64Array, rng: Rng): NoisedBatch {
  const molecules = Array.from(indices, (j) => set.molecules[set.conformers[j].molecule]);
  const noise = centredNoise(
    molecules.map((m) => m.atomicNumbers.length),
    rng,
  );
  const noisy = new Float32Array(noise.length);
  let o = 0;
  for (let k = 0; k < indices.length; k++) {
    const x0 = centreXyz(set.conformers[indices[k]].xyz);
    const ab = alphaBar[steps[k]];
    const a = Math.sqrt(ab);
    const s = Math.sqrt(1 - ab);
    for (let i = 0; i < x0.length; i++) noisy[o + i] = a * x0[i] + s * noise[o + i];
    o += x0.length;
  }
  return { molecules, steps, noise, noisy };
}

/** Per-node fraction t/(T−1) of each molecule's step. */
function stepFractions(batch: { molecules: readonly MoleculeGraph[]; steps: Int32Array }, totalSteps: number): Float32Array {
  const out: number[] = [];
  batch.molecules.forEach((m, g) => {
    for (let a = 0; a < m.atomicNumbers.length; a++) out.push(batch.steps[g] / Math.max(1, totalSteps - 1));
  });
  return Float32Array.from(out);
}

/**
 * A noised batch as tensors, padded (egnn `padGraphBatch`): the graph, step features, x_t and ε (zero
 * rows for the padding), the real-node `mask` [N, 1] (1, 0 for padding) and `count`, the number of
 * real coordinates (a float32 scalar). Free with disposePreparedBatch, or inside a tidy.
 */
export interface PreparedBatch {
  graph: GraphBatch;
  tensors: BatchTensors;
  noisy: tf.Tensor2D;
  noise: tf.Tensor2D;
  mask: tf.Tensor2D;
  count: tf.Scalar;
}

export function prepareBatch(model: EgnnConfig, diffusion: DiffusionConfig, batch: NoisedBatch): PreparedBatch {
  const graph = padGraphBatch(buildGraphBatch(batch.molecules, batch.noisy, model.radius));
  const rows = (values: Float32Array) => {
    const out = new Float32Array(3 * graph.numNodes);
    out.set(values);
    return tf.tensor2d(out, [graph.numNodes, 3]);
  };
  return {
    graph,
    tensors: batchTensors(model, graph, stepFractions(batch, diffusion.steps)),
    noisy: rows(batch.noisy),
    noise: rows(batch.noise),
    mask: tf.tensor2d(Float32Array.from({ length: graph.numNodes }, (_, i) => (i < graph.realNodes ? 1 : 0)), [graph.numNodes, 1]),
    count: tf.scalar(3 * graph.realNodes),
  };
}

/** Every tensor of a prepared batch (the inputs of a compiled step). */
export function preparedTensors(p: PreparedBatch): tf.Tensor[] {
  return [...batchTensorList(p.tensors), p.noisy, p.noise, p.mask, p.count];
}

export function disposePreparedBatch(p: PreparedBatch): void {
  disposeBatchTensors(p.tensors);
  tf.dispose([p.noisy, p.noise, p.mask, p.count]);
}

/**
 * Mean squared error of the predicted noise (per coordinate of the real atoms) on a prepared batch:
 * Σ mask · (ε̂ − ε)² / count, which is the mean over the unpadded batch. The batch tensors are
 * created outside the function that tf.variableGrads differentiates: tensors created inside it are
 * freed before the backward pass, and the message-passing gradients need the edge lists.
 */
export function denoisingLoss(model: EgnnConfig, params: Params, batch: Omit<PreparedBatch, "graph">): tf.Scalar {
  return tf.tidy(() => {
    const pred = egnnForward(model, params, batch.tensors, batch.noisy);
    return tf.sum(tf.mul(tf.div(tf.square(tf.sub(pred, batch.noise)), batch.count), batch.mask)) as tf.Scalar;
  });
}

/** denoisingLoss as a compiled step of the parameters and preparedTensors(batch). */
function compiledLoss(model: EgnnConfig): (params: Params, batch: readonly tf.Tensor[]) => tf.Tensor[] {
  return compiledWithParams("denoising_loss", model, (params, t) => {
    const [noisy, noise, mask, count] = t.slice(BATCH_TENSOR_COUNT) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Scalar];
    return [denoisingLoss(model, params, { tensors: batchTensorsFromList(t), noisy, noise, mask, count })];
  });
}

/** egnnForward as a compiled step of the parameters and [batch tensors, x]. */
function compiledPrediction(model: EgnnConfig): (params: Params, inputs: readonly tf.Tensor[]) => tf.Tensor[] {
  return compiledWithParams("denoise", model, (params, t) => [egnnForward(model, params, batchTensorsFromList(t), t[BATCH_TENSOR_COUNT] as tf.Tensor2D)]);
}

/** A fixed set of (conformer, step, noise) draws for an evaluation that is the same for every model. */
export interface EvaluationDraws {
  batches: NoisedBatch[];
}

/** `repeats` noised copies of every conformer of `set`, in batches of `batchSize`, from `rng`. */
export function evaluationDraws(set: ConformationSet, diffusion: DiffusionConfig, repeats: number, batchSize: number, rng: Rng): EvaluationDraws {
  const alphaBar = alphaBars(betaSchedule(diffusion));
  const all: number[] = [];
  for (let r = 0; r < repeats; r++) for (let j = 0; j < set.conformers.length; j++) all.push(j);
  const batches: NoisedBatch[] = [];
  for (let i = 0; i < all.length; i += batchSize) {
    const idx = all.slice(i, i + batchSize);
    const steps = Int32Array.from(idx, () => rng.int(diffusion.steps));
    batches.push(noiseBatch(set, idx, steps, alphaBar, rng));
  }
  return { batches };
}

/** The mean denoising loss over fixed draws (weighted by atoms·3, i.e. per coordinate). */
export function evaluateDenoisingLoss(model: EgnnConfig, diffusion: DiffusionConfig, params: Params, draws: EvaluationDraws): number {
  let total = 0;
  let count = 0;
  const lossOf = compiledLoss(model);
  for (const b of draws.batches) {
    const prepared = prepareBatch(model, diffusion, b);
    try {
      const loss = lossOf(params, preparedTensors(prepared))[0];
      total += loss.dataSync()[0] * b.noise.length;
      count += b.noise.length;
      loss.dispose();
    } finally {
      disposePreparedBatch(prepared);
    }
  }
  return total / count;
}

// ---------------------------------------------------------------------------------------------------
// Training

export interface MoleculeTrainConfig extends OptimizerConfig, ScheduleConfig {
  /** Optimizer steps per model fit when `epochs` is 0 (then fixed, whatever the size of the training set). */
  steps: number;
  /**
   * Passes over the training set per fit (> 0: steps = round(epochs · conformers / batchSize), so an
   * accumulated training set gets proportionally more steps, as with the paper's fixed-epoch training).
   */
  epochs: number;
  /** Conformers per step. */
  batchSize: number;
  weightDecay: number;
  /** Report the (smoothed) training loss every this many steps. */
  reportEvery: number;
}

export const MOLECULE_TRAIN_DEFAULTS: MoleculeTrainConfig = {
  steps: 1000,
  epochs: 0,
  batchSize: 32,
  learningRate: 1e-3,
  minLearningRate: 1e-4,
  warmupFraction: 0.02,
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.999,
  gradClip: 10,
  reportEvery: 50,
};

export function checkMoleculeTrainConfig(partial: Partial<MoleculeTrainConfig>, field = "train"): MoleculeTrainConfig {
  if (typeof partial !== "object" || partial === null) throw new ConfigError(field, "expected an object");
  checkKnownKeys(field, partial, Object.keys(MOLECULE_TRAIN_DEFAULTS));
  const c = { ...MOLECULE_TRAIN_DEFAULTS, ...partial };
  checkInt(`${field}.steps`, c.steps, { min: 1 });
  checkNumber(`${field}.epochs`, c.epochs, { min: 0 });
  checkInt(`${field}.batchSize`, c.batchSize, { min: 1 });
  checkOptimizerConfig(field, c);
  checkInt(`${field}.reportEvery`, c.reportEvery, { min: 1 });
  return c;
}

/** Optimizer steps of a fit on `conformers` training conformers. */
/** `c` with `scale` times its training work: more epochs, or more fixed steps (replace-matched-compute). */
export function scaledMoleculeTraining(c: MoleculeTrainConfig, scale: number): MoleculeTrainConfig {
  if (scale === 1) return c;
  return c.epochs > 0 ? { ...c, epochs: c.epochs * scale } : { ...c, steps: Math.round(c.steps * scale) };
}

export function trainingSteps(c: MoleculeTrainConfig, conformers: number): number {
  return c.epochs > 0 ? Math.max(1, Math.round((c.epochs * conformers) / c.batchSize)) : c.steps;
}

export interface MoleculeTrainProgress {
  step: number;
  steps: number;
  /** Mean training loss over the steps since the last report. */
  trainLoss: number;
  learningRate: number;
}

/**
 * Fits `params` (in place) to denoise the conformers of `set`: Adam(W) with warmup + cosine decay and
 * global-norm clipping, batches of conformers drawn in a seeded order (reshuffled every pass), a fresh
 * step and noise per conformer and step. Returns the mean training loss of the last report window.
 */
export async function trainDiffusion(
  model: EgnnConfig,
  diffusion: DiffusionConfig,
  params: Params,
  set: ConformationSet,
  c: MoleculeTrainConfig,
  rng: Rng,
  onProgress?: (p: MoleculeTrainProgress) => void,
  checkpoint?: FitCheckpoint,
): Promise<number> {
  if (set.conformers.length === 0) throw new ConfigError("train", "no training conformers");
  const alphaBar = alphaBars(betaSchedule(diffusion));
  const order = new ShuffledOrder(rng.fork("order"), set.conformers.length);
  const draws = rng.fork("noise");
  let windowSum = 0;
  let windowCount = 0;
  let last = NaN;
  const total = trainingSteps(c, set.conformers.length);
  await fit({
    params,
    steps: total,
    optimizer: c,
    decays: (n) => params[n].shape.length >= 2,
    learningRate: (step) => learningRateAt(c, step, total),
    batch: () => {
      const idx: number[] = [];
      while (idx.length < Math.min(c.batchSize, set.conformers.length)) idx.push(order.next());
      const steps = Int32Array.from(idx, () => draws.int(diffusion.steps));
      return noiseBatch(set, idx, steps, alphaBar, draws);
    },
    loss: (batch) => {
      const prepared = prepareBatch(model, diffusion, batch);
      return { inputs: preparedTensors(prepared), value: () => denoisingLoss(model, params, prepared) };
    },
    checkpoint,
    hostState: {
      save: () => ({ order: order.state(), draws: draws.state(), windowSum, windowCount, last }),
      restore(state) {
        const s = state as { order: ReturnType<ShuffledOrder["state"]>; draws: RngState; windowSum: number; windowCount: number; last: number | null };
        order.restore(s.order);
        draws.restore(s.draws);
        windowSum = s.windowSum;
        windowCount = s.windowCount;
        last = s.last ?? NaN;
      },
    },
    afterStep: (step, v) => {
      windowSum += v.loss;
      windowCount++;
      if ((step + 1) % c.reportEvery === 0 || step === total - 1) {
        last = windowSum / windowCount;
        onProgress?.({ step: step + 1, steps: total, trainLoss: last, learningRate: v.learningRate });
        windowSum = 0;
        windowCount = 0;
      }
    },
  });
  return last;
}

// ---------------------------------------------------------------------------------------------------
// Sampling

/**
 * Generates one conformation per entry of `molecules` by ancestral DDPM sampling over the schedule's
 * sampling steps τ_S > ... > τ_1: starting from centred N(0, I) noise, each step moves to
 *   x ← (x − β'/√(1 − ᾱ_τ) · ε̂) / √(1 − β') + σ · z,   β' = 1 − ᾱ_τ / ᾱ_τprev,  σ² = β'(1 − ᾱ_τprev)/(1 − ᾱ_τ)
 * (no noise at the last step). Returns centred coordinates, one Float32Array per molecule.
 */
export async function sampleConformations(
  model: EgnnConfig,
  diffusion: DiffusionConfig,
  params: Params,
  molecules: readonly MoleculeGraph[],
  batchSize: number,
  rng: Rng,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const prediction = compiledPrediction(model);
  for (let start = 0; start < molecules.length; start += batchSize) {
    const mols = molecules.slice(start, start + batchSize);
    const predict = (x: Float32Array, tau: number): Float32Array => {
      const steps = new Int32Array(mols.length).fill(tau);
      const graph = padGraphBatch(buildGraphBatch(mols, x, model.radius));
      const bt = batchTensors(model, graph, stepFractions({ molecules: mols, steps }, diffusion.steps));
      const padded = new Float32Array(3 * graph.numNodes);
      padded.set(x);
      try {
        // (tidy must not return the typed array: it would walk every element looking for tensors)
        const pred = tf.tidy(() => prediction(params, [...batchTensorList(bt), tf.tensor2d(padded, [graph.numNodes, 3])])[0]);
        const eps = (pred.dataSync() as Float32Array).slice(0, x.length);
        pred.dispose();
        return eps;
      } finally {
        disposeBatchTensors(bt);
      }
    };
    out.push(...(await ancestralSample(diffusion, mols.map((m) => m.atomicNumbers.length), predict, rng.fork("batch", start))));
  }
  return out;
}

/**
 * The sampler of sampleConformations for one batch of molecules of the given sizes (atoms), with any
 * noise predictor `predict(x, τ)` → ε̂ (flat [atoms × 3] coordinates): the model's, or an oracle in
 * tests. Returns each molecule's centred coordinates.
 */
export async function ancestralSample(diffusion: DiffusionConfig, sizes: readonly number[], predict: (x: Float32Array, tau: number) => Float32Array, r: Rng): Promise<Float32Array[]> {
  const alphaBar = alphaBars(betaSchedule(diffusion));
  const taus = samplingTimesteps(diffusion);
  let x = centredNoise(sizes, r);
  for (let i = taus.length - 1; i >= 0; i--) {
    const tau = taus[i];
    const abT = alphaBar[tau];
    const abPrev = i > 0 ? alphaBar[taus[i - 1]] : 1;
    const beta = 1 - abT / abPrev;
    const eps = predict(x, tau);
    const a = beta / Math.sqrt(1 - abT);
    const b = 1 / Math.sqrt(1 - beta);
    const next = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) next[k] = (x[k] - a * eps[k]) * b;
    if (i > 0) {
      const sigma = Math.sqrt((beta * (1 - abPrev)) / (1 - abT));
      const z = centredNoise(sizes, r);
      for (let k = 0; k < x.length; k++) next[k] += sigma * z[k];
    }
    for (const val of next) if (!Number.isFinite(val)) throw new Error(`sampling diverged at step ${tau} (a non-finite coordinate)`);
    x = next;
    await yieldToEventLoop();
  }
  const out: Float32Array[] = [];
  let o = 0;
  for (const n of sizes) {
    out.push(centreXyz(x.subarray(3 * o, 3 * (o + n))));
    o += n;
  }
  return out;
}
