import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import { applyRope, ropeTables } from "../src/lm/llama";
import { adamWDispose, adamWInit, adamWStep } from "../src/nn/adamw";
import { DivergenceError, fit, learningRateAt } from "../src/nn/fit";
import { disposeParams, toVariable } from "../src/nn/params";
import { Rng } from "../src/random";

// Golden values for the numerically critical pieces of src/nn and the models' position encoding.

before(async () => {
  await selectBackend({ backend: "cpu" });
});

test("learningRateAt: linear warmup to the peak, cosine to the minimum, at its boundary steps", () => {
  const c = { learningRate: 1, minLearningRate: 0.1, warmupFraction: 0.1 };
  // 100 steps: 10 warmup steps reach the peak at step 9; decay spans steps 10..100.
  assert.equal(learningRateAt(c, 0, 100), 0.1);
  assert.equal(learningRateAt(c, 4, 100), 0.5);
  assert.equal(learningRateAt(c, 9, 100), 1);
  assert.equal(learningRateAt(c, 10, 100), 1, "decay starts at the peak");
  assert.ok(Math.abs(learningRateAt(c, 55, 100) - 0.55) < 1e-12, "half way down the cosine: the mean of peak and minimum");
  assert.ok(Math.abs(learningRateAt(c, 100, 100) - 0.1) < 1e-12, "the minimum at the end");
  assert.ok(Math.abs(learningRateAt(c, 500, 100) - 0.1) < 1e-12, "and past it");
  // No warmup asked for: still one warmup step (step 0 at the peak).
  assert.equal(learningRateAt({ ...c, warmupFraction: 0 }, 0, 100), 1);
  // A single-step fit trains at the peak.
  assert.equal(learningRateAt(c, 0, 1), 1);
});

test("adamWStep without weight decay or clipping follows tf.train.adam step for step", () => {
  const rng = Rng.fromSeed(3);
  const init = Float32Array.from({ length: 12 }, () => rng.normal());
  const target = tf.tensor2d(Float32Array.from({ length: 12 }, () => rng.normal()), [3, 4]);
  const ours = { w: toVariable(init.slice(), [3, 4]) };
  const theirs = toVariable(init.slice(), [3, 4]);
  const loss = (w: tf.Tensor) => tf.sum(tf.mul(tf.square(tf.sub(w, target)), tf.range(1, 13).reshape([3, 4])));
  const state = adamWInit(ours);
  const reference = tf.train.adam(0.05, 0.9, 0.99, 1e-8);
  try {
    for (let step = 0; step < 25; step++) {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => loss(ours.w) as tf.Scalar, [ours.w]);
        adamWStep(ours, state, grads, step, 0.05, { beta1: 0.9, beta2: 0.99, gradClip: 0 });
      });
      reference.minimize(() => loss(theirs) as tf.Scalar, false, [theirs]);
    }
    const a = ours.w.dataSync();
    const b = theirs.dataSync();
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `element ${i}: ${a[i]} vs tf.train.adam ${b[i]}`);
    assert.ok(Math.abs(a[0] - init[0]) > 0.1, "the parameters moved");
  } finally {
    adamWDispose(state);
    disposeParams(ours);
    theirs.dispose();
    reference.dispose();
    target.dispose();
  }
});

test("adamWStep: decoupled weight decay shrinks only the parameters it selects, by lr·wd·w", () => {
  const params = { a: toVariable(Float32Array.of(2, -4), [2]), b: toVariable(Float32Array.of(2, -4), [2]) };
  const state = adamWInit(params);
  try {
    tf.tidy(() => {
      const zero = { [params.a.name]: tf.zeros([2]), [params.b.name]: tf.zeros([2]) };
      adamWStep(params, state, zero, 0, 0.1, { beta1: 0.9, beta2: 0.999, gradClip: 0, weightDecay: 0.5 }, (n) => n === "a");
    });
    // A zero gradient moves nothing through the moments; only the decay of `a` remains: w − 0.1·0.5·w.
    assert.deepEqual(Array.from(params.a.dataSync()), [1.9, -3.8].map((x) => Math.fround(x)));
    assert.deepEqual(Array.from(params.b.dataSync()), [2, -4]);
  } finally {
    adamWDispose(state);
    disposeParams(params);
  }
});

test("RoPE rotates each pair (i, i + hd/2) by position · θ^(−2i/hd), against hand-computed values", () => {
  // head size 4: frequencies 1 and 10000^(−1/2) = 0.01; positions 2 and 3.
  const x = [1, 2, 3, 4];
  const got = tf.tidy(() => {
    const [cos, sin] = ropeTables(4, 10000, 2, 2);
    return applyRope(tf.tensor4d([...x, ...x], [1, 1, 2, 4]), cos, sin).dataSync();
  });
  const want: number[] = [];
  for (const p of [2, 3]) {
    const [a, b] = [p * 1, p * 0.01];
    want.push(1 * Math.cos(a) - 3 * Math.sin(a), 2 * Math.cos(b) - 4 * Math.sin(b), 3 * Math.cos(a) + 1 * Math.sin(a), 4 * Math.cos(b) + 2 * Math.sin(b));
  }
  want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-6, `element ${i}: ${got[i]} vs ${w}`));
  // A rotation: the norm of every pair is kept.
  assert.ok(Math.abs(Math.hypot(got[0], got[2]) - Math.hypot(1, 3)) < 1e-6);
});

test("fit: descends, reports every step, stops on a non-finite loss naming the step, and leaks no tensors", async () => {
  const params = { w: toVariable(Float32Array.of(3, -2), [2]) };
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  const r = await fit({
    params,
    steps: 60,
    optimizer: { beta1: 0.9, beta2: 0.999, gradClip: 0 },
    learningRate: () => 0.1,
    batch: (step) => step,
    loss: () => ({ inputs: [], value: () => tf.sum(tf.square(params.w)) as tf.Scalar, extras: () => ({ half: tf.scalar(0.5) }) }),
    afterStep: (step, v) => {
      assert.equal(v.half, 0.5);
      assert.equal(v.learningRate, 0.1);
      seen.push(step);
    },
  });
  assert.deepEqual(seen, Array.from({ length: 60 }, (_, i) => i));
  assert.ok(r.lastLoss < 0.5, `loss after 60 steps: ${r.lastLoss}`);
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(
    fit({
      params,
      steps: 10,
      optimizer: { beta1: 0.9, beta2: 0.999, gradClip: 0 },
      learningRate: () => 0.1,
      what: "toy training",
      batch: (step) => step,
      loss: (step) => {
        const k = tf.scalar(step === 3 ? NaN : 1);
        return { inputs: [k], value: () => tf.mul(tf.sum(params.w), k) as tf.Scalar };
      },
    }),
    (e: unknown) => e instanceof DivergenceError && e.step === 4 && /toy training diverged at step 4/.test(e.message),
  );
  assert.equal(tf.memory().numTensors, before, "nothing leaks when it throws");
  disposeParams(params);
});
