import * as tf from "@tensorflow/tfjs";
import { matMul } from "../nn/layers";
import type { KVCache, LmConfig } from "./types";

/**
 * Building blocks shared by the GPT-2 and Llama models: parameter init, embeddings, norms, the causal
 * self-attention with its KV cache. Every function is pure tfjs math over explicit tensors; callers
 * wrap them in `tf.tidy` (the models' `forward` does).
 *
 * Layout conventions: activations are [B, T, d]; weight matrices are [in, out] (`x @ W`, like HF's
 * GPT-2 Conv1D); attention tensors are [B, H, T, headDim].
 */

/** Token embedding lookup: wte [V, d], tokens [B, T] int32 → [B, T, d]. */
export function embed(wte: tf.Tensor, tokens: tf.Tensor2D): tf.Tensor3D {
  const [b, t] = tokens.shape;
  return tf.gather(wte, tokens.reshape([b * t])).reshape([b, t, wte.shape[1]!]) as tf.Tensor3D;
}

/** LayerNorm over the last axis. */
export function layerNorm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gain), bias);
}

/** RMSNorm over the last axis (Llama). */
export function rmsNorm(x: tf.Tensor, gain: tf.Tensor, eps: number): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), gain);
}

/**
 * GELU, tanh approximation (GPT-2's "gelu_new"): ½x(1 + tanh(c(x + 0.044715x³))), c = √(2/π), written
 * as x·σ(x(2c + 2c·0.044715·x²)) since ½(1 + tanh z) = σ(2z): 6 elementwise ops instead of 9, on the
 * MLP's widest activation (forward and backward).
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  const twoC = 2 * Math.sqrt(2 / Math.PI);
  return tf.mul(x, tf.sigmoid(tf.mul(x, tf.add(tf.mul(tf.square(x), twoC * 0.044715), twoC))));
}

/** [B, T, d] → [B, H, T, d/H]. (For one token, as in decoding, the transpose moves nothing.) */
export function splitHeads(x: tf.Tensor, nHeads: number): tf.Tensor4D {
  const [b, t, d] = x.shape;
  if (t === 1) return x.reshape([b, nHeads, 1, d / nHeads]);
  return x.reshape([b, t, nHeads, d / nHeads]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
}

/** [B, H, T, hd] → [B, T, H·hd]. */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [b, h, t, hd] = x.shape;
  if (t === 1) return x.reshape([b, 1, h * hd]);
  return x.transpose([0, 2, 1, 3]).reshape([b, t, h * hd]) as tf.Tensor3D;
}

/**
 * Additive causal mask [tq, tk] for queries at absolute positions past..past+tq-1 over keys at
 * 0..tk-1 (tk = past + tq): 0 where key ≤ query, -1e9 elsewhere.
 */
export function causalMask(tq: number, tk: number): tf.Tensor2D {
  const past = tk - tq;
  const m = new Float32Array(tq * tk);
  for (let i = 0; i < tq; i++) for (let j = past + i + 1; j < tk; j++) m[i * tk + j] = -1e9;
  return tf.tensor2d(m, [tq, tk]);
}

/** softmax(q kᵀ / √hd + causal mask) v; q [B,H,Tq,hd], k and v [B,H,Tk,hd]. */
export function attend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  const tq = q.shape[2];
  const tk = k.shape[2];
  const hd = q.shape[3];
  let scores = matMul(tf.mul(q, 1 / Math.sqrt(hd)), k, false, true);
  if (tq > 1) scores = tf.add(scores, causalMask(tq, tk));
  return matMul(tf.softmax(scores), v) as tf.Tensor4D;
}

// ---------------------------------------------------------------------------------------------------
// KV cache

/**
 * An empty cache for `batch` sequences: per layer, keys and values of shape [batch, H, 0, hd].
 *
 * Ownership: the cache owns its tensors. They are `tf.keep`-ed, so they survive any `tf.tidy` around
 * `forward`; each cached `forward` replaces them with the extended ones and disposes the old ones. Free
 * them with `disposeCache` when done. A cache is for inference only: do not take gradients through a
 * cached forward (the old tensors are disposed during it).
 */
export function createCache(config: LmConfig, batch: number): KVCache {
  if (!Number.isSafeInteger(batch) || batch < 1) throw new RangeError(`createCache: batch must be a positive integer, got ${batch}`);
  const hd = config.dModel / config.nHeads;
  const empty = () => tf.keep(tf.zeros([batch, config.nHeads, 0, hd])) as tf.Tensor4D;
  return {
    keys: Array.from({ length: config.nLayers }, empty),
    values: Array.from({ length: config.nLayers }, empty),
    length: 0,
  };
}

/**
 * Keeps only the given batch rows of the cache (in that order), e.g. to stop decoding documents that
 * have ended: the next forward then takes tokens for those rows only.
 */
export function selectCacheRows(cache: KVCache, rows: readonly number[]): void {
  const index = tf.tensor1d(Int32Array.from(rows), "int32");
  try {
    for (const list of [cache.keys, cache.values]) {
      for (let l = 0; l < list.length; l++) {
        const kept = tf.keep(tf.gather(list[l], index, 0)) as tf.Tensor4D;
        list[l].dispose();
        list[l] = kept;
      }
    }
  } finally {
    index.dispose();
  }
}

/** Frees the cache's tensors (safe to call twice). */
export function disposeCache(cache: KVCache): void {
  for (const t of [...cache.keys, ...cache.values]) if (!t.isDisposed) t.dispose();
  cache.length = 0;
}

/**
 * Collects the extended keys/values of each layer during a cached forward and commits them to the
 * cache only when the whole forward succeeded, so a failing forward leaves the cache as it was.
 */
export class CacheUpdate {
  private readonly keys: tf.Tensor4D[] = [];
  private readonly values: tf.Tensor4D[] = [];

  constructor(private readonly cache: KVCache) {}

  /** The cached keys/values of `layer` extended by `k`, `v` (which are [B, H, T, hd]). */
  extend(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    const fullK = tf.keep(tf.concat([this.cache.keys[layer], k], 2)) as tf.Tensor4D;
    const fullV = tf.keep(tf.concat([this.cache.values[layer], v], 2)) as tf.Tensor4D;
    this.keys[layer] = fullK;
    this.values[layer] = fullV;
    return [fullK, fullV];
  }

  commit(newTokens: number): void {
    for (let l = 0; l < this.keys.length; l++) {
      this.cache.keys[l].dispose();
      this.cache.values[l].dispose();
      this.cache.keys[l] = this.keys[l];
      this.cache.values[l] = this.values[l];
    }
    this.cache.length += newTokens;
  }

  abort(): void {
    for (const t of [...this.keys, ...this.values]) if (t && !t.isDisposed) t.dispose();
  }
}

/** Checks tokens against the config and cache; returns the position of the first token. */
export function checkTokens(config: LmConfig, tokens: tf.Tensor, cache?: KVCache): number {
  if (tokens.rank !== 2) throw new RangeError(`forward: tokens must be [batch, time], got shape [${tokens.shape}]`);
  if (tokens.dtype !== "int32") throw new TypeError(`forward: tokens must be int32, got ${tokens.dtype}`);
  const [b, t] = tokens.shape;
  if (t < 1) throw new RangeError("forward: tokens has no time steps");
  const past = cache ? cache.length : 0;
  if (past + t > config.contextLength) {
    throw new RangeError(`forward: ${past} cached + ${t} new tokens exceed the context length ${config.contextLength} of ${config.name}`);
  }
  if (cache) {
    if (cache.keys.length !== config.nLayers) throw new RangeError(`forward: cache has ${cache.keys.length} layers, ${config.name} has ${config.nLayers}`);
    if (cache.keys[0].isDisposed) throw new Error("forward: the cache was disposed");
    if (cache.keys[0].shape[0] !== b) throw new RangeError(`forward: cache was created for batch ${cache.keys[0].shape[0]}, tokens have batch ${b}`);
  }
  return past;
}

/** Runs `body` with an optional cache update that commits on success and cleans up on failure. */
export function withCache<T>(cache: KVCache | undefined, newTokens: number, body: (update: CacheUpdate | null) => T): T {
  const update = cache ? new CacheUpdate(cache) : null;
  try {
    const out = body(update);
    update?.commit(newTokens);
    return out;
  } catch (e) {
    update?.abort();
    throw e;
  }
}
