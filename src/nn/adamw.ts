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
 * One AdamW update (call inside tf.tidy): clips `grads` (keyed by variable name, as tf.variableGrads
 * returns them) by their global norm, then moves every parameter in place. `step` counts from 0.
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
  const byName = state.names.map((n) => grads[params[n].name]);
  let scale: tf.Scalar | number = 1;
  if (c.gradClip > 0) {
    const norm = tf.sqrt(tf.addN(byName.map((g) => tf.sum(tf.square(g)))));
    scale = tf.minimum(1, tf.div(c.gradClip, tf.add(norm, 1e-6))) as tf.Scalar;
  }
  const t = step + 1;
  const bc1 = 1 - Math.pow(c.beta1, t);
  const bc2 = 1 - Math.pow(c.beta2, t);
  const { m, v } = state;
  state.names.forEach((n, i) => {
    const g = tf.mul(byName[i], scale);
    m[n].assign(tf.add(tf.mul(m[n], c.beta1), tf.mul(g, 1 - c.beta1)));
    v[n].assign(tf.add(tf.mul(v[n], c.beta2), tf.mul(tf.square(g), 1 - c.beta2)));
    const update = tf.div(tf.div(m[n], bc1), tf.add(tf.sqrt(tf.div(v[n], bc2)), 1e-8));
    let next = tf.sub(params[n], tf.mul(update, learningRate));
    if ((c.weightDecay ?? 0) > 0 && decays(n)) next = tf.sub(next, tf.mul(params[n], learningRate * c.weightDecay!));
    params[n].assign(next);
  });
}
