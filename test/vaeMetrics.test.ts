import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import { generateFaces } from "../src/images/faces";
import { Rng } from "../src/random";
import { classifierAccuracy, classifierInit, classify, disposeClassifier, trainClassifier } from "../src/vae/classifier";
import { featureStats, frechetDistance, precisionRecall } from "../src/metrics/features";

before(async () => {
  await selectBackend();
});

function gaussianRows(n: number, d: number, rng: Rng, shift: number[] = [], scales: number[] = []): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i * d + j] = (shift[j] ?? 0) + (scales[j] ?? 1) * rng.normal();
  return out;
}

test("Fréchet distance: 0 for identical sets, the closed form for Gaussians", () => {
  const d = 4;
  const a = featureStats(gaussianRows(500, d, Rng.fromSeed(1)), 500, d);
  assert.ok(frechetDistance(a, a) < 1e-9, `${frechetDistance(a, a)}`);
  // Exact statistics: N(m1, I) vs N(m2, diag(s²)) → ‖m1 − m2‖² + Σ (1 − s)².
  const eye = Float64Array.from({ length: d * d }, (_, k) => (Math.floor(k / d) === k % d ? 1 : 0));
  const s = [0.5, 1, 2, 3];
  const diag = Float64Array.from({ length: d * d }, (_, k) => (Math.floor(k / d) === k % d ? s[k % d] ** 2 : 0));
  const m2 = Float64Array.from([1, 2, 0, -1]);
  const want = 1 + 4 + 0 + 1 + s.reduce((t, v) => t + (1 - v) ** 2, 0);
  const got = frechetDistance({ dim: d, mean: new Float64Array(d), cov: eye }, { dim: d, mean: m2, cov: diag });
  assert.ok(Math.abs(got - want) < 1e-8, `${got} vs ${want}`);
  // From samples: a shifted set lands near the closed form (sampling error shrinks as 1/√n).
  const n = 4000;
  const b = featureStats(gaussianRows(n, d, Rng.fromSeed(2), [3, 0, 0, 0]), n, d);
  const c = featureStats(gaussianRows(n, d, Rng.fromSeed(3)), n, d);
  const fd = frechetDistance(b, c);
  assert.ok(Math.abs(fd - 9) < 0.5, `shifted by 3: ${fd} vs 9`);
  // A non-diagonal case: the symmetric form agrees with tr(C1 + C2 − 2(C1C2)^½) for commuting matrices.
  const rot = { dim: 2, mean: new Float64Array(2), cov: Float64Array.from([2, 1, 1, 2]) }; // eigenvalues 3, 1
  const scaled = { dim: 2, mean: new Float64Array(2), cov: Float64Array.from([8, 4, 4, 8]) }; // 4× it
  assert.ok(Math.abs(frechetDistance(rot, scaled) - (3 + 1) * (2 - 1) ** 2) < 1e-9);
});

test("precision/recall: ≈1 for identical sets, low recall for a collapsed set, low precision for a shifted one", () => {
  const d = 3;
  const real = gaussianRows(400, d, Rng.fromSeed(1));
  const same = precisionRecall(real, 400, real, 400, d);
  assert.equal(same.precision, 1);
  assert.equal(same.recall, 1);
  const fresh = precisionRecall(real, 400, gaussianRows(400, d, Rng.fromSeed(2)), 400, d);
  assert.ok(fresh.precision > 0.85 && fresh.recall > 0.85, JSON.stringify(fresh));
  const collapsed = precisionRecall(real, 400, gaussianRows(400, d, Rng.fromSeed(3), [], [0.1, 0.1, 0.1]), 400, d);
  assert.ok(collapsed.precision > 0.9 && collapsed.recall < 0.3, JSON.stringify(collapsed));
  const shifted = precisionRecall(real, 400, gaussianRows(400, d, Rng.fromSeed(4), [8, 0, 0]), 400, d);
  assert.ok(shifted.precision < 0.2, JSON.stringify(shifted));
});

test("the attribute classifier learns glasses and hats on embedded faces above chance", async () => {
  const size = 32;
  // Rare attributes made common here so that "above chance" is a real test with few images.
  const faces = { glasses: 0.5, hat: 0.5 };
  const trainSet = generateFaces({ size, count: 600, seed: 0, split: "classifier", faces });
  const testSet = generateFaces({ size, count: 200, seed: 0, split: "test", faces });
  const clf = classifierInit({ imageSize: size, channels: [16, 32, 64], featureDim: 32, attributes: ["glasses", "hat", "feminine"] }, Rng.fromSeed(1));
  try {
    const tensors = tf.memory().numTensors;
    await trainClassifier(clf, trainSet, { epochs: 6, batchSize: 32, learningRate: 3e-3 }, Rng.fromSeed(2));
    assert.equal(tf.memory().numTensors, tensors);
    const acc = classifierAccuracy(clf, testSet);
    console.log(`classifier accuracy on 200 held-out faces: ${JSON.stringify(acc)}`);
    assert.ok(acc.glasses > 0.8, `glasses ${acc.glasses}`);
    assert.ok(acc.hat > 0.8, `hat ${acc.hat}`);
    const { features } = classify(clf, testSet);
    assert.equal(features.length, 200 * 32);
  } finally {
    disposeClassifier(clf);
  }
});
