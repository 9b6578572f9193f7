import * as tf from "@tensorflow/tfjs";
import { ConfigError, checkInt, checkKnownKeys, checkNumber, checkOneOf } from "../errors";
import type { Rng } from "../random";
import { conv2d, dense, upsampleConv } from "./layers";
import { type ParamSpec, materialize, normal, zeros } from "../nn/params";
import type { Params } from "../nn/params";

/**
 * The convolutional VAE of §3.3 (Kingma & Welling 2013), as plain functions over named parameters.
 *
 *   encoder   x [B, S, S, 3] → L stride-2 3×3 convs (channels[0..L-1], LeakyReLU) → flatten
 *             → two dense heads: mu, logvar [B, latentDim]          (the paper: 32…512, latent 128)
 *   prior     z ~ N(0, I), isotropic
 *   decoder   z → dense → [S/2^L, S/2^L, channels[L-1]] → L sub-pixel upsampling convs back through
 *             channels[L-2..0] (LeakyReLU) and, last, to 3 output channels (logits, no activation)
 *
 * No BatchNorm: it would make a model's output depend on which images share its batch and need running
 * statistics for sampling; at these depths Adam trains the plain network well, and the model stays a
 * pure function of its parameters.
 *
 * Likelihoods, per value in [0, 1]: "bernoulli" (binary cross-entropy on the sigmoid of the logits,
 * the usual choice for image VAEs; for non-binary pixels it is a reconstruction loss rather than a
 * normalised density) or "gaussian" (mean = sigmoid(logits), fixed std `outputStd`, a true density).
 */
export interface VaeConfig {
  /** Side of the square input images; divisible by 2^channels.length. */
  imageSize: number;
  /** Widths of the stride-2 encoder convs; the decoder mirrors them. */
  channels: number[];
  latentDim: number;
  likelihood: "bernoulli" | "gaussian";
  /** Gaussian likelihood only: the fixed output standard deviation. */
  outputStd?: number;
}

export const LIKELIHOODS = ["bernoulli", "gaussian"] as const;
const LEAK = 0.2;

export function checkVaeConfig(c: VaeConfig, field = "model"): VaeConfig {
  if (typeof c !== "object" || c === null) throw new ConfigError(field, "expected an object");
  checkKnownKeys(field, c, ["imageSize", "channels", "latentDim", "likelihood", "outputStd"]);
  const size = checkInt(`${field}.imageSize`, c.imageSize, { min: 2, max: 1024 });
  if (!Array.isArray(c.channels) || c.channels.length === 0) throw new ConfigError(`${field}.channels`, "expected a non-empty list of conv widths");
  c.channels.forEach((w, i) => checkInt(`${field}.channels[${i}]`, w, { min: 1 }));
  if (size % 2 ** c.channels.length !== 0) {
    throw new ConfigError(`${field}.imageSize`, `${size} is not divisible by 2^${c.channels.length} (one halving per encoder conv)`);
  }
  checkInt(`${field}.latentDim`, c.latentDim, { min: 1 });
  checkOneOf(`${field}.likelihood`, c.likelihood, LIKELIHOODS);
  if (c.outputStd !== undefined) {
    if (c.likelihood !== "gaussian") throw new ConfigError(`${field}.outputStd`, "only applies to the gaussian likelihood");
    checkNumber(`${field}.outputStd`, c.outputStd, { exclusiveMin: 0 });
  }
  return c;
}

/** Spatial side of the innermost feature map. */
export const bottleneckSize = (c: VaeConfig): number => c.imageSize / 2 ** c.channels.length;

/** He-normal for layers followed by LeakyReLU; the heads and the output start small. */
const he = (fanIn: number, gain = Math.sqrt(2)) => normal(gain / Math.sqrt(fanIn));

export function vaeSpecs(c: VaeConfig): Record<string, ParamSpec> {
  const specs: Record<string, ParamSpec> = {};
  const L = c.channels.length;
  let inC = 3;
  c.channels.forEach((outC, i) => {
    specs[`enc.${i}.w`] = { shape: [3, 3, inC, outC], init: he(9 * inC) };
    specs[`enc.${i}.b`] = { shape: [outC], init: zeros };
    inC = outC;
  });
  const s = bottleneckSize(c);
  const flat = s * s * c.channels[L - 1];
  specs["mu.w"] = { shape: [flat, c.latentDim], init: he(flat, 1) };
  specs["mu.b"] = { shape: [c.latentDim], init: zeros };
  specs["logvar.w"] = { shape: [flat, c.latentDim], init: he(flat, 0.1) };
  specs["logvar.b"] = { shape: [c.latentDim], init: zeros };
  specs["dec.in.w"] = { shape: [c.latentDim, flat], init: he(c.latentDim) };
  specs["dec.in.b"] = { shape: [flat], init: zeros };
  for (let i = L - 1; i >= 0; i--) {
    const from = c.channels[i];
    const to = i > 0 ? c.channels[i - 1] : 3;
    specs[`dec.${i}.w`] = { shape: [3, 3, from, 4 * to], init: he(9 * from, i > 0 ? Math.sqrt(2) : 1) };
    specs[`dec.${i}.b`] = { shape: [to], init: zeros };
  }
  return specs;
}

export function vaeInit(c: VaeConfig, rng: Rng): Params {
  return materialize(vaeSpecs(checkVaeConfig(c)), rng);
}

export function vaeParameterCount(c: VaeConfig): number {
  return Object.values(vaeSpecs(c)).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
}

export function disposeVae(params: Params): void {
  for (const v of Object.values(params)) if (!v.isDisposed) v.dispose();
}

/** The approximate posterior q(z|x) = N(mu, exp(logvar)) of each image. */
export function encode(c: VaeConfig, p: Params, x: tf.Tensor4D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
  let h = x;
  c.channels.forEach((_, i) => {
    h = tf.leakyRelu(tf.add(conv2d(h, p[`enc.${i}.w`] as tf.Variable<tf.Rank.R4>, 2, { inputGrad: i > 0 }), p[`enc.${i}.b`]), LEAK) as tf.Tensor4D;
  });
  const flat = h.reshape([x.shape[0], -1]) as tf.Tensor2D;
  return { mu: dense(flat, p["mu.w"], p["mu.b"]), logvar: dense(flat, p["logvar.w"], p["logvar.b"]) };
}

/** Output logits [B, S, S, 3] for latents z [B, latentDim]. */
export function decodeLogits(c: VaeConfig, p: Params, z: tf.Tensor2D): tf.Tensor4D {
  const s = bottleneckSize(c);
  const L = c.channels.length;
  let h = tf.leakyRelu(dense(z, p["dec.in.w"], p["dec.in.b"]), LEAK).reshape([z.shape[0], s, s, c.channels[L - 1]]) as tf.Tensor4D;
  for (let i = L - 1; i >= 0; i--) {
    h = upsampleConv(h, p[`dec.${i}.w`] as tf.Variable<tf.Rank.R4>);
    h = tf.add(h, p[`dec.${i}.b`]) as tf.Tensor4D;
    if (i > 0) h = tf.leakyRelu(h, LEAK) as tf.Tensor4D;
  }
  return h;
}

/** Decoded images in [0, 1]: the mean of p(x|z) (the sigmoid of the logits) under either likelihood. */
export function decode(c: VaeConfig, p: Params, z: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => tf.sigmoid(decodeLogits(c, p, z)));
}

export interface ElboTerms {
  /** −ELBO = reconstruction + kl, per image [B]. */
  negElbo: tf.Tensor1D;
  /** −log p(x|z) summed over the image's S·S·3 values, per image [B]. */
  reconstruction: tf.Tensor1D;
  /** KL(q(z|x) ‖ N(0, I)), per image [B]. */
  kl: tf.Tensor1D;
}

/**
 * The negative evidence lower bound of each image, in nats per image, with one reparameterised draw
 * z = mu + exp(logvar/2)·eps; `eps` [B, latentDim] is standard normal noise supplied by the caller
 * (so every random draw comes from an explicit Rng, and the value is reproducible).
 */
export function elbo(c: VaeConfig, p: Params, x: tf.Tensor4D, eps: tf.Tensor2D): ElboTerms {
  return tf.tidy(() => {
    const { mu, logvar } = encode(c, p, x);
    const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps)) as tf.Tensor2D;
    const logits = decodeLogits(c, p, z);
    let perValue: tf.Tensor;
    if (c.likelihood === "bernoulli") {
      // −[x log σ(l) + (1−x) log(1−σ(l))] = softplus(l) − x·l, in its overflow-free form.
      perValue = tf.add(tf.sub(tf.relu(logits), tf.mul(x, logits)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
    } else {
      const std = c.outputStd ?? 0.1;
      perValue = tf.add(tf.div(tf.square(tf.sub(x, tf.sigmoid(logits))), 2 * std * std), 0.5 * Math.log(2 * Math.PI * std * std));
    }
    const reconstruction = tf.sum(perValue, [1, 2, 3]) as tf.Tensor1D;
    const kl = tf.mul(0.5, tf.sum(tf.sub(tf.add(tf.square(mu), tf.exp(logvar)), tf.add(1, logvar)), 1)) as tf.Tensor1D;
    return { negElbo: tf.add(reconstruction, kl) as tf.Tensor1D, reconstruction, kl };
  });
}

/** Reconstructions of images [B, S, S, 3]: the decoder mean at the posterior mean (Figure 12). */
export function reconstruct(c: VaeConfig, p: Params, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => decode(c, p, encode(c, p, x).mu));
}
