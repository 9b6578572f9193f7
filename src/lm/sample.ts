import * as tf from "@tensorflow/tfjs";
import { ConfigError, checkInt, checkNumber } from "../errors";
import type { Rng } from "../random";
import { shapeBucket } from "../backend/compile";
import { compiledWithParams } from "../nn/compiled";
import { cacheCapacity, cacheStepFromTensors, cacheStepTensors, selectCacheRows } from "./layers";
import { createCache, decodeStep, disposeCache, growCache, modelForward } from "./model";
import type { LmConfig } from "./types";
import type { Params } from "../nn/params";

export interface SamplingConfig {
  /** Softmax temperature (the paper: 1.0; ablation 0.3). */
  temperature: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK: number;
  /** Keep the smallest set of tokens with probability ≥ p (1 = off). */
  topP: number;
  /** Documents generated in parallel. */
  batchSize: number;
  /** Longest document in tokens (capped by the context length minus the start token). */
  maxTokens: number;
}

export const SAMPLING_DEFAULTS: SamplingConfig = { temperature: 1, topK: 0, topP: 1, batchSize: 32, maxTokens: 256 };

export function checkSamplingConfig(partial: Partial<SamplingConfig>, model: LmConfig, field = "sampling"): SamplingConfig {
  const c = { ...SAMPLING_DEFAULTS, ...partial };
  checkNumber(`${field}.temperature`, c.temperature, { exclusiveMin: 0 });
  checkInt(`${field}.topK`, c.topK, { min: 0, max: model.vocabSize });
  checkNumber(`${field}.topP`, c.topP, { exclusiveMin: 0, max: 1 });
  checkInt(`${field}.batchSize`, c.batchSize, { min: 1 });
  checkInt(`${field}.maxTokens`, c.maxTokens, { min: 1 });
  if (c.maxTokens > model.contextLength - 1) {
    throw new ConfigError(`${field}.maxTokens`, `${c.maxTokens} exceeds the context length ${model.contextLength} minus the start token`);
  }
  return c;
}

/**
 * Next-token ids for a batch of logits [B, V], drawn on the device so that only B ids cross to the
 * host. Each row is one inverse-CDF draw with a uniform number from the caller's Rng, so the samples
 * are the same on every backend. (tf.multinomial is not used: its cpu kernel restarts its generator
 * for every row, so rows with the same distribution, such as a batch of documents that all begin with
 * the end-of-document token, draw the very same ids.)
 */
export function drawNextTokens(logits: tf.Tensor2D, c: SamplingConfig, rng: Rng): tf.Tensor1D {
  return tf.tidy(() => drawWithUniforms(logits, c, tf.tensor2d(drawUniforms(rng, logits.shape[0]), [logits.shape[0], 1])));
}

/** `count` uniform numbers for drawNextTokens, below 1 also in float32 (the largest float32 under 1 is 1 − 2⁻²⁴). */
function drawUniforms(rng: Rng, count: number, length = count): Float32Array {
  const u = new Float32Array(length).fill(0.5);
  for (let i = 0; i < count; i++) u[i] = Math.min(rng.uniform(), 1 - 2 ** -24);
  return u;
}

/** drawNextTokens with the uniform numbers given, one per row ([B, 1]). */
export function drawWithUniforms(logits: tf.Tensor2D, c: SamplingConfig, uniforms: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const scaled = tf.div(logits, c.temperature) as tf.Tensor2D;
    const vocab = scaled.shape[1];
    const k = c.topP < 1 ? (c.topK > 0 ? c.topK : vocab) : c.topK;
    if (k === 0 || (k >= vocab && c.topP >= 1)) return inverseCdfDraw(scaled, uniforms);
    // Restrict to the k largest logits (sorted), then optionally to the nucleus of mass p.
    const { values, indices } = tf.topk(scaled, Math.min(k, vocab), true);
    let kept: tf.Tensor2D = values;
    if (c.topP < 1) {
      const probs = tf.softmax(values);
      const before = tf.cumsum(probs, 1, true); // mass of the strictly more likely tokens
      kept = tf.where(tf.less(before, c.topP), values, tf.fill(values.shape, -Infinity)) as tf.Tensor2D;
    }
    const choice = inverseCdfDraw(kept, uniforms); // positions into the sorted list
    // Row-wise lookup as one flat gather: wasm's gather with batchDims reads out of bounds.
    const [rows, width] = indices.shape;
    const flat = tf.add(tf.mul(tf.range(0, rows, 1, "int32"), tf.scalar(width, "int32")), choice);
    return tf.gather(indices.reshape([-1]), flat) as tf.Tensor1D;
  });
}

/**
 * Per row, the first id whose cumulative probability exceeds u × the row's total (which rounding
 * leaves a hair off 1), so that an id of probability 0, such as one cut by top-p, is never drawn.
 */
function inverseCdfDraw(logits: tf.Tensor2D, uniforms: tf.Tensor2D): tf.Tensor1D {
  const [rows, vocab] = logits.shape;
  const cdf = cumulativeSum(tf.softmax(logits) as tf.Tensor2D);
  const target = tf.mul(uniforms, tf.slice(cdf, [0, vocab - 1], [rows, 1]));
  // searchSorted where the backend has it: broadcasting comparisons are ~20× slower on wasm. The
  // tensorflow backend has no SearchSorted kernel; counting the entries ≤ target is the same number
  // (cdf is non-decreasing), as one fused comparison and sum.
  if (tf.getKernel("SearchSorted", tf.getBackend())) return tf.searchSorted(cdf, target, "right").reshape([-1]) as tf.Tensor1D;
  return tf.sum(tf.cast(tf.lessEqual(cdf, target), "int32"), 1) as tf.Tensor1D;
}

/**
 * The running sum along each row of x [rows, n]. On the native backend, where TensorFlow's scan kernel
 * is slow (a fifth of a decoding step at n = 2048), in blocks of 32: sums within each block as one
 * product with a triangular matrix of ones, then the blocks' offsets (a 32× shorter scan). The same
 * sums added in another order: equal to float32 rounding.
 */
function cumulativeSum(x: tf.Tensor2D): tf.Tensor2D {
  const [rows, n] = x.shape;
  const block = 32;
  if (tf.getBackend() !== "tensorflow" || n % block !== 0 || n <= block) return tf.cumsum(x, 1) as tf.Tensor2D;
  const upper = tf.tensor2d(Float32Array.from({ length: block * block }, (_, k) => (Math.floor(k / block) <= k % block ? 1 : 0)), [block, block]);
  const within = tf.matMul(x.reshape([-1, block]), upper).reshape([rows, n / block, block]);
  const totals = tf.slice(within, [0, 0, block - 1], [rows, n / block, 1]);
  const offsets = tf.cumsum(totals, 1, true);
  return tf.add(within, offsets).reshape([rows, n]) as tf.Tensor2D;
}

/**
 * `count` documents sampled from the model, each started from the end-of-document token (which
 * separates documents in training) and stopped at the next one or at maxTokens. Returns token ids
 * without the start and end tokens. Incremental decoding through the KV cache: the prefix is never
 * recomputed.
 */
export async function sampleDocuments(config: LmConfig, params: Params, endOfDocument: number, count: number, c: SamplingConfig, rng: Rng): Promise<Int32Array[]> {
  const out: Int32Array[] = [];
  while (out.length < count) {
    const batch = Math.min(c.batchSize, count - out.length);
    out.push(...sampleBatch(config, params, endOfDocument, batch, c, rng));
    await new Promise<void>((resolve) => setImmediate(resolve)); // let notebook messages and Ctrl-C through
  }
  return out;
}

/**
 * The room a cache needs for `needed` positions: the next multiple of 32, at most `max`. Attention
 * spans little more than the positions filled, and growing (a copy of the cache) happens every 32
 * positions. (The compiled decoding step does not depend on the capacity.)
 */
export function cacheCapacityFor(needed: number, max: number): number {
  return Math.min(Math.max(32, Math.ceil(needed / 32) * 32), max);
}

/** Rows a decoding step computes for `live` documents of a batch of `batch` (padded: few shapes to compile). */
export function decodingRows(live: number, batch: number): number {
  return Math.min(batch, shapeBucket(live));
}

/**
 * One decoding step as a function of the parameters and [next tokens [P, 1], cache step, uniforms
 * [P, 1], keys, values] → [drawn ids [P], keys, values]: compiled on the native backend, one per model
 * shape and sampling setting.
 */
export function decodingStep(config: LmConfig, c: SamplingConfig) {
  const stepLength = config.arch === "llama" ? 5 : 3;
  const layers = config.nLayers;
  return compiledWithParams(`decode_${config.name}`, [config, c.temperature, c.topK, c.topP], (params, inputs) => {
    const tokens = inputs[0] as tf.Tensor2D;
    const step = cacheStepFromTensors(inputs.slice(1, 1 + stepLength));
    const uniforms = inputs[1 + stepLength] as tf.Tensor2D;
    const first = 2 + stepLength;
    const keys = inputs.slice(first, first + layers) as tf.Tensor4D[];
    const values = inputs.slice(first + layers, first + 2 * layers) as tf.Tensor4D[];
    const r = modelForward(config, params, tokens, { keys, values, step });
    const ids = drawWithUniforms(r.logits.reshape([tokens.shape[0], config.vocabSize]) as tf.Tensor2D, c, uniforms);
    // A cache written in place stays as it is; updated copies replace it.
    return r.keys[0] === keys[0] ? [ids] : [ids, ...r.keys, ...r.values];
  });
}

function sampleBatch(config: LmConfig, params: Params, eod: number, batch: number, c: SamplingConfig, rng: Rng): Int32Array[] {
  const docs: number[][] = Array.from({ length: batch }, () => []);
  const step = decodingStep(config, c);
  // Row r of the cache decodes document rows[r]. Ended documents are dropped from the batch once an
  // eighth of it has ended, so decoding costs about the documents' total length, not batch × the
  // longest one. The step computes `physical` rows (rows.length rounded up: fewer shapes to compile);
  // the rows beyond rows.length are padding whose draws are ignored.
  let rows = Array.from({ length: batch }, (_, i) => i);
  let ended = new Array<boolean>(batch).fill(false);
  let physical = decodingRows(batch, batch);
  const cache = createCache(config, physical, cacheCapacityFor(1, c.maxTokens));
  let next = tf.fill([physical, 1], eod, "int32") as tf.Tensor2D;
  try {
    for (let t = 0; t < c.maxTokens; t++) {
      growCache(cache, cacheCapacityFor(t + 1, c.maxTokens));
      const uniforms = drawUniforms(rng, rows.length, physical);
      const ids = tf.tidy(() => {
        const where = decodeStep(config, physical, t, 1, cacheCapacity(cache));
        const out = step(params, [next, ...cacheStepTensors(where), tf.tensor2d(uniforms, [physical, 1]), ...cache.keys, ...cache.values]);
        if (out.length > 1) {
          for (let l = 0; l < config.nLayers; l++) {
            cache.keys[l].dispose();
            cache.values[l].dispose();
            cache.keys[l] = tf.keep(out[1 + l]) as tf.Tensor4D;
            cache.values[l] = tf.keep(out[1 + config.nLayers + l]) as tf.Tensor4D;
          }
        }
        return out[0];
      });
      cache.length = t + 1;
      const host = ids.dataSync();
      next.dispose();
      next = ids.reshape([physical, 1]) as tf.Tensor2D;
      ids.dispose();
      const live: number[] = [];
      for (let r = 0; r < rows.length; r++) {
        if (ended[r]) continue;
        if (host[r] === eod) ended[r] = true;
        else {
          docs[rows[r]].push(host[r]);
          live.push(r);
        }
      }
      if (live.length === 0) break;
      if (rows.length - live.length >= Math.max(1, rows.length >> 3)) {
        physical = decodingRows(live.length, batch);
        const kept = Array.from({ length: physical }, (_, i) => live[Math.min(i, live.length - 1)]);
        selectCacheRows(cache, kept);
        const nextKept = tf.tidy(() => tf.gather(next, tf.tensor1d(Int32Array.from(kept), "int32"), 0)) as tf.Tensor2D;
        next.dispose();
        next = nextKept;
        rows = live.map((r) => rows[r]);
        ended = new Array<boolean>(rows.length).fill(false);
      }
    }
  } finally {
    next.dispose();
    disposeCache(cache);
  }
  return docs.map((d) => Int32Array.from(d));
}
