import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random";
import { gpt2Forward, gpt2Init, gpt2ParameterCount, gpt2Specs } from "./gpt2";
import { createCache, disposeCache } from "./layers";
import { llamaForward, llamaInit, llamaParameterCount, llamaSpecs } from "./llama";
import type { ForwardOptions, LmConfig } from "./types";
import { checkParams, type ParamSpec } from "../nn/params";
import type { Params } from "../nn/params";

/**
 * The language models behind one interface, dispatched on `config.arch`:
 *   initParams(config, rng) → Params        parameterCount(config) → number (analytic)
 *   forward(config, params, tokens [B,T] int32, {cache}) → logits [B,T,V]
 *   createCache(config, batch) / disposeCache(cache) for incremental decoding.
 *
 * Ownership: `forward` returns a new tensor the caller owns (it runs inside its own tf.tidy, so no
 * intermediates survive it). Params are tf.Variables owned by the caller: `disposeParams` frees them.
 * The KV cache owns its tensors (see `createCache`).
 */

export { createCache, disposeCache };

export function initParams(config: LmConfig, rng: Rng): Params {
  return config.arch === "gpt2" ? gpt2Init(config, rng) : llamaInit(config, rng);
}

export function forward(config: LmConfig, params: Params, tokens: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
  return config.arch === "gpt2" ? gpt2Forward(config, params, tokens, opts) : llamaForward(config, params, tokens, opts);
}

/** Number of parameters, from the config's dimensions alone. */
export function parameterCount(config: LmConfig): number {
  return config.arch === "gpt2" ? gpt2ParameterCount(config) : llamaParameterCount(config);
}

/** Name → shape and initializer of every parameter. */
export function paramSpecs(config: LmConfig): Record<string, ParamSpec> {
  return config.arch === "gpt2" ? gpt2Specs(config) : llamaSpecs(config);
}

/** Name → shape of every parameter. */
export function paramShapes(config: LmConfig): Record<string, number[]> {
  const specs = paramSpecs(config);
  return Object.fromEntries(Object.entries(specs).map(([n, s]) => [n, s.shape]));
}

/** Throws unless `params` has exactly the names and shapes `config` needs. */
export function checkParamsFor(config: LmConfig, params: Params): void {
  checkParams(config.name, paramSpecs(config), params);
}

