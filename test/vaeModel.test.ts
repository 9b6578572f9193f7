import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import { generateFaces } from "../src/images/faces";
import { conv2d } from "../src/vae/layers";
import { type VaeConfig, checkVaeConfig, decode, disposeVae, elbo, encode, vaeInit, vaeParameterCount, vaeSpecs } from "../src/vae/model";
import { checkVaeTrainConfig, evaluateElbo, trainVae } from "../src/vae/train";
import { Rng } from "../src/random";
import { configErrorField } from "./helpers";

before(async () => {
  await selectBackend();
});

const TINY: VaeConfig = { imageSize: 4, channels: [2], latentDim: 2, likelihood: "bernoulli" };

test("encoder and decoder shapes; parameter count of the paper's architecture", () => {
  const c: VaeConfig = { imageSize: 32, channels: [8, 16, 32], latentDim: 16, likelihood: "bernoulli" };
  const p = vaeInit(c, Rng.fromSeed(1));
  try {
    tf.tidy(() => {
      const x = tf.zeros([3, 32, 32, 3]) as tf.Tensor4D;
      const { mu, logvar } = encode(c, p, x);
      assert.deepEqual(mu.shape, [3, 16]);
      assert.deepEqual(logvar.shape, [3, 16]);
      const img = decode(c, p, tf.zeros([5, 16]));
      assert.deepEqual(img.shape, [5, 32, 32, 3]);
      const v = img.dataSync();
      assert.ok(v.every((a) => a > 0 && a < 1), "decoder means lie in (0, 1)");
    });
    assert.equal(vaeParameterCount(c), Object.values(p).reduce((s, v) => s + v.size, 0));
  } finally {
    disposeVae(p);
  }
  const paper: VaeConfig = { imageSize: 64, channels: [32, 64, 128, 256, 512], latentDim: 128, likelihood: "bernoulli" };
  console.log(`paper VAE (64×64, 32…512, latent 128): ${vaeParameterCount(paper).toLocaleString("en-US")} parameters`);
  assert.deepEqual(vaeSpecs(paper)["mu.w"].shape, [2 * 2 * 512, 128]);
  assert.equal(configErrorField(() => checkVaeConfig({ ...paper, imageSize: 48 })), "model.imageSize");
  assert.equal(configErrorField(() => checkVaeConfig({ ...paper, likelihood: "poisson" as never })), "model.likelihood");
  assert.equal(configErrorField(() => checkVaeConfig({ ...paper, outputStd: 0.1 })), "model.outputStd");
});

// Host reference of the tiny VAE: every layer written out on plain arrays.
type Arr = Float64Array | Float32Array | number[];

function hostConv(x: Arr, h: number, w: number, c: number, wt: Arr, o: number, stride: number): { y: Float64Array; ho: number; wo: number } {
  const ho = Math.floor((h + 2 - 3) / stride) + 1;
  const wo = Math.floor((w + 2 - 3) / stride) + 1;
  const y = new Float64Array(ho * wo * o);
  for (let i = 0; i < ho; i++)
    for (let j = 0; j < wo; j++)
      for (let oc = 0; oc < o; oc++) {
        let s = 0;
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            const yy = stride * i + ky - 1;
            const xx = stride * j + kx - 1;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            for (let ci = 0; ci < c; ci++) s += x[(yy * w + xx) * c + ci] * wt[((ky * 3 + kx) * c + ci) * o + oc];
          }
        y[(i * wo + j) * o + oc] = s;
      }
  return { y, ho, wo };
}
const leaky = (v: number) => (v > 0 ? v : 0.2 * v);

function hostNegElbo(p: Record<string, Float32Array>, x: Float32Array, eps: number[]): number {
  const enc = hostConv(x, 4, 4, 3, p["enc.0.w"], 2, 2); // [2, 2, 2]
  const h = Array.from(enc.y, (v, k) => leaky(v + p["enc.0.b"][k % 2]));
  const headOut = (w: Float32Array, b: Float32Array) => [0, 1].map((j) => b[j] + h.reduce((s, v, i) => s + v * w[i * 2 + j], 0));
  const mu = headOut(p["mu.w"], p["mu.b"]);
  const logvar = headOut(p["logvar.w"], p["logvar.b"]);
  const z = mu.map((m, j) => m + Math.exp(logvar[j] / 2) * eps[j]);
  const d = Array.from({ length: 8 }, (_, i) => leaky(p["dec.in.b"][i] + z[0] * p["dec.in.w"][i] + z[1] * p["dec.in.w"][8 + i]));
  const up = hostConv(d, 2, 2, 2, p["dec.0.w"], 12, 1); // [2, 2, 12]: 2×2 blocks of 3 channels
  let rec = 0;
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 2; j++)
      for (let dy = 0; dy < 2; dy++)
        for (let dx = 0; dx < 2; dx++)
          for (let c = 0; c < 3; c++) {
            const logit = up.y[(i * 2 + j) * 12 + (dy * 2 + dx) * 3 + c] + p["dec.0.b"][c];
            const target = x[((2 * i + dy) * 4 + 2 * j + dx) * 3 + c];
            const prob = 1 / (1 + Math.exp(-logit));
            rec -= target * Math.log(prob) + (1 - target) * Math.log(1 - prob);
          }
  const kl = 0.5 * mu.reduce((s, m, j) => s + m * m + Math.exp(logvar[j]) - 1 - logvar[j], 0);
  return rec + kl;
}

test("the ELBO of a tiny VAE matches a hand computation on host arrays", () => {
  const p = vaeInit(TINY, Rng.fromSeed(5));
  try {
    const host = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.dataSync() as Float32Array]));
    const rng = Rng.fromSeed(9);
    const x = Float32Array.from({ length: 2 * 4 * 4 * 3 }, () => rng.uniform());
    const eps = [0.3, -1.2, 0.8, 0.5];
    const got = tf.tidy(() => elbo(TINY, p, tf.tensor4d(x, [2, 4, 4, 3]), tf.tensor2d(eps, [2, 2])).negElbo.arraySync() as number[]);
    for (let b = 0; b < 2; b++) {
      const want = hostNegElbo(host, x.subarray(b * 48, (b + 1) * 48), eps.slice(2 * b, 2 * b + 2));
      assert.ok(Math.abs(got[b] - want) < 1e-3 * Math.abs(want), `image ${b}: ${got[b]} vs host ${want}`);
    }
  } finally {
    disposeVae(p);
  }
});

test("the fast conv2d gradients match numeric differentiation", () => {
  const rng = Rng.fromSeed(2);
  const xv = Float32Array.from({ length: 2 * 6 * 6 * 3 }, () => rng.normal());
  const wv = Float32Array.from({ length: 3 * 3 * 3 * 4 }, () => rng.normal());
  const tv = Float32Array.from({ length: 2 * 3 * 3 * 4 }, () => rng.normal());
  for (const stride of [1, 2] as const) {
    const out = stride === 2 ? 3 : 6;
    const t = tf.tensor4d(stride === 2 ? tv : Float32Array.from({ length: 2 * 6 * 6 * 4 }, (_, i) => tv[i % tv.length]), [2, out, out, 4]);
    const f = (x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride), t));
    const x = tf.tensor4d(xv, [2, 6, 6, 3]);
    const w = tf.tensor4d(wv, [3, 3, 3, 4]);
    const [gx, gw] = tf.grads(f)([x, w]).map((g) => g.dataSync());
    // f is linear in each argument, so a central difference is exact up to rounding.
    const numeric = (which: 0 | 1, i: number) => {
      const base = which === 0 ? xv : wv;
      const plus = Float32Array.from(base);
      const minus = Float32Array.from(base);
      plus[i] += 0.5;
      minus[i] -= 0.5;
      const shape = which === 0 ? x.shape : w.shape;
      const val = (v: Float32Array) => tf.tidy(() => (which === 0 ? f(tf.tensor(v, shape), w) : f(x, tf.tensor(v, shape))).dataSync()[0]);
      return val(plus) - val(minus);
    };
    for (const i of [0, 17, 50, 107]) assert.ok(Math.abs(gx[i] - numeric(0, i)) < 1e-3, `stride ${stride} dx[${i}]: ${gx[i]} vs ${numeric(0, i)}`);
    for (const i of [0, 13, 60, 107]) assert.ok(Math.abs(gw[i] - numeric(1, i)) < 1e-3, `stride ${stride} dw[${i}]: ${gw[i]} vs ${numeric(1, i)}`);
    tf.dispose([x, w, t]);
  }
});

test("training overfits a handful of faces, leaks no tensors, and reports a learning curve", async () => {
  const c: VaeConfig = { imageSize: 16, channels: [8, 16], latentDim: 4, likelihood: "bernoulli" };
  const data = generateFaces({ size: 16, count: 8, seed: 0, split: "train" });
  const p = vaeInit(c, Rng.fromSeed(3));
  try {
    const before = evaluateElbo(c, p, data, Rng.fromSeed(1)).negElbo;
    const tensors = tf.memory().numTensors;
    const curve: number[] = [];
    const result = await trainVae(c, p, data, checkVaeTrainConfig({ epochs: 60, batchSize: 8, learningRate: 3e-3, reportEvery: 10 }), Rng.fromSeed(4), (_s, m) => curve.push(m.loss));
    assert.equal(tf.memory().numTensors, tensors, "tf.memory().numTensors after training");
    const after = evaluateElbo(c, p, data, Rng.fromSeed(1)).negElbo;
    console.log(`overfitting 8 faces: -ELBO ${before.toFixed(1)} → ${after.toFixed(1)} nats/image; curve ${curve.map((v) => v.toFixed(0)).join(" ")}`);
    assert.equal(result.steps, 60);
    assert.equal(curve.length, 6);
    assert.ok(after < before - 20, `${before} → ${after}`);
    assert.ok(curve[5] < curve[0], "the learning curve falls");
    const gaussian: VaeConfig = { ...c, likelihood: "gaussian", outputStd: 0.2 };
    const pg = vaeInit(gaussian, Rng.fromSeed(3));
    const g0 = evaluateElbo(gaussian, pg, data, Rng.fromSeed(1)).negElbo;
    await trainVae(gaussian, pg, data, checkVaeTrainConfig({ epochs: 20, batchSize: 8, reportEvery: 10 }), Rng.fromSeed(4));
    assert.ok(evaluateElbo(gaussian, pg, data, Rng.fromSeed(1)).negElbo < g0);
    disposeVae(pg);
  } finally {
    disposeVae(p);
  }
});

test("divergence is reported with the step; bad train configs name the field", async () => {
  const c: VaeConfig = { imageSize: 8, channels: [4], latentDim: 2, likelihood: "bernoulli" };
  const data = generateFaces({ size: 8, count: 4, seed: 0, split: "train" });
  const p = vaeInit(c, Rng.fromSeed(3));
  try {
    const tensors = tf.memory().numTensors;
    await assert.rejects(trainVae(c, p, data, checkVaeTrainConfig({ epochs: 50, batchSize: 4, learningRate: 1e6 }), Rng.fromSeed(1)), /diverged at step \d+/);
    assert.equal(tf.memory().numTensors, tensors);
  } finally {
    disposeVae(p);
  }
  assert.equal(configErrorField(() => checkVaeTrainConfig({ batchSize: 0 })), "train.batchSize");
  assert.equal(configErrorField(() => checkVaeTrainConfig({ lr: 1 } as never)), "train.lr");
});
