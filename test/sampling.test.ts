import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import { lmConfig } from "../src/lm/configs";
import { selectCacheRows } from "../src/lm/layers";
import { createCache, disposeCache, forward, initParams } from "../src/lm/model";
import { type SamplingConfig, checkSamplingConfig, drawNextTokens, sampleDocuments } from "../src/lm/sample";
import { Rng } from "../src/random";
import { disposeParams } from "../src/nn/params";

before(async () => {
  await selectBackend({ backend: "cpu" });
});

const VOCAB = 61;

/** How often each id is drawn from fixed logits [1, V] over `n` seeded draws. */
function drawCounts(logits: number[], c: Partial<SamplingConfig>, n: number): number[] {
  const counts = new Array<number>(logits.length).fill(0);
  const config = checkSamplingConfig({ maxTokens: 8, ...c }, lmConfig("gpt2-smoke", logits.length));
  const rng = Rng.fromSeed(11);
  tf.tidy(() => {
    const batch = tf.tile(tf.tensor2d([logits]), [n, 1]) as tf.Tensor2D;
    for (const id of drawNextTokens(batch, config, rng).dataSync()) counts[id]++;
  });
  return counts;
}

const LOGITS = [2, 1.5, 1, 0.5, 0, -0.5, -1, -3];
const softmax = (x: number[], t = 1) => {
  const e = x.map((v) => Math.exp(v / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

test("drawNextTokens: frequencies follow softmax(logits / temperature)", () => {
  const n = 20000;
  for (const temperature of [1, 0.5, 2]) {
    const counts = drawCounts(LOGITS, { temperature }, n);
    const p = softmax(LOGITS, temperature);
    for (let i = 0; i < p.length; i++) {
      const se = Math.sqrt((p[i] * (1 - p[i])) / n);
      assert.ok(Math.abs(counts[i] / n - p[i]) < 5 * se + 1e-4, `T=${temperature} id ${i}: ${counts[i] / n} vs ${p[i]}`);
    }
  }
});

test("drawNextTokens: top-k keeps the k most likely ids, top-p the smallest nucleus, renormalised", () => {
  const n = 20000;
  assert.deepEqual(drawCounts(LOGITS, { topK: 1 }, 50), [50, 0, 0, 0, 0, 0, 0, 0], "top-1 is greedy");
  const k3 = drawCounts(LOGITS, { topK: 3 }, n);
  assert.ok(k3.slice(3).every((c) => c === 0), `only the top 3: ${k3}`);
  const p3 = softmax(LOGITS.slice(0, 3));
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(k3[i] / n - p3[i]) < 0.015, `top-3 id ${i}: ${k3[i] / n} vs ${p3[i]}`);
  // softmax(LOGITS) ≈ [0.40, 0.25, 0.15, 0.09, ...]: the nucleus of mass 0.6 is {0, 1}, of 0.7 {0, 1, 2}
  const nucleus = drawCounts(LOGITS, { topP: 0.6 }, n);
  assert.ok(nucleus.slice(2).every((c) => c === 0) && nucleus[1] > 0, `top-p 0.6: ${nucleus}`);
  const wider = drawCounts(LOGITS, { topP: 0.7 }, n);
  assert.ok(wider[2] > 0 && wider.slice(3).every((c) => c === 0), `top-p 0.7 takes a third id: ${wider}`);
  assert.deepEqual(drawCounts(LOGITS, { topP: 1e-6 }, 50), [50, 0, 0, 0, 0, 0, 0, 0], "a tiny nucleus is greedy");
});

test("drawNextTokens: the same logits and seed draw the same ids on cpu and wasm", async () => {
  const rng = Rng.fromSeed(17);
  const logits = Array.from({ length: 200 }, () => Array.from({ length: 40 }, () => 2 * rng.normal()));
  const draw = async (backend: "cpu" | "wasm", c: Partial<SamplingConfig>) => {
    await selectBackend({ backend });
    const config = checkSamplingConfig({ maxTokens: 8, ...c }, lmConfig("gpt2-smoke", 40));
    return tf.tidy(() => Array.from(drawNextTokens(tf.tensor2d(logits), config, Rng.fromSeed(18)).dataSync()));
  };
  try {
    for (const c of [{}, { temperature: 0.7, topK: 10, topP: 0.9 }]) {
      const cpu = await draw("cpu", c);
      assert.ok(new Set(cpu).size > 10, "varied draws");
      assert.deepEqual(await draw("wasm", c), cpu, JSON.stringify(c));
    }
  } finally {
    await selectBackend({ backend: "cpu" });
  }
});

for (const name of ["gpt2-smoke", "llama2-smoke"]) {
  test(`${name}: after selectCacheRows, decoding the kept rows matches the full forward of those rows`, () => {
    const config = lmConfig(name, VOCAB);
    const params = initParams(config, Rng.fromSeed(12));
    const rng = Rng.fromSeed(13);
    const tokens = Array.from({ length: 4 }, () => Array.from({ length: 9 }, () => rng.int(VOCAB)));
    const keep = [3, 0, 2];
    const cache = createCache(config, 4);
    try {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        forward(config, params, tf.tensor2d(tokens.map((r) => r.slice(0, 6)), undefined, "int32"), { cache });
      });
      selectCacheRows(cache, keep);
      assert.equal(tf.memory().numTensors, before, "compaction frees the rows it drops");
      assert.deepEqual(cache.keys[0].shape.slice(0, 2), [3, config.nHeads]);
      assert.equal(cache.length, 6);
      const rest = tf.tidy(() => forward(config, params, tf.tensor2d(keep.map((r) => tokens[r].slice(6)), undefined, "int32"), { cache }).dataSync());
      const full = tf.tidy(() => forward(config, params, tf.tensor2d(keep.map((r) => tokens[r]), undefined, "int32")).slice([0, 6, 0], [3, 3, VOCAB]).dataSync());
      let diff = 0;
      for (let i = 0; i < full.length; i++) diff = Math.max(diff, Math.abs(full[i] - rest[i]));
      assert.ok(diff < 1e-4, `max difference ${diff}`);
    } finally {
      disposeCache(cache);
      disposeParams(params);
    }
  });
}

test("sampleDocuments: documents end at the end token or maxTokens, are seeded, and leave no tensors", async () => {
  // At init the model is near-uniform over 61 ids, so about half of the documents reach 40 tokens
  // without drawing the end token: the batch both drops ended documents and runs some to the limit.
  const config = lmConfig("gpt2-smoke", VOCAB);
  const params = initParams(config, Rng.fromSeed(14));
  const eod = 60;
  const c = checkSamplingConfig({ batchSize: 12, maxTokens: 40 }, config);
  try {
    const before = tf.memory().numTensors;
    const docs = await sampleDocuments(config, params, eod, 24, c, Rng.fromSeed(15));
    assert.equal(tf.memory().numTensors, before);
    assert.equal(docs.length, 24);
    // every row of a batch starts from the same token, yet draws its own document
    assert.equal(new Set(docs.map((d) => d.join(","))).size, 24, "no two documents are the same");
    for (const d of docs) {
      assert.ok(d.length <= 40);
      assert.ok(!d.includes(eod), "the end token is not part of a document");
      assert.ok(d.every((id) => id >= 0 && id < VOCAB));
    }
    const lengths = docs.map((d) => d.length);
    assert.ok(lengths.some((l) => l === 40) && lengths.some((l) => l < 20), `a mix of lengths: ${lengths}`);
    const again = await sampleDocuments(config, params, eod, 24, c, Rng.fromSeed(15));
    assert.deepEqual(again, docs, "same seed, same documents");
    const other = await sampleDocuments(config, params, eod, 24, c, Rng.fromSeed(16));
    assert.notDeepEqual(other, docs);
  } finally {
    disposeParams(params);
  }
});
