import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors";
import type { ImageSet } from "../images/types";
import type { Rng } from "../random";
import { conv2d, dense } from "./layers";
import { batchTensor } from "./train";
import { type ParamSpec, materialize, normal, zeros } from "../nn/params";
import type { Params } from "../nn/params";
import { fit, epochSteps } from "../nn/fit";

/**
 * A small CNN that predicts binary attributes (glasses, hat, ...) of real images, trained once per
 * sequence on labelled real data and then used to judge generated images: how often each attribute
 * appears among samples, and (from its penultimate layer) the features the Fréchet distance and
 * precision/recall are computed on.
 *
 *   x [B, S, S, 3] → stride-2 3×3 convs (channels, LeakyReLU) → flatten → dense featureDim (ReLU:
 *   the features) → dense one logit per attribute (multi-label, sigmoid).
 *
 * With no attributes it is left untrained and only provides random-projection features (a fallback for
 * unlabelled folders; such features still separate distributions, but less sharply).
 */
export interface ClassifierConfig {
  imageSize: number;
  channels: number[];
  featureDim: number;
  attributes: string[];
}

export interface Classifier {
  config: ClassifierConfig;
  params: Params;
}

export interface ClassifierTrainConfig {
  epochs: number;
  batchSize: number;
  learningRate: number;
}

function specs(c: ClassifierConfig): Record<string, ParamSpec> {
  const s: Record<string, ParamSpec> = {};
  let inC = 3;
  c.channels.forEach((outC, i) => {
    s[`conv.${i}.w`] = { shape: [3, 3, inC, outC], init: normal(Math.sqrt(2 / (9 * inC))) };
    s[`conv.${i}.b`] = { shape: [outC], init: zeros };
    inC = outC;
  });
  const side = c.imageSize / 2 ** c.channels.length;
  const flat = side * side * inC;
  s["features.w"] = { shape: [flat, c.featureDim], init: normal(Math.sqrt(2 / flat)) };
  s["features.b"] = { shape: [c.featureDim], init: zeros };
  s["head.w"] = { shape: [c.featureDim, Math.max(1, c.attributes.length)], init: normal(1 / Math.sqrt(c.featureDim)) };
  s["head.b"] = { shape: [Math.max(1, c.attributes.length)], init: zeros };
  return s;
}

export function classifierInit(c: ClassifierConfig, rng: Rng): Classifier {
  if (!Number.isInteger(c.imageSize / 2 ** c.channels.length)) throw new ConfigError("classifier.channels", `too many halvings for ${c.imageSize}×${c.imageSize} images`);
  return { config: c, params: materialize(specs(c), rng) };
}

export function disposeClassifier(clf: Classifier): void {
  for (const v of Object.values(clf.params)) if (!v.isDisposed) v.dispose();
}

function forward(clf: Classifier, x: tf.Tensor4D): { features: tf.Tensor2D; logits: tf.Tensor2D } {
  const p = clf.params;
  let h = x;
  clf.config.channels.forEach((_, i) => {
    h = tf.leakyRelu(tf.add(conv2d(h, p[`conv.${i}.w`] as tf.Variable<tf.Rank.R4>, 2, { inputGrad: i > 0 }), p[`conv.${i}.b`]), 0.2) as tf.Tensor4D;
  });
  const features = tf.relu(dense(h.reshape([x.shape[0], -1]) as tf.Tensor2D, p["features.w"], p["features.b"])) as tf.Tensor2D;
  return { features, logits: dense(features, p["head.w"], p["head.b"]) };
}

/** Multi-label training (sigmoid cross-entropy per attribute) with Adam (no decay, no clipping) on labelled real images. */
export async function trainClassifier(clf: Classifier, data: ImageSet, c: ClassifierTrainConfig, rng: Rng, report?: (step: number, loss: number) => void): Promise<void> {
  const names = clf.config.attributes;
  if (names.length === 0) return;
  const labels = names.map((a) => {
    const l = data.attributes?.[a];
    if (!l) throw new ConfigError("classifier.attributes", `the training images have no labels for ${a}`);
    return l;
  });
  const steps = epochSteps(data.n, c.batchSize, c.epochs);
  let order = rng.permutation(data.n);
  let cursor = 0;
  await fit({
    params: clf.params,
    steps,
    optimizer: { beta1: 0.9, beta2: 0.999, gradClip: 0 },
    what: "attribute classifier training",
    learningRate: () => c.learningRate,
    batch: () => {
      if (cursor >= data.n) ((order = rng.permutation(data.n)), (cursor = 0));
      const rows = order.subarray(cursor, cursor + c.batchSize);
      cursor += rows.length;
      return rows;
    },
    loss: (rows) => {
      const y = new Float32Array(rows.length * names.length);
      rows.forEach((r, i) => labels.forEach((l, a) => (y[i * names.length + a] = l[r])));
      const x = batchTensor(data, rows);
      const target = tf.tensor2d(y, [rows.length, names.length]);
      return { inputs: [x, target], value: () => tf.losses.sigmoidCrossEntropy(target, forward(clf, x).logits) as tf.Scalar };
    },
    afterStep: (step, v) => report?.(step + 1, v.loss),
  });
}

/** Penultimate-layer features [n × featureDim] and attribute probabilities [n × attributes] of a set. */
export function classify(clf: Classifier, data: ImageSet, batchSize = 256): { features: Float32Array; probabilities: Float32Array } {
  const f = clf.config.featureDim;
  const a = Math.max(1, clf.config.attributes.length);
  const features = new Float32Array(data.n * f);
  const probabilities = new Float32Array(data.n * a);
  for (let start = 0; start < data.n; start += batchSize) {
    const rows = Int32Array.from({ length: Math.min(batchSize, data.n - start) }, (_, k) => start + k);
    tf.tidy(() => {
      const out = forward(clf, batchTensor(data, rows));
      features.set(out.features.dataSync(), start * f);
      probabilities.set(tf.sigmoid(out.logits).dataSync(), start * a);
    });
  }
  return { features, probabilities };
}

/** Share of images the classifier gives each attribute (probability > ½). */
export function attributeFrequencies(clf: Classifier, probabilities: Float32Array, n: number): Record<string, number> {
  const names = clf.config.attributes;
  const out: Record<string, number> = {};
  names.forEach((name, a) => {
    let count = 0;
    for (let i = 0; i < n; i++) if (probabilities[i * names.length + a] > 0.5) count++;
    out[name] = count / n;
  });
  return out;
}

/** Share of correct predictions per attribute on labelled images (how far the classifier can be trusted). */
export function classifierAccuracy(clf: Classifier, data: ImageSet): Record<string, number> {
  const { probabilities } = classify(clf, data);
  const names = clf.config.attributes;
  const out: Record<string, number> = {};
  names.forEach((name, a) => {
    const labels = data.attributes?.[name];
    if (!labels) return;
    let right = 0;
    for (let i = 0; i < data.n; i++) if (Number(probabilities[i * names.length + a] > 0.5) === labels[i]) right++;
    out[name] = right / data.n;
  });
  return out;
}

/**
 * How sure the classifier is of each image: the mean over attributes of max(p, 1 − p), from ½ (no
 * idea) to 1. Real faces should sit far from its decision boundaries, implausible images nearer them.
 */
export function attributeConfidence(clf: Classifier, data: ImageSet): Float64Array {
  const a = clf.config.attributes.length;
  if (a === 0) throw new ConfigError("curation.verifier", "classifier-confidence needs an attribute classifier, and this one has no attributes (the images carry no attribute labels)");
  const { probabilities } = classify(clf, data);
  const out = new Float64Array(data.n);
  for (let i = 0; i < data.n; i++) {
    let sum = 0;
    for (let k = 0; k < a; k++) sum += Math.max(probabilities[i * a + k], 1 - probabilities[i * a + k]);
    out[i] = sum / a;
  }
  return out;
}
