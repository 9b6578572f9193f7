import * as tf from "@tensorflow/tfjs";
import { type AdamWConfig, adamWDispose, adamWInit, adamWScalars, adamWUpdate } from "./adamw";
import { compileStep } from "../backend/compile";
import { checkNumber } from "../errors";
import { DataError } from "../errors";
import { InterruptedError } from "../interrupt";
import type { Params } from "./params";
import type { Rng, RngState } from "../random";
import { type HostTensor, decodeSafetensors, encodeSafetensors } from "./safetensors";

/**
 * The kit's one training loop (`fit`) and what it is made of: the learning-rate schedule, the
 * divergence stop and yielding to the event loop (so that notebooks stay responsive and Ctrl-C works).
 */

/**
 * Mid-fit checkpoints of one fit, as its holder (the collapse loop, for a stored run) gives them: the
 * bytes of the last one, where to write the next, how often, and the holder's own state to keep with
 * it (e.g. the learning curve so far). `fit` writes its parameters, optimizer moments, step and its
 * host state (data order, generators: `hostState`) into the bytes.
 */
export interface FitCheckpoint {
  read(): Uint8Array | null;
  write(bytes: Uint8Array): void;
  /** Save after every this many steps; and/or once this many seconds have passed since the fit started or last saved. */
  everySteps?: number;
  everySeconds?: number;
  outer?: HeldState;
  /** Whether to stop now: the fit then writes a checkpoint at the step it finished and throws an InterruptedError. */
  stopRequested?(): boolean;
}

/** State kept with a checkpoint, and how to put it back. */
export interface HeldState {
  save(): unknown;
  restore(state: unknown): void;
}

/** `checkpoint` with `held` kept beside its holder's state (a modality adding its own to the loop's). */
export function holdingAlso(checkpoint: FitCheckpoint | undefined, held: HeldState): FitCheckpoint | undefined {
  if (!checkpoint) return undefined;
  const outer = checkpoint.outer;
  return {
    ...checkpoint,
    outer: {
      save: () => ({ held: held.save(), outer: outer?.save() }),
      restore(state) {
        const s = state as { held: unknown; outer: unknown };
        held.restore(s.held);
        outer?.restore(s.outer);
      },
    },
  };
}

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
/**
 * Optimizer steps of a fit of `epochs` passes over `examples` in batches of `batchSize` (the last batch
 * of an epoch may be short), at least one, at most `maxSteps`: what every epoch-based fit runs and
 * what `collapse plan` counts.
 */
export function epochSteps(examples: number, batchSize: number, epochs: number, maxSteps = Infinity): number {
  return Math.min(maxSteps, Math.max(1, Math.round(Math.ceil(examples / batchSize) * epochs)));
}

/**
 * Examples a fit of `steps` batches of `batchSize` visits when it takes them from a ShuffledOrder over
 * `examples`: whole passes of `examples` each (a pass's last batch being short), then full batches of
 * the pass under way. What a record's training compute counts, the short batches included.
 */
export function examplesVisited(examples: number, batchSize: number, steps: number): number {
  if (examples === 0) return 0;
  const batchesPerPass = Math.ceil(examples / batchSize);
  const passes = Math.floor(steps / batchesPerPass);
  return passes * examples + (steps - passes * batchesPerPass) * batchSize;
}

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

/**
 * The order a fit visits its `n` examples in: a fresh seeded permutation every pass. Its state (the
 * generator's as it was before the current pass's order was drawn, and the position in it) is what a
 * mid-fit checkpoint keeps to draw the same order again.
 */
export class ShuffledOrder {
  private drawnFrom: RngState;
  private order: Int32Array;
  private cursor = 0;

  constructor(
    private readonly rng: Rng,
    private readonly n: number,
  ) {
    this.drawnFrom = rng.state();
    this.order = rng.permutation(n);
  }

  /** The next (up to) `k` indices of this pass, starting a new pass when this one is used up (a pass's last batch may be smaller). */
  take(k: number): Int32Array {
    if (this.cursor >= this.n) this.newPass();
    const out = this.order.subarray(this.cursor, this.cursor + k);
    this.cursor += out.length;
    return out;
  }

  /** The next index, running on into a new pass. */
  next(): number {
    if (this.cursor >= this.n) this.newPass();
    return this.order[this.cursor++];
  }

  state(): { drawnFrom: RngState; cursor: number } {
    return { drawnFrom: this.drawnFrom, cursor: this.cursor };
  }

  restore(s: { drawnFrom: RngState; cursor: number }): void {
    this.rng.restore(s.drawnFrom);
    this.drawnFrom = s.drawnFrom;
    this.order = this.rng.permutation(this.n);
    this.cursor = s.cursor;
  }

  private newPass(): void {
    this.drawnFrom = this.rng.state();
    this.order = this.rng.permutation(this.n);
    this.cursor = 0;
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
  /**
   * Gradient accumulation: the step's batch cut into micro-batches, each with its share of the batch
   * (their losses are means, so the step's gradient is the share-weighted sum of theirs: the same
   * update up to float rounding, with the memory of one micro-batch). Absent, or one part: one pass.
   */
  microBatches?(batch: B): { part: B; share: number }[];
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
  /**
   * Mid-fit checkpoints: the fit resumes from the last one (parameters, AdamW moments, step, and
   * `hostState`) and writes the next ones as it goes, so that a killed fit continues where it stood
   * with the same updates it would have made.
   */
  checkpoint?: FitCheckpoint;
  /** The caller's state between steps (its data order and cursor, its generators, counters), as JSON. */
  hostState?: HeldState;
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
  // With micro-batches: [parameters, micro-batch inputs, share] → [share × loss, extras, share ×
  // gradients], summed over the micro-batches; then [parameters, moments, AdamW scalars, gradients] →
  // the update.
  const microStep = compileStep(`fit_micro_${o.what ?? "training"}`, (inputs) => {
    const { value, extras } = current!;
    const share = inputs[inputs.length - 1];
    const { value: loss, grads } = tf.variableGrads(value, vars);
    const ex = extras?.() ?? {};
    extraKeys = Object.keys(ex).sort();
    return [tf.mul(loss, share), ...extraKeys.map((k) => ex[k]), ...vars.map((v) => tf.mul(grads[v.name], share))];
  });
  const applyStep = compileStep(`fit_apply_${o.what ?? "training"}`, (inputs) => {
    const next = adamWUpdate(inputs.slice(0, n), inputs.slice(n, 2 * n), inputs.slice(2 * n, 3 * n), inputs.slice(3 * n + 4), inputs.slice(3 * n, 3 * n + 4) as tf.Scalar[], o.optimizer, decays);
    return [...next.params, ...next.m, ...next.v];
  });
  /** One step over micro-batches: the share-weighted sums of their losses, extras and gradients, then one update. */
  const accumulatedStep = (parts: { part: B; share: number }[], s: number, lr: number): { loss: number; learningRate: number } & Record<string, number> => {
    let sums: tf.Tensor[] | null = null; // [loss, ...gradients]
    const read: Record<string, number> = { loss: 0, learningRate: lr };
    try {
      for (const { part, share } of parts) {
        const out = tf.tidy(() => {
          current = o.loss(part);
          const r = microStep([...vars, ...current.inputs, tf.scalar(share, "float32")]);
          current = null;
          return r;
        });
        const e = extraKeys.length;
        extraKeys.forEach((k, i) => (read[k] = (read[k] ?? 0) + share * out[1 + i].dataSync()[0]));
        tf.dispose(out.slice(1, 1 + e)); // eager extras are kept (tf.keep) through the gradient's tidy
        const summed = [out[0], ...out.slice(1 + e)];
        if (sums === null) sums = summed;
        else {
          const previous: tf.Tensor[] = sums;
          sums = previous.map((t, i) => tf.add(t, summed[i]));
          tf.dispose([...previous, ...summed]);
        }
      }
      const totals = sums!;
      read.loss = totals[0].dataSync()[0];
      tf.tidy(() => {
        const next = applyStep([...vars, ...moments, ...adamWScalars(s, lr, o.optimizer), ...totals.slice(1)]);
        vars.forEach((v, i) => v.assign(next[i]));
        moments.forEach((m, i) => m.assign(next[n + i]));
      });
      return read as { loss: number; learningRate: number } & Record<string, number>;
    } finally {
      if (sums) tf.dispose(sums);
    }
  };

  const checkpoint = o.checkpoint;
  const first = checkpoint ? restoreCheckpoint(checkpoint, names, vars, moments, o.hostState) : 0;
  let lastSave = performance.now();
  try {
    for (let s = first; s < o.steps; s++) {
      if (performance.now() - lastYield > 200) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      const batch = o.batch(s);
      const lr = o.learningRate(s);
      const parts = o.microBatches?.(batch) ?? [];
      const values = parts.length > 1 ? accumulatedStep(parts, s, lr) : tf.tidy(() => {
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
      const stop = checkpoint?.stopRequested?.() === true;
      if (checkpoint && (stop || (s + 1 < o.steps && checkpointDue(checkpoint, s + 1, (performance.now() - lastSave) / 1000)))) {
        checkpoint.write(encodeCheckpoint(s + 1, names, vars, moments, o.hostState, checkpoint));
        lastSave = performance.now();
      }
      if (stop) throw new InterruptedError(`the fit, checkpointed after step ${s + 1} of ${o.steps},`);
    }
  } finally {
    current = null;
    adamWDispose(adam);
  }
  await yieldToEventLoop();
  return { steps: o.steps, seconds: (performance.now() - started) / 1000, lastLoss };
}

function checkpointDue(c: FitCheckpoint, stepsDone: number, secondsSinceSave: number): boolean {
  return (c.everySteps !== undefined && stepsDone % c.everySteps === 0) || (c.everySeconds !== undefined && secondsSinceSave >= c.everySeconds);
}

/** The fit's state after `step` steps as safetensors bytes: p:/m:/v: tensors, and the step and host state as metadata. */
function encodeCheckpoint(step: number, names: readonly string[], vars: readonly tf.Variable[], moments: readonly tf.Variable[], host: HeldState | undefined, c: FitCheckpoint): Uint8Array {
  const tensors: Record<string, HostTensor> = {};
  const put = (key: string, t: tf.Tensor) => (tensors[key] = { dtype: "F32", shape: t.shape.slice(), data: t.dataSync() as Float32Array });
  names.forEach((name, i) => {
    put(`p:${name}`, vars[i]);
    put(`m:${name}`, moments[i]);
    put(`v:${name}`, moments[names.length + i]);
  });
  return encodeSafetensors(tensors, { fit: JSON.stringify({ step, host: host?.save() ?? null, outer: c.outer?.save() ?? null }) });
}

/** Puts a saved fit back (parameters, moments, host and holder state); returns the step to continue at (0: none saved). */
function restoreCheckpoint(c: FitCheckpoint, names: readonly string[], vars: readonly tf.Variable[], moments: readonly tf.Variable[], host: HeldState | undefined): number {
  const bytes = c.read();
  if (!bytes) return 0;
  const { tensors, metadata } = decodeSafetensors(bytes, "the fit's checkpoint");
  const fail = (detail: string): never => {
    throw new DataError("the fit's checkpoint", `${detail}; it is not this fit's (move the run's fit-*.ckpt away to start the fit over)`);
  };
  const state = JSON.parse(metadata.fit ?? "null") as { step: number; host: unknown; outer: unknown } | null;
  if (!state || !Number.isInteger(state.step)) fail("it holds no step");
  const assign = (key: string, v: tf.Variable) => {
    const t = tensors[key];
    if (!t || t.shape.join() !== v.shape.join()) fail(`${key} is ${t ? `[${t.shape}]` : "missing"}, the model's is [${v.shape}]`);
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, "float32")));
  };
  names.forEach((name, i) => {
    assign(`p:${name}`, vars[i]);
    assign(`m:${name}`, moments[i]);
    assign(`v:${name}`, moments[names.length + i]);
  });
  host?.restore(state!.host);
  c.outer?.restore(state!.outer);
  return state!.step;
}
