import * as tf from "@tensorflow/tfjs";
import { ConfigError, checkInt, checkKnownKeys, checkNumber } from "../errors";
import type { ImageSet } from "../images/types";
import type { Rng, RngState } from "../random";
import { type VaeConfig, elbo } from "./model";
import type { Params } from "../nn/params";
import { type OptimizerConfig, ShuffledOrder, checkOptimizerConfig, fit, type FitCheckpoint, epochSteps } from "../nn/fit";

/** Optimisation settings of one VAE fit. */
export interface VaeTrainConfig extends OptimizerConfig {
  /** Passes over the iteration's training images (the paper: 100). */
  epochs: number;
  batchSize: number;
  /** Report the mean training metrics every this many steps (and at the last step). */
  reportEvery: number;
  /** Optional cap on optimizer steps (smoke runs). */
  maxSteps?: number;
}

export const VAE_TRAIN_DEFAULTS: VaeTrainConfig = {
  epochs: 10,
  batchSize: 64,
  learningRate: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  gradClip: 0,
  reportEvery: 20,
};

export function checkVaeTrainConfig(partial: Partial<VaeTrainConfig>, field = "train"): VaeTrainConfig {
  if (typeof partial !== "object" || partial === null) throw new ConfigError(field, "expected an object");
  checkKnownKeys(field, partial, [...Object.keys(VAE_TRAIN_DEFAULTS), "maxSteps"]);
  const c = { ...VAE_TRAIN_DEFAULTS, ...partial };
  checkNumber(`${field}.epochs`, c.epochs, { exclusiveMin: 0 });
  checkInt(`${field}.batchSize`, c.batchSize, { min: 1 });
  checkOptimizerConfig(field, c);
  checkInt(`${field}.reportEvery`, c.reportEvery, { min: 1 });
  if (c.maxSteps !== undefined) checkInt(`${field}.maxSteps`, c.maxSteps, { min: 1 });
  return c;
}

/** `c` with `scale` times its training work: more epochs, and a proportionally larger step cap (replace-matched-compute). */
export function scaledVaeTraining(c: VaeTrainConfig, scale: number): VaeTrainConfig {
  if (scale === 1) return c;
  return { ...c, epochs: c.epochs * scale, ...(c.maxSteps !== undefined ? { maxSteps: Math.round(c.maxSteps * scale) } : {}) };
}

export interface VaeTrainResult {
  steps: number;
  seconds: number;
  /** Mean −ELBO (nats/image) over the last reporting window. */
  finalLoss: number;
}

/** Images [indices] as a [B, S, S, 3] tensor. */
export function batchTensor(set: ImageSet, indices: ArrayLike<number>): tf.Tensor4D {
  const per = set.height * set.width * 3;
  const flat = new Float32Array(indices.length * per);
  for (let k = 0; k < indices.length; k++) flat.set(set.images.subarray(indices[k] * per, (indices[k] + 1) * per), k * per);
  return tf.tensor4d(flat, [indices.length, set.height, set.width, 3]);
}

/** [rows, cols] standard normal draws from `rng`, as a tensor. */
export function normalTensor(rng: Rng, rows: number, cols: number): tf.Tensor2D {
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return tf.tensor2d(values, [rows, cols]);
}

/**
 * Fits the VAE parameters in place: Adam on the mean −ELBO of minibatches, `epochs` passes over the
 * images in a fresh seeded order each (the last batch of an epoch may be smaller). `report` receives
 * the mean loss, reconstruction and KL (nats/image) of each window of `reportEvery` steps. The fit
 * yields to the event loop every 200 ms (nn/fit), so notebooks stay responsive and Ctrl-C works.
 */
export async function trainVae(
  model: VaeConfig,
  params: Params,
  data: ImageSet,
  c: VaeTrainConfig,
  rng: Rng,
  report?: (step: number, metrics: Readonly<Record<string, number>>) => void,
  checkpoint?: FitCheckpoint,
): Promise<VaeTrainResult> {
  if (data.n === 0) throw new ConfigError("train", "no training images");
  if (data.height !== model.imageSize || data.width !== model.imageSize) {
    throw new ConfigError("model.imageSize", `the model takes ${model.imageSize}×${model.imageSize} images, the data are ${data.height}×${data.width}`);
  }
  const total = epochSteps(data.n, c.batchSize, c.epochs, c.maxSteps);
  const order = new ShuffledOrder(rng.fork("order"), data.n);
  const noise = rng.fork("noise");
  let window = { loss: 0, reconstruction: 0, kl: 0, steps: 0 };
  let finalLoss = NaN;
  const r = await fit({
    params,
    steps: total,
    optimizer: c,
    what: "VAE training",
    learningRate: () => c.learningRate,
    batch: () => order.take(c.batchSize),
    loss: (rows) => {
      const x = batchTensor(data, rows);
      const eps = normalTensor(noise, rows.length, model.latentDim);
      let terms: Record<string, tf.Scalar> = {};
      return {
        inputs: [x, eps],
        value: () => {
          const t = elbo(model, params, x, eps);
          terms = { reconstruction: tf.keep(tf.mean(t.reconstruction)), kl: tf.keep(tf.mean(t.kl)) } as Record<string, tf.Scalar>;
          return tf.mean(t.negElbo) as tf.Scalar;
        },
        extras: () => terms,
      };
    },
    checkpoint,
    hostState: {
      save: () => ({ order: order.state(), noise: noise.state(), window, finalLoss }),
      restore(state) {
        const s = state as { order: ReturnType<ShuffledOrder["state"]>; noise: RngState; window: typeof window; finalLoss: number | null };
        order.restore(s.order);
        noise.restore(s.noise);
        window = s.window;
        finalLoss = s.finalLoss ?? NaN;
      },
    },
    afterStep: (step, v) => {
      window = { loss: window.loss + v.loss, reconstruction: window.reconstruction + v.reconstruction, kl: window.kl + v.kl, steps: window.steps + 1 };
      if ((step + 1) % c.reportEvery === 0 || step === total - 1) {
        const k = window.steps;
        finalLoss = window.loss / k;
        report?.(step + 1, { loss: finalLoss, reconstruction: window.reconstruction / k, kl: window.kl / k, images: Math.min(data.n * c.epochs, (step + 1) * c.batchSize) });
        window = { loss: 0, reconstruction: 0, kl: 0, steps: 0 };
      }
    },
  });
  return { steps: total, seconds: r.seconds, finalLoss };
}

/** Mean −ELBO, reconstruction and KL (nats/image) over a set of images, with noise from `rng`. */
export function evaluateElbo(model: VaeConfig, params: Params, data: ImageSet, rng: Rng, batchSize = 128): { negElbo: number; reconstruction: number; kl: number } {
  if (data.n === 0) throw new ConfigError("testImages", "no test images to evaluate on");
  const sums = [0, 0, 0];
  for (let start = 0; start < data.n; start += batchSize) {
    const rows = Int32Array.from({ length: Math.min(batchSize, data.n - start) }, (_, k) => start + k);
    const batchSums = tf.tidy(() => {
      const t = elbo(model, params, batchTensor(data, rows), normalTensor(rng, rows.length, model.latentDim));
      return [t.negElbo, t.reconstruction, t.kl].map((s) => tf.sum(s).dataSync()[0]);
    });
    batchSums.forEach((s, i) => (sums[i] += s));
  }
  return { negElbo: sums[0] / data.n, reconstruction: sums[1] / data.n, kl: sums[2] / data.n };
}
