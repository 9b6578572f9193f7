import * as tf from "@tensorflow/tfjs";
import { ConfigError, checkInt, checkNumber } from "../errors";
import type { Rng } from "../random";
import { createCache, disposeCache, forward } from "./model";
import type { LmConfig, Params } from "./types";

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
 * host. The multinomial draw is seeded from the caller's Rng (deterministic for a seed).
 */
export function drawNextTokens(logits: tf.Tensor2D, c: SamplingConfig, rng: Rng): tf.Tensor1D {
  return tf.tidy(() => {
    const seed = rng.int(2 ** 31 - 1);
    let scaled = tf.div(logits, c.temperature) as tf.Tensor2D;
    const vocab = scaled.shape[1];
    const k = c.topP < 1 ? (c.topK > 0 ? c.topK : vocab) : c.topK;
    if (k === 0 || k >= vocab && c.topP >= 1) return tf.multinomial(scaled, 1, seed).reshape([-1]) as tf.Tensor1D;
    // Restrict to the k largest logits (sorted), then optionally to the nucleus of mass p.
    const { values, indices } = tf.topk(scaled, Math.min(k, vocab), true);
    let kept: tf.Tensor2D = values;
    if (c.topP < 1) {
      const probs = tf.softmax(values);
      const before = tf.cumsum(probs, 1, true); // mass of the strictly more likely tokens
      kept = tf.where(tf.less(before, c.topP), values, tf.fill(values.shape, -Infinity)) as tf.Tensor2D;
    }
    const choice = tf.multinomial(kept, 1, seed); // [B, 1] positions into the sorted list
    return tf.gather(indices, choice, 1, 1).reshape([-1]) as tf.Tensor1D;
  });
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
  const finished = new Array<boolean>(batch).fill(false);
  const cache = createCache(config, batch);
  let next = tf.fill([batch, 1], eod, "int32") as tf.Tensor2D;
  try {
    for (let t = 0; t < c.maxTokens && finished.includes(false); t++) {
      const ids = tf.tidy(() => {
        const logits = forward(config, params, next, { cache }); // [B, 1, V]
        return drawNextTokens(logits.reshape([batch, config.vocabSize]) as tf.Tensor2D, c, rng);
      });
      const host = ids.dataSync();
      next.dispose();
      next = ids.reshape([batch, 1]) as tf.Tensor2D;
      ids.dispose();
      for (let b = 0; b < batch; b++) {
        if (finished[b]) continue;
        if (host[b] === eod) finished[b] = true;
        else docs[b].push(host[b]);
      }
    }
  } finally {
    next.dispose();
    disposeCache(cache);
  }
  return docs.map((d) => Int32Array.from(d));
}
