import * as tf from "@tensorflow/tfjs";

/** Hyperparameters of one AdamW step (every training loop of the kit uses this one optimizer). */
export interface AdamWConfig {
  beta1: number;
  beta2: number;
  /** Clip the global gradient norm to this (0 = off). */
  gradClip: number;
  /** Decoupled weight decay, applied only to the parameters `decays` selects; 0 = off. */
  weightDecay?: number;
}

/** First and second moments of every parameter, by name. */
export interface AdamWState {
  readonly names: readonly string[];
  readonly m: Record<string, tf.Variable>;
  readonly v: Record<string, tf.Variable>;
}

export function adamWInit(params: Readonly<Record<string, tf.Variable>>): AdamWState {
  const names = Object.keys(params).sort();
  // tf.variable keeps its initial tensor alive; tidy frees the zeros, the variables survive it.
  const moments = () => Object.fromEntries(names.map((n) => [n, tf.tidy(() => tf.variable(tf.zerosLike(params[n]), false))]));
  return { names, m: moments(), v: moments() };
}

export function adamWDispose(state: AdamWState): void {
  for (const n of state.names) {
    state.m[n].dispose();
    state.v[n].dispose();
  }
}

/**
 * The values of step `step` (from 0) that change from step to step, as float32 scalars: the learning
 * rate, the two bias corrections and the decay factor lr·weightDecay. They enter the update as tensors
 * (not numbers) so that a compiled training step takes them as inputs.
 */
export function adamWScalars(step: number, learningRate: number, c: AdamWConfig): tf.Scalar[] {
  const t = step + 1;
  return [learningRate, 1 - Math.pow(c.beta1, t), 1 - Math.pow(c.beta2, t), learningRate * (c.weightDecay ?? 0)].map((x) => tf.scalar(x, "float32"));
}

/**
 * One AdamW update, as new tensors (call inside tf.tidy): clips `grads` by their global norm, then
 * moves each parameter and its moments. `scalars` come from `adamWScalars`; `decays[i]` says whether
 * parameter i takes weight decay. Returns the next parameters and moments, in the order given.
 */
export function adamWUpdate(
  params: readonly tf.Tensor[],
  m: readonly tf.Tensor[],
  v: readonly tf.Tensor[],
  grads: readonly tf.Tensor[],
  scalars: readonly tf.Scalar[],
  c: AdamWConfig,
  decays: readonly boolean[],
): { params: tf.Tensor[]; m: tf.Tensor[]; v: tf.Tensor[] } {
  const [learningRate, bc1, bc2, decay] = scalars;
  let scale: tf.Scalar | number = 1;
  if (c.gradClip > 0) {
    const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
    scale = tf.minimum(1, tf.div(c.gradClip, tf.add(norm, 1e-6))) as tf.Scalar;
  }
  const out = { params: [] as tf.Tensor[], m: [] as tf.Tensor[], v: [] as tf.Tensor[] };
  params.forEach((p, i) => {
    const g = tf.mul(grads[i], scale);
    const mi = tf.add(tf.mul(m[i], c.beta1), tf.mul(g, 1 - c.beta1));
    const vi = tf.add(tf.mul(v[i], c.beta2), tf.mul(tf.square(g), 1 - c.beta2));
    const update = tf.div(tf.div(mi, bc1), tf.add(tf.sqrt(tf.div(vi, bc2)), 1e-8));
    let next = tf.sub(p, tf.mul(update, learningRate));
    if ((c.weightDecay ?? 0) > 0 && decays[i]) next = tf.sub(next, tf.mul(p, decay));
    out.params.push(next);
    out.m.push(mi);
    out.v.push(vi);
  });
  return out;
}

/**
 * One AdamW update in place (call inside tf.tidy): `grads` keyed by variable name, as
 * tf.variableGrads returns them. `step` counts from 0.
 */
export function adamWStep(
  params: Readonly<Record<string, tf.Variable>>,
  state: AdamWState,
  grads: tf.NamedTensorMap,
  step: number,
  learningRate: number,
  c: AdamWConfig,
  decays: (name: string) => boolean = () => false,
): void {
  const names = state.names;
  const next = adamWUpdate(
    names.map((n) => params[n]),
    names.map((n) => state.m[n]),
    names.map((n) => state.v[n]),
    names.map((n) => grads[params[n].name]),
    adamWScalars(step, learningRate, c),
    c,
    names.map(decays),
  );
  names.forEach((n, i) => {
    state.m[n].assign(next.m[i]);
    state.v[n].assign(next.v[i]);
    params[n].assign(next.params[i]);
  });
}
