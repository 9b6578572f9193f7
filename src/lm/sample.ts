import * as tf from "@tensorflow/tfjs";
import { ConfigError, checkInt, checkNumber } from "../errors";
import type { Rng } from "../random";
import { selectCacheRows } from "./layers";
import { createCache, disposeCache, forward } from "./model";
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
  return tf.tidy(() => {
    // Below 1 also in float32 (the largest float32 under 1 is 1 − 2⁻²⁴).
    const uniforms = tf.tensor2d(Float32Array.from({ length: logits.shape[0] }, () => Math.min(rng.uniform(), 1 - 2 ** -24)), [logits.shape[0], 1]);
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
  const cdf = tf.cumsum(tf.softmax(logits), 1);
  const target = tf.mul(uniforms, tf.slice(cdf, [0, vocab - 1], [rows, 1]));
  // searchSorted where the backend has it: broadcasting comparisons are ~20× slower on wasm. The
  // tensorflow backend has no SearchSorted kernel; counting the entries ≤ target is the same number
  // (cdf is non-decreasing), as one fused comparison and sum.
  if (tf.getKernel("SearchSorted", tf.getBackend())) return tf.searchSorted(cdf, target, "right").reshape([-1]) as tf.Tensor1D;
  return tf.sum(tf.cast(tf.lessEqual(cdf, target), "int32"), 1) as tf.Tensor1D;
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

function sampleBatch(config: LmConfig, params: Params, eod: number, batch: number, c: SamplingConfig, rng: Rng): Int32Array[] {
  const docs: number[][] = Array.from({ length: batch }, () => []);
  // Cache row r decodes document rows[r]. Ended documents are dropped from the batch once an eighth of
  // it has ended, so decoding costs about the documents' total length, not batch × the longest one.
  let rows = Array.from({ length: batch }, (_, i) => i);
  let ended = new Array<boolean>(batch).fill(false);
  const cache = createCache(config, batch);
  let next = tf.fill([batch, 1], eod, "int32") as tf.Tensor2D;
  try {
    for (let t = 0; t < c.maxTokens; t++) {
      const ids = tf.tidy(() => {
        const logits = forward(config, params, next, { cache }); // [rows, 1, V]
        return drawNextTokens(logits.reshape([rows.length, config.vocabSize]) as tf.Tensor2D, c, rng);
      });
      const host = ids.dataSync();
      next.dispose();
      next = ids.reshape([rows.length, 1]) as tf.Tensor2D;
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
        selectCacheRows(cache, live);
        const kept = tf.tidy(() => tf.gather(next, tf.tensor1d(Int32Array.from(live), "int32"), 0)) as tf.Tensor2D;
        next.dispose();
        next = kept;
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
