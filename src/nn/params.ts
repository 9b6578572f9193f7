import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random";

/**
 * Model parameters, shared by every neural model of the kit: named specs (shape and initializer),
 * variables drawn from a seeded generator, checks, counts and disposal. Models are plain functions
 * over a `Params` record; checkpoints (nn/safetensors) store it by these names.
 */

/** Parameters by stable dotted name ("wte", "blocks.0.attn.wq", ...); also the safetensors keys. */
export type Params = Record<string, tf.Variable>;

/** A parameter's initial values. */
export type Init = { kind: "normal"; std: number } | { kind: "zeros" } | { kind: "ones" };

export interface ParamSpec {
  shape: number[];
  init: Init;
}

export const INIT_STD = 0.02;

export const normal = (std: number = INIT_STD): Init => ({ kind: "normal", std });
export const zeros: Init = { kind: "zeros" };
export const ones: Init = { kind: "ones" };

/**
 * Variables for `specs`, drawn on the CPU from `rng` (one forked stream per parameter name, in name
 * order, so one parameter's values do not depend on another's size).
 */
export function materialize(specs: Record<string, ParamSpec>, rng: Rng): Params {
  const params: Params = {};
  for (const name of Object.keys(specs).sort()) {
    const { shape, init } = specs[name];
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (init.kind === "ones") values.fill(1);
    else if (init.kind === "normal") {
      const r = rng.fork("param", name);
      for (let i = 0; i < size; i++) values[i] = init.std * r.normal();
    }
    params[name] = toVariable(values, shape);
  }
  return params;
}

/** A trainable variable holding `values` (no tensor left behind). */
export function toVariable(values: Float32Array, shape: number[]): tf.Variable {
  const t = tf.tensor(values, shape, "float32");
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}

/** Checks that `params` has exactly the names and shapes of `specs`. */
export function checkParams(owner: string, specs: Record<string, ParamSpec>, params: Params): void {
  const want = Object.keys(specs).sort();
  const have = Object.keys(params).sort();
  const missing = want.filter((n) => !(n in params));
  const extra = have.filter((n) => !(n in specs));
  if (missing.length || extra.length) {
    throw new Error(`params do not match ${owner}: missing [${missing.join(", ")}], unexpected [${extra.join(", ")}]`);
  }
  for (const n of want) {
    const a = specs[n].shape;
    const b = params[n].shape;
    if (a.length !== b.length || a.some((v, i) => v !== b[i])) {
      throw new Error(`param ${n} of ${owner}: shape [${b}] where [${a}] was expected`);
    }
  }
}

/** A copy of every parameter, independent of the original (not trainable: for scoring only). */
export function cloneParams(params: Params): Params {
  // Inside tidy, the intermediate clone is freed; the variable keeps its data.
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, tf.tidy(() => tf.variable(v.clone() as tf.Tensor, false, undefined, v.dtype))]));
}

export function disposeParams(params: Params): void {
  for (const v of Object.values(params)) if (!v.isDisposed) v.dispose();
}
