import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import { unigramCrossEntropy } from "../src/index";
import { lmConfig } from "../src/lm/configs";
import { initParams } from "../src/lm/model";
import { documentCrossEntropies } from "../src/lm/score";
import { crossEntropy } from "../src/lm/train";
import { disposeParams } from "../src/nn/params";
import { Rng } from "../src/random";
import { quantile, textMeasures, vocabularyOf, words } from "../src/text/metrics";

before(async () => {
  await selectBackend();
});

test("words are lower-cased letter runs; punctuation, digits and case are not vocabulary", () => {
  assert.deepEqual(words("The cat's hat — ISN'T red, 42 times!"), ["the", "cat's", "hat", "isn't", "red", "times"]);
  assert.deepEqual(words("naïve café"), ["naïve", "café"]);
  assert.deepEqual(words("... 123 ..."), []);
});

test("textMeasures: valid-word rate against the real vocabulary, distinct-1 and distinct-2 by hand", () => {
  const vocabulary = vocabularyOf(["The dog ran.", "A cat sat."]);
  const m = textMeasures(["the dog ran the dog", "a zzq sat"], vocabulary);
  // 8 words, 7 in the vocabulary (zzq is not); distinct words: the, dog, ran, a, zzq, sat = 6.
  assert.equal(m.validWordRate, 7 / 8);
  assert.equal(m.distinct1, 6 / 8);
  // bigrams: the dog, dog ran, ran the, the dog | a zzq, zzq sat: 6, of which 5 distinct (none across documents).
  assert.equal(m.distinct2, 5 / 6);
  assert.equal(m.meanWords, 4);
  const empty = textMeasures(["", "!!!"], vocabulary);
  assert.deepEqual([empty.validWordRate, empty.distinct1, empty.distinct2, empty.meanWords], [0, 0, 0, 0]);
});

test("quantile interpolates between order statistics", () => {
  assert.equal(quantile([3, 1, 2], 0.5), 2);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([1, 2, 3, 4], 0), 1);
  assert.equal(quantile([1, 2, 3, 4], 1), 4);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test("unigramCrossEntropy: a uniform corpus scores log(V) up to smoothing; a skewed one less", () => {
  const V = 300;
  const uniform = [Int32Array.from({ length: 255 * 40 }, (_, i) => i % 255)];
  const ce = unigramCrossEntropy(uniform, uniform, V);
  assert.ok(Math.abs(ce - Math.log(256)) < 0.05, `uniform over 255 bytes + EOT: ${ce}`);
  const skewed = [Int32Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? 1 : 0))];
  assert.ok(unigramCrossEntropy(skewed, skewed, V) < 0.5);
});

test("documentCrossEntropies: each document's score equals the mean next-token loss of [eot, doc, eot], in any batch", () => {
  const config = lmConfig("gpt2-smoke", 300);
  const params = initParams(config, Rng.derive(0, "score"));
  const eot = 256;
  const rng = Rng.derive(1, "docs");
  const docs = [5, 17, 1, 40].map((n) => Int32Array.from({ length: n }, () => rng.int(256)));
  const expected = docs.map((d) => tf.tidy(() => crossEntropy(config, params, tf.tensor2d(Int32Array.from([eot, ...d, eot]), [1, d.length + 2], "int32")).dataSync()[0]));
  for (const batch of [1, 3, 8]) {
    const got = documentCrossEntropies(config, params, docs, eot, batch);
    got.forEach((g, i) => assert.ok(Math.abs(g - expected[i]) < 1e-4, `batch ${batch}, document ${i}: ${g} vs ${expected[i]}`));
  }
  const before = tf.memory().numTensors;
  documentCrossEntropies(config, params, docs, eot, 2);
  assert.equal(tf.memory().numTensors, before, "no tensors left behind");
  disposeParams(params);
});
