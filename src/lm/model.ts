import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random";
import { gpt2Forward, gpt2Init, gpt2ParameterCount, gpt2Specs } from "./gpt2";
import { type CacheStep, type CachedAttention, cacheCapacity, cacheStep, checkTokens, createCache, disposeCache, disposeCacheStep, growCache } from "./layers";
import { llamaForward, llamaInit, llamaParameterCount, llamaSpecs, ropeTables } from "./llama";
import type { ForwardOptions, ForwardResult, LmConfig } from "./types";
import { checkParams, type ParamSpec } from "../nn/params";
import type { Params } from "../nn/params";

/**
 * The language models behind one interface, dispatched on `config.arch`:
 *   initParams(config, rng) → Params        parameterCount(config) → number (analytic)
 *   forward(config, params, tokens [B,T] int32, {cache}) → logits [B,T,V]
 *   createCache(config, batch, capacity) / growCache / disposeCache for incremental decoding, and
 *   decodeStep + modelForward, the same cached forward as pure functions of tensors (for a compiled
 *   decoding step).
 *
 * Ownership: `forward` returns a new tensor the caller owns (it runs inside its own tf.tidy, so no
 * intermediates survive it). Params are tf.Variables owned by the caller: `disposeParams` frees them.
 * The KV cache owns its tensors (see `createCache`).
 */

export { createCache, disposeCache, growCache };

export function initParams(config: LmConfig, rng: Rng): Params {
  return config.arch === "gpt2" ? gpt2Init(config, rng) : llamaInit(config, rng);
}

/** The forward pass of either architecture as pure tfjs ops (no tidy); with `kv`, over a cache. */
export function modelForward(config: LmConfig, params: Params, tokens: tf.Tensor2D, kv: CachedAttention | null = null): ForwardResult {
  return config.arch === "gpt2" ? gpt2Forward(config, params, tokens, kv) : llamaForward(config, params, tokens, kv);
}

/** Where `t` new tokens of `batch` rows go after `past` cached ones, in a cache of `capacity` positions. */
export function decodeStep(config: LmConfig, batch: number, past: number, t: number, capacity: number): CacheStep {
  const step = cacheStep(config, batch, past, t, capacity);
  if (config.arch === "llama") step.rope = ropeTables(config.dModel / config.nHeads, config.ropeTheta ?? 10000, past, t);
  return step;
}

/** tokens [B, T] → logits [B, T, V]; with `opts.cache`, T new tokens after the cached ones (the cache is extended). */
export function forward(config: LmConfig, params: Params, tokens: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
  const past = checkTokens(config, tokens, opts.cache);
  const cache = opts.cache;
  if (!cache) return tf.tidy(() => modelForward(config, params, tokens).logits);
  const [b, t] = tokens.shape;
  const step = decodeStep(config, b, past, t, cacheCapacity(cache));
  try {
    const [logits, ...kv] = tf.tidy(() => {
      const r = modelForward(config, params, tokens, { keys: cache.keys, values: cache.values, step });
      return [r.logits, ...r.keys, ...r.values];
    });
    // The cache owns its tensors beyond any tidy around this call (unless they were written in place).
    for (let l = 0; l < config.nLayers; l++) {
      for (const [list, updated] of [[cache.keys, kv[l]], [cache.values, kv[config.nLayers + l]]] as const) {
        if (updated === list[l]) continue;
        list[l].dispose();
        list[l] = tf.keep(updated) as tf.Tensor4D;
      }
    }
    cache.length += t;
    return logits as tf.Tensor3D;
  } finally {
    disposeCacheStep(step);
  }
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
