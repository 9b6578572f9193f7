import * as tf from "@tensorflow/tfjs";
import { type AdamWConfig, adamWDispose, adamWInit, adamWScalars, adamWUpdate } from "./adamw";
import { compileStep } from "../backend/compile";
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
 * host (every random draw from the caller's generators, in order); `loss` turns it into tensors: the
 * step's `inputs`, created there, outside the function that is differentiated (so they live through
 * the backward pass; message passing needs its edge lists), and `value`, the loss computed from them
 * and the parameters. Scalars to report besides the loss go through `extras`: kept (`tf.keep`) during
 * `value`, returned as tensors, read after the update.
 *
 * On the native backend the step (forward, backward, clipping, AdamW) runs as one compiled graph
 * (backend/compile): `value` must read no tensor but the parameters and `inputs`, and no value that
 * changes from step to step may be created inside it (a new draw belongs in `batch`).
 */
export interface FitStep<B> {
  batch(step: number): B;
  loss(batch: B): { inputs: tf.Tensor[]; value: () => tf.Scalar; extras?: () => Record<string, tf.Scalar> };
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
  const decays = names.map((n) => o.decays?.(n) ?? false);
  const adam = adamWInit(o.params);
  const moments = [...names.map((n) => adam.m[n]), ...names.map((n) => adam.v[n])];
  const started = performance.now();
  let lastYield = started;
  let lastLoss = NaN;
  // The step as one function of its tensors: [parameters, moments, AdamW scalars, batch inputs] →
  // [loss, extras, next parameters, next moments]. `current` holds this step's loss closures, which
  // only eager (and traced) calls run.
  let current: ReturnType<FitStep<B>["loss"]> | null = null;
  let extraKeys: string[] = [];
  const n = vars.length;
  const step = compileStep(`fit_${o.what ?? "training"}`, (inputs) => {
    const { value, extras } = current!;
    const { value: loss, grads } = tf.variableGrads(value, vars);
    const ex = extras?.() ?? {};
    extraKeys = Object.keys(ex).sort();
    const next = adamWUpdate(inputs.slice(0, n), inputs.slice(n, 2 * n), inputs.slice(2 * n, 3 * n), vars.map((v) => grads[v.name]), inputs.slice(3 * n, 3 * n + 4) as tf.Scalar[], o.optimizer, decays);
    return [loss, ...extraKeys.map((k) => ex[k]), ...next.params, ...next.m, ...next.v];
  });
  try {
    for (let s = 0; s < o.steps; s++) {
      if (performance.now() - lastYield > 200) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      const batch = o.batch(s);
      const lr = o.learningRate(s);
      const values = tf.tidy(() => {
        current = o.loss(batch);
        const out = step([...vars, ...moments, ...adamWScalars(s, lr, o.optimizer), ...current.inputs]);
        current = null;
        const e = extraKeys.length;
        vars.forEach((v, i) => v.assign(out[1 + e + i]));
        moments.forEach((m, i) => m.assign(out[1 + e + n + i]));
        const read: Record<string, number> = { loss: out[0].dataSync()[0], learningRate: lr };
        extraKeys.forEach((k, i) => {
          read[k] = out[1 + i].dataSync()[0];
          out[1 + i].dispose(); // eager extras are kept (tf.keep) through the gradient's tidy
        });
        return read as { loss: number; learningRate: number } & Record<string, number>;
      });
      if (!Number.isFinite(values.loss)) throw new DivergenceError(s + 1, values.loss, o.what);
      lastLoss = values.loss;
      o.afterStep?.(s, values, batch);
    }
  } finally {
    current = null;
    adamWDispose(adam);
  }
  await yieldToEventLoop();
  return { steps: o.steps, seconds: (performance.now() - started) / 1000, lastLoss };
}
