import * as tf from "@tensorflow/tfjs";
import { nativeInplaceUpdate } from "../backend/nativeKernels";
import { matMul } from "../nn/layers";
import type { KVCache, LmConfig } from "./types";

/**
 * Building blocks shared by the GPT-2 and Llama models: embeddings, norms, the causal self-attention
 * and its fixed-capacity KV cache (parameter specs and init live with each model). Every function is
 * pure tfjs math over explicit tensors; callers wrap them in `tf.tidy` (the models' `forward` does).
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
 * Per-layer keys and values for incremental decoding, with room for a fixed number of positions:
 * keys[l], values[l] are [batch, H, capacity, hd], of which the first `length` positions are filled.
 * A fixed capacity keeps a decoding step's shapes the same from token to token, so that it can run as
 * one compiled step (backend/compile); `growCache` moves to a larger capacity. On the native backend a
 * cached forward writes the new positions into the cache's own buffers (`cacheWritesInPlace`);
 * elsewhere it replaces them by updated copies.
 *
 * Ownership: the cache owns its tensors. They are `tf.keep`-ed, so they survive any `tf.tidy` around
 * `forward`; each cached `forward` replaces them and disposes the old ones. Free them with
 * `disposeCache`. A cache is for inference only: do not take gradients through a cached forward.
 */
export function createCache(config: LmConfig, batch: number, capacity = config.contextLength): KVCache {
  if (!Number.isSafeInteger(batch) || batch < 1) throw new RangeError(`createCache: batch must be a positive integer, got ${batch}`);
  if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > config.contextLength) {
    throw new RangeError(`createCache: capacity must be an integer in [1, ${config.contextLength}], got ${capacity}`);
  }
  const hd = config.dModel / config.nHeads;
  const empty = () => tf.keep(tf.zeros([batch, config.nHeads, capacity, hd])) as tf.Tensor4D;
  return {
    keys: Array.from({ length: config.nLayers }, empty),
    values: Array.from({ length: config.nLayers }, empty),
    length: 0,
  };
}

/** The number of positions the cache has room for. */
export function cacheCapacity(cache: KVCache): number {
  return cache.keys[0].shape[2];
}

/** Gives the cache room for `capacity` positions (zeros after the filled ones); never shrinks it. */
export function growCache(cache: KVCache, capacity: number): void {
  const have = cacheCapacity(cache);
  if (capacity <= have) return;
  for (const list of [cache.keys, cache.values]) {
    for (let l = 0; l < list.length; l++) {
      const grown = tf.keep(tf.pad(list[l], [[0, 0], [0, 0], [0, capacity - have], [0, 0]])) as tf.Tensor4D;
      list[l].dispose();
      list[l] = grown;
    }
  }
}

/**
 * Keeps only the given batch rows of the cache, in that order (a row may repeat), e.g. to stop
 * decoding documents that have ended: the next forward then takes tokens for those rows only.
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
 * Whether cached forwards write into the cache in place (TensorFlow's InplaceUpdate, native backend):
 * one position per layer and step instead of a copy of the whole cache.
 */
export function cacheWritesInPlace(): boolean {
  return tf.getBackend() === "tensorflow";
}

/**
 * Where T new tokens go in a cache of `capacity` positions that holds `past` of them, as tensors
 * built on the host: the new tokens' positions [T] (int32); where every new key goes, as the
 * (row, head, position) of each [B·H·T, 3] (int32), or where writes are in place its row of the
 * cache seen as [B·H·capacity, hd] ([B·H·T] int32); and the additive mask [T, capacity] that lets
 * each new token see the cached positions and the new ones up to itself (0) and nothing after
 * (-1e9). A compiled decoding step takes these as inputs, since they change from token to token.
 */
export interface CacheStep {
  positions: tf.Tensor1D;
  write: tf.Tensor;
  mask: tf.Tensor2D;
  /** Llama: the RoPE cos and sin tables [T, hd] of the new positions (see lm/model `decodeStep`). */
  rope?: [tf.Tensor2D, tf.Tensor2D];
}

export function cacheStep(config: LmConfig, batch: number, past: number, t: number, capacity: number): CacheStep {
  if (past + t > capacity) throw new RangeError(`forward: ${past} cached + ${t} new tokens exceed the cache's capacity ${capacity}`);
  const inPlace = cacheWritesInPlace();
  const write = new Int32Array(batch * config.nHeads * t * (inPlace ? 1 : 3));
  let w = 0;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < config.nHeads; h++) {
      for (let i = 0; i < t; i++) {
        if (inPlace) write[w++] = (b * config.nHeads + h) * capacity + past + i;
        else {
          write[w++] = b;
          write[w++] = h;
          write[w++] = past + i;
        }
      }
    }
  }
  const mask = new Float32Array(t * capacity);
  for (let i = 0; i < t; i++) for (let j = past + i + 1; j < capacity; j++) mask[i * capacity + j] = -1e9;
  return {
    positions: tf.tensor1d(Int32Array.from({ length: t }, (_, i) => past + i), "int32"),
    write: inPlace ? tf.tensor1d(write, "int32") : tf.tensor2d(write, [batch * config.nHeads * t, 3], "int32"),
    mask: tf.tensor2d(mask, [t, capacity]),
  };
}

export function disposeCacheStep(s: CacheStep): void {
  tf.dispose([s.positions, s.write, s.mask, ...(s.rope ?? [])]);
}

/** The tensors of a cache step, in a fixed order (a compiled decoding step's inputs). */
export function cacheStepTensors(s: CacheStep): tf.Tensor[] {
  return [s.positions, s.write, s.mask, ...(s.rope ?? [])];
}

/** The inverse of cacheStepTensors. */
export function cacheStepFromTensors(t: readonly tf.Tensor[]): CacheStep {
  const [positions, write, mask, cos, sin] = t;
  return { positions: positions as tf.Tensor1D, write: write as tf.Tensor2D, mask: mask as tf.Tensor2D, ...(cos ? { rope: [cos as tf.Tensor2D, sin as tf.Tensor2D] as [tf.Tensor2D, tf.Tensor2D] } : {}) };
}

/** The cache tensors a cached forward reads, and where the new keys go. */
export interface CachedAttention {
  keys: readonly tf.Tensor4D[];
  values: readonly tf.Tensor4D[];
  step: CacheStep;
}

/**
 * Attention of new queries over a fixed-capacity cache: writes the new keys and values `k`, `v`
 * [B,H,T,hd] at their positions, then softmax(q Kᵀ / √hd + mask) V over the whole capacity, where the
 * mask hides the positions not yet written (their weights are exactly zero). Returns the output and
 * the layer's keys and values after the write: updated copies, or (written in place) the cache's own.
 */
export function attendCached(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, layer: number, kv: CachedAttention): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  const hd = q.shape[3];
  const write = (cache: tf.Tensor4D, update: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] => {
    if (kv.step.write.rank === 1) {
      // The attention reads the update's output (the same buffer), which orders it after the write.
      // (The capacity stays out of the shape constants: one compiled step serves every capacity.)
      const [b, h] = cache.shape;
      return [nativeInplaceUpdate(cache.reshape([-1, hd]), kv.step.write, update.reshape([-1, hd])).reshape([b, h, -1, hd]) as tf.Tensor4D, cache];
    }
    const updated = tf.tensorScatterUpdate(cache, kv.step.write, update.reshape([-1, hd])) as tf.Tensor4D;
    return [updated, updated];
  };
  const [keys, keysAfter] = write(kv.keys[layer], k);
  const [values, valuesAfter] = write(kv.values[layer], v);
  const scores = tf.add(matMul(tf.mul(q, 1 / Math.sqrt(hd)), keys, false, true), kv.step.mask);
  return [matMul(tf.softmax(scores), values) as tf.Tensor4D, keysAfter, valuesAfter];
}

/**
 * One layer's attention as both models run it: over the cache when decoding (the layer's keys and
 * values after the write are appended to `written`, for the next step's cache), else causal over the
 * sequence.
 */
export function attendLayer(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, layer: number, kv: CachedAttention | null, written: { keys: tf.Tensor4D[]; values: tf.Tensor4D[] }): tf.Tensor4D {
  if (!kv) return attend(q, k, v);
  const [out, keys, values] = attendCached(q, k, v, layer, kv);
  written.keys.push(keys);
  written.values.push(values);
  return out;
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
