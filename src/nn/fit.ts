import * as tf from "@tensorflow/tfjs";
import { type AdamWConfig, adamWDispose, adamWInit, adamWStep } from "./adamw";
import { checkNumber } from "../errors";
import type { Params } from "./params";

/**
 * The kit's one training loop (`fit`) and what it is made of: the learning-rate schedule, the
 * divergence stop and yielding to the event loop (so that notebooks stay responsive and Ctrl-C works).
 */

/** The parts of a training config the schedule reads. */
export interface ScheduleConfig {
  learningRate: number;
  minLearningRate: number;
  /** Share of the steps spent warming up linearly from 0 (at least one step). */
  warmupFraction: number;
}

/** The optimizer fields every training config has (the schedule's `learningRate` is the peak). */
export interface OptimizerConfig extends AdamWConfig {
  learningRate: number;
}

/**
 * Checks the optimizer fields of a training config, and those of the schedule where it has them:
 * one set of bounds for every model's config, each error naming `field`.key.
 */
export function checkOptimizerConfig(field: string, c: OptimizerConfig & Partial<ScheduleConfig>): void {
  checkNumber(`${field}.learningRate`, c.learningRate, { exclusiveMin: 0 });
  if (c.minLearningRate !== undefined) checkNumber(`${field}.minLearningRate`, c.minLearningRate, { min: 0, max: c.learningRate });
  if (c.warmupFraction !== undefined) checkNumber(`${field}.warmupFraction`, c.warmupFraction, { min: 0, max: 1 });
  if (c.weightDecay !== undefined) checkNumber(`${field}.weightDecay`, c.weightDecay, { min: 0 });
  checkNumber(`${field}.beta1`, c.beta1, { min: 0, max: 0.999999 });
  checkNumber(`${field}.beta2`, c.beta2, { min: 0, max: 0.999999 });
  checkNumber(`${field}.gradClip`, c.gradClip, { min: 0 });
}

/** Learning rate at `step` (0-based) of `total`: linear warmup, then cosine decay to the minimum. */
export function learningRateAt(c: ScheduleConfig, step: number, total: number): number {
  const warmup = Math.max(1, Math.round(c.warmupFraction * total));
  if (step < warmup) return (c.learningRate * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return c.minLearningRate + 0.5 * (c.learningRate - c.minLearningRate) * (1 + Math.cos(Math.PI * progress));
}

/** A NaN or infinite loss: the fit is stopped and the step is named. */
export class DivergenceError extends Error {
  constructor(
    readonly step: number,
    loss: number,
    what = "training",
  ) {
    super(`${what} diverged at step ${step} (loss ${loss}); lower the learning rate or set/raise gradClip`);
    this.name = "DivergenceError";
  }
}

/** Lets timers, I/O and notebook messages run during a long synchronous computation. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * One optimizer step's work, as a model supplies it to `fit`. `batch` draws the step's data on the
 * host (every random draw from the caller's generators, in order); `loss` turns it into tensors and
 * returns the function to differentiate. It runs inside the step's tf.tidy but outside the gradient
 * tape, so its tensors live through the backward pass (message passing needs its edge lists).
 * Scalars the loss wants reported besides itself go through `extras`: kept during the tape, read after
 * the update, then freed.
 */
export interface FitStep<B> {
  batch(step: number): B;
  loss(batch: B): { value: () => tf.Scalar; extras?: () => Record<string, number> };
}

export interface FitOptions<B> extends FitStep<B> {
  params: Params;
  steps: number;
  optimizer: AdamWConfig;
  /** Learning rate of step `step` (0-based), e.g. `(s) => learningRateAt(c, s, steps)`. */
  learningRate(step: number): number;
  /** The parameters weight decay applies to (by name); default none. */
  decays?: (name: string) => boolean;
  /** What a divergence error says diverged ("training", "VAE training", ...). */
  what?: string;
  /** After every step, with its loss, learning rate and extras; a model's evaluation and curves go here. */
  afterStep?(step: number, values: Readonly<{ loss: number; learningRate: number } & Record<string, number>>, batch: B): void;
}

export interface FitResult {
  steps: number;
  seconds: number;
  /** The last step's loss. */
  lastLoss: number;
}

/**
 * The one training loop of every model in the kit: per step a batch, the loss and its gradients,
 * one AdamW update (schedule, global-norm clipping, decoupled decay), the divergence stop (a NaN or
 * infinite loss names the step), and a yield to the event loop at least every 200 ms so that progress
 * reaches a notebook and Ctrl-C works. Leaves no tensors behind, also when it throws.
 */
export async function fit<B>(o: FitOptions<B>): Promise<FitResult> {
  const names = Object.keys(o.params).sort();
  const vars = names.map((n) => o.params[n]);
  const adam = adamWInit(o.params);
  const started = performance.now();
  let lastYield = started;
  let lastLoss = NaN;
  try {
    for (let step = 0; step < o.steps; step++) {
      if (performance.now() - lastYield > 200) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      const batch = o.batch(step);
      const lr = o.learningRate(step);
      const values = tf.tidy(() => {
        const { value, extras } = o.loss(batch);
        const { value: loss, grads } = tf.variableGrads(value, vars);
        adamWStep(o.params, adam, grads, step, lr, o.optimizer, o.decays);
        return { ...(extras?.() ?? {}), loss: loss.dataSync()[0], learningRate: lr };
      });
      if (!Number.isFinite(values.loss)) throw new DivergenceError(step + 1, values.loss, o.what);
      lastLoss = values.loss;
      o.afterStep?.(step, values, batch);
    }
  } finally {
    adamWDispose(adam);
  }
  await yieldToEventLoop();
  return { steps: o.steps, seconds: (performance.now() - started) / 1000, lastLoss };
}
