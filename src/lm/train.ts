import * as tf from "@tensorflow/tfjs";
import { ConfigError, checkInt, checkKnownKeys, checkNumber } from "../errors";
import type { Rng } from "../random";
import { forward } from "./model";
import type { LmConfig } from "./types";
import { type OptimizerConfig, type ScheduleConfig, ShuffledOrder, checkOptimizerConfig, fit, learningRateAt, type FitCheckpoint, epochSteps } from "../nn/fit";
import { compiledWithParams } from "../nn/compiled";
import type { Params } from "../nn/params";

/** Optimisation settings of one model fit (the same for every iteration of a sequence). */
export interface TrainConfig extends OptimizerConfig, ScheduleConfig {
  batchSize: number;
  /** Tokens per training sequence (≤ the model's context length). */
  sequenceLength: number;
  /** Passes over the iteration's training tokens (the paper: 1). */
  epochs: number;
  /** Optional cap on optimizer steps (e.g. for smoke runs). */
  maxSteps?: number;
  /**
   * Sequences per forward/backward pass (gradient accumulation: the batch's gradient is summed over
   * micro-batches of this size, the same update up to float rounding); also the evaluation batch.
   * Default: the whole batch at once. What bounds a fit's memory at the paper's batch of 64 × 512.
   */
  microBatchSize?: number;
  weightDecay: number;
  /** Evaluate test cross-entropy every this many steps (learning curves); 0 = only at the end. */
  evalEvery: number;
  /** Validation sequences used by the evaluations during a fit (0 = all); the one at its end uses all. */
  evalSequences: number;
}

export const TRAIN_DEFAULTS: TrainConfig = {
  batchSize: 16,
  sequenceLength: 128,
  epochs: 1,
  learningRate: 3e-3,
  minLearningRate: 3e-4,
  warmupFraction: 0.05,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  gradClip: 1,
  evalEvery: 0,
  evalSequences: 0,
};

const KEYS = Object.keys(TRAIN_DEFAULTS).concat("maxSteps", "microBatchSize");

export function checkTrainConfig(partial: Partial<TrainConfig>, model: LmConfig, field = "train"): TrainConfig {
  checkKnownKeys(field, partial, KEYS);
  const c = { ...TRAIN_DEFAULTS, ...partial };
  checkInt(`${field}.batchSize`, c.batchSize, { min: 1 });
  checkInt(`${field}.sequenceLength`, c.sequenceLength, { min: 2, max: model.contextLength });
  checkNumber(`${field}.epochs`, c.epochs, { exclusiveMin: 0 });
  if (c.maxSteps !== undefined) checkInt(`${field}.maxSteps`, c.maxSteps, { min: 1 });
  if (c.microBatchSize !== undefined) checkInt(`${field}.microBatchSize`, c.microBatchSize, { min: 1, max: c.batchSize });
  checkOptimizerConfig(field, c);
  checkInt(`${field}.evalEvery`, c.evalEvery, { min: 0 });
  checkInt(`${field}.evalSequences`, c.evalSequences, { min: 0 });
  return c;
}

/**
 * Cuts a token stream into non-overlapping windows of sequenceLength + 1 tokens (input + shifted
 * target). Documents are concatenated with their end-of-document tokens, as in GPT pretraining.
 */
export function windows(tokens: Int32Array, sequenceLength: number): Int32Array[] {
  const span = sequenceLength + 1;
  const out: Int32Array[] = [];
  for (let start = 0; start + span <= tokens.length; start += sequenceLength) out.push(tokens.subarray(start, start + span));
  return out;
}

/** Mean cross-entropy (nats/token) of the next-token predictions of a batch of windows. */
export function crossEntropy(config: LmConfig, params: Params, batch: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [b, span] = batch.shape;
    const inputs = batch.slice([0, 0], [b, span - 1]);
    const targets = batch.slice([0, 1], [b, span - 1]);
    const logits = forward(config, params, inputs);
    return softmaxCrossEntropy(logits.reshape([-1, config.vocabSize]) as tf.Tensor2D, targets.reshape([-1]) as tf.Tensor1D);
  });
}

/**
 * Mean of −log softmax(logits)[target] over the rows of logits [N, V], with a hand-written gradient
 * (softmax − onehot) / N. tfjs' logSoftmax + oneHot product makes about a dozen passes over the N×V
 * logits forward and backward, two of them exponentials (slow on wasm); this makes one exponential
 * and reuses it in the gradient (measured: ~8% of a gpt2-quick training step).
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  const [n, vocab] = logits.shape;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, t, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const shifted = tf.sub(x, tf.max(x, -1, true));
    const exps = tf.exp(shifted);
    const sums = tf.sum(exps, -1, true);
    const flat = tf.add(tf.mul(tf.range(0, n, 1, "int32"), tf.scalar(vocab, "int32")), t);
    const picked = tf.gather(shifted.reshape([-1]), flat);
    save([exps, sums, t]);
    return {
      value: tf.mean(tf.sub(tf.log(sums).reshape([-1]), picked)),
      gradFunc: (dy, [e, s, ids]) => {
        const scale = tf.div(dy, n);
        const dx = tf.sub(tf.mul(e, tf.div(scale, s)), tf.mul(tf.oneHot(ids as tf.Tensor1D, vocab), scale));
        return [dx, tf.zerosLike(ids)];
      },
    };
  });
  return op(logits, targets) as tf.Scalar;
}

/** Test cross-entropy on held-out real windows (no gradients), in nats per token. */
export function evaluateCrossEntropy(config: LmConfig, params: Params, valid: readonly Int32Array[], batchSize: number): number {
  if (valid.length === 0) throw new Error("no validation windows: the validation text is shorter than one sequence");
  const evaluate = compiledWithParams(`evaluate_${config.name}`, config, (p, [batch]) => [crossEntropy(config, p, batch as tf.Tensor2D)]);
  let total = 0;
  for (let i = 0; i < valid.length; i += batchSize) {
    const rows = valid.slice(i, i + batchSize);
    const loss = tf.tidy(() => evaluate(params, [stack(rows)])[0]);
    total += loss.dataSync()[0] * rows.length;
    loss.dispose();
  }
  return total / valid.length;
}

function stack(rows: readonly Int32Array[]): tf.Tensor2D {
  const span = rows[0].length;
  const flat = new Int32Array(rows.length * span);
  rows.forEach((r, i) => flat.set(r, i * span));
  return tf.tensor2d(flat, [rows.length, span], "int32");
}

export interface TrainProgress {
  step: number;
  steps: number;
  tokens: number;
  trainLoss: number;
  learningRate: number;
  /** Present at evaluation steps. */
  testCrossEntropy?: number;
}

export interface TrainResult {
  steps: number;
  tokens: number;
  seconds: number;
  finalTrainLoss: number;
  /** The test cross-entropy on every validation window after the last step (when progress is reported). */
  finalTestCrossEntropy?: number;
}

/**
 * One model fit: AdamW (decoupled weight decay on matrices only, not on norms, biases or positions),
 * warmup + cosine learning rate, global-norm gradient clipping, `epochs` passes over the windows in a
 * seeded order. The parameters are updated in place.
 */
export async function train(
  config: LmConfig,
  params: Params,
  trainWindows: readonly Int32Array[],
  valid: readonly Int32Array[],
  c: TrainConfig,
  rng: Rng,
  onProgress?: (p: TrainProgress) => void,
  checkpoint?: FitCheckpoint,
): Promise<TrainResult> {
  if (trainWindows.length === 0) throw new ConfigError("train", "the training text is shorter than one sequence");
  const total = epochSteps(trainWindows.length, c.batchSize, c.epochs, c.maxSteps);
  // Decay matrices only: not norms, biases or learned positions.
  const decays = (n: string) => params[n].shape.length >= 2 && !/(^|\.)wpe$/.test(n);
  const evalSet = c.evalSequences > 0 ? valid.slice(0, c.evalSequences) : valid;
  const evalBatch = c.microBatchSize ?? c.batchSize;
  const order = new ShuffledOrder(rng, trainWindows.length);
  let tokens = 0;
  let finalTestCrossEntropy: number | undefined;
  const r = await fit({
    params,
    steps: total,
    optimizer: c,
    decays,
    learningRate: (step) => learningRateAt(c, step, total),
    batch: () => Array.from(order.take(c.batchSize), (i) => trainWindows[i]),
    loss: (rows) => {
      const batch = stack(rows);
      return { inputs: [batch], value: () => crossEntropy(config, params, batch) };
    },
    microBatches: (rows) => {
      const size = c.microBatchSize ?? rows.length;
      const parts: { part: Int32Array[]; share: number }[] = [];
      for (let i = 0; i < rows.length; i += size) parts.push({ part: rows.slice(i, i + size), share: Math.min(size, rows.length - i) / rows.length });
      return parts;
    },
    checkpoint,
    hostState: {
      save: () => ({ order: order.state(), tokens }),
      restore(state) {
        const s = state as { order: ReturnType<ShuffledOrder["state"]>; tokens: number };
        order.restore(s.order);
        tokens = s.tokens;
      },
    },
    afterStep: (step, v, rows) => {
      tokens += rows.length * (rows[0].length - 1);
      const evaluate = (c.evalEvery > 0 && (step + 1) % c.evalEvery === 0) || step === total - 1;
      const progress: TrainProgress = { step: step + 1, steps: total, tokens, trainLoss: v.loss, learningRate: v.learningRate };
      // The curve ends at the full test cross-entropy, the value the iteration records.
      if (evaluate && onProgress) progress.testCrossEntropy = evaluateCrossEntropy(config, params, step === total - 1 ? valid : evalSet, evalBatch);
      if (step === total - 1) finalTestCrossEntropy = progress.testCrossEntropy;
      onProgress?.(progress);
    },
  });
  return { steps: total, tokens, seconds: r.seconds, finalTrainLoss: r.lastLoss, finalTestCrossEntropy };
}
