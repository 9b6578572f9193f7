import * as tf from "@tensorflow/tfjs";
import type { Params } from "../nn/params";
import { forward } from "./model";
import type { LmConfig } from "./types";

/**
 * Per-document cross-entropy (nats/token) of whole documents under a model: each document is scored
 * as the model saw documents in training, after an end-of-text token and followed by one, so the
 * score includes where it ends. A document longer than the context is scored on its first
 * `contextLength` predictions. Documents are batched by length, padded, and the padding masked out.
 */
export function documentCrossEntropies(config: LmConfig, params: Params, docs: readonly Int32Array[], eot: number, batchSize: number): number[] {
  const out = new Array<number>(docs.length).fill(0);
  const order = docs.map((_, i) => i).sort((a, b) => docs[a].length - docs[b].length);
  for (let start = 0; start < order.length; start += batchSize) {
    const rows = order.slice(start, start + batchSize);
    const seqs = rows.map((i) => {
      const s = Int32Array.from([eot, ...docs[i], eot]);
      return s.subarray(0, Math.min(s.length, config.contextLength + 1));
    });
    const span = Math.max(...seqs.map((s) => s.length)) - 1;
    const inputs = new Int32Array(rows.length * span);
    const targets = new Int32Array(rows.length * span);
    const mask = new Float32Array(rows.length * span);
    seqs.forEach((s, r) => {
      for (let t = 0; t + 1 < s.length; t++) {
        inputs[r * span + t] = s[t];
        targets[r * span + t] = s[t + 1];
        mask[r * span + t] = 1;
      }
    });
    const nll = tf.tidy(() => {
      const logits = forward(config, params, tf.tensor2d(inputs, [rows.length, span], "int32"));
      const logp = tf.logSoftmax(logits.reshape([-1, config.vocabSize]));
      const flat = tf.add(tf.mul(tf.range(0, rows.length * span, 1, "int32"), tf.scalar(config.vocabSize, "int32")), tf.tensor1d(targets, "int32"));
      const picked = tf.gather(logp.reshape([-1]), flat);
      return tf.sum(tf.mul(tf.neg(picked), tf.tensor1d(mask)).reshape([rows.length, span]), 1);
    });
    const sums = nll.dataSync();
    nll.dispose();
    rows.forEach((i, r) => (out[i] = sums[r] / (seqs[r].length - 1)));
  }
  return out;
}
