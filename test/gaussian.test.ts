import assert from "node:assert/strict";
import { test } from "node:test";
import { type GaussianSequenceConfig, fitGaussian, gaussianCodec, runGaussianSequence, sampleGaussian } from "../src/index";
import { Rng } from "../src/random";
import { configErrorField } from "./helpers";
import { checkSequence } from "../src/collapse/spec";
import { GAUSSIAN } from "../src/gaussian/spec";
import { checkGaussianSequenceConfig, collapsedLogDetRatio, gaussianModality, logDetRatio } from "../src/index";

const BASE: GaussianSequenceConfig = { dim: 2, samples: 20, strategy: "replace", iterations: 50, seed: 0, referenceSize: 0 };

/** Mean over seeds of the last iteration's metric. */
async function finalMetric(strategy: GaussianSequenceConfig["strategy"], metric: string, seeds = 20): Promise<number> {
  let s = 0;
  for (let seed = 0; seed < seeds; seed++) {
    const { records } = await runGaussianSequence({ ...BASE, strategy, seed });
    s += records[records.length - 1].metrics[metric];
  }
  return s / seeds;
}

test("maximum-likelihood fit recovers the mean and covariance of many samples", () => {
  const data = sampleGaussian([1, -2], [2, 0.6, 0.6, 1], 20000, Rng.fromSeed(1));
  const { mean, cov } = fitGaussian([data]);
  assert.ok(Math.abs(mean[0] - 1) < 0.05 && Math.abs(mean[1] + 2) < 0.05, `mean ${mean}`);
  [2, 0.6, 0.6, 1].forEach((v, k) => assert.ok(Math.abs(cov[k] - v) < 0.08, `cov[${k}] = ${cov[k]}`));
  assert.deepEqual(gaussianCodec.decode(gaussianCodec.encode(data)), data);
});

test("Figure 8: replace collapses the variance while accumulate and augment plateau near the truth", async () => {
  // Truth: variances 1 and 1/2, total 1.5. Replace's MLE variance shrinks by (n−1)/n per refit in expectation.
  const replace = await finalMetric("replace", "totalVariance");
  const accumulate = await finalMetric("accumulate", "totalVariance");
  const augment = await finalMetric("augment", "totalVariance");
  console.log(`total variance after 50 fits of 20 samples (truth 1.5): replace ${replace.toFixed(3)}, accumulate ${accumulate.toFixed(3)}, augment ${augment.toFixed(3)}`);
  assert.ok(replace < 0.4, `replace ${replace}`);
  assert.ok(accumulate > 1.0 && accumulate < 2, `accumulate ${accumulate}`);
  assert.ok(augment > 1.0 && augment < 2, `augment ${augment}`);
  const fdReplace = await finalMetric("replace", "frechetDistance");
  const fdAccumulate = await finalMetric("accumulate", "frechetDistance");
  console.log(`Fréchet distance to the truth after 50 fits: replace ${fdReplace.toFixed(3)}, accumulate ${fdAccumulate.toFixed(3)}`);
  assert.ok(fdReplace > 5 * fdAccumulate, `replace ${fdReplace} vs accumulate ${fdAccumulate}`);
});

test("accumulate's distance to the truth plateaus: the second half of the sequence is no worse than the first", async () => {
  const { records } = await runGaussianSequence({ ...BASE, strategy: "accumulate", iterations: 60, seed: 3, referenceSize: 200 });
  const fd = records.map((r) => r.metrics.frechetDistance);
  assert.ok(Math.max(...fd.slice(30)) < 0.5, `late Fréchet distances ${fd.slice(30).map((v) => v.toFixed(3))}`);
  const last = records[records.length - 1].metrics;
  assert.ok(last.precision > 0.8 && last.recall > 0.8, `precision ${last.precision}, recall ${last.recall}`);
  const collapsed = (await runGaussianSequence({ ...BASE, strategy: "replace", iterations: 60, seed: 3, referenceSize: 200 })).records.at(-1)!.metrics;
  assert.ok(collapsed.recall < last.recall, `replace recall ${collapsed.recall} vs accumulate ${last.recall}`);
});

test("1-D sequences and config errors", async () => {
  const { records } = await runGaussianSequence({ ...BASE, dim: 1, iterations: 5 });
  assert.equal(records.length, 5);
  assert.equal(configErrorField(() => checkGaussianSequenceConfig({ ...BASE, samples: 1 })), "samples");
  assert.equal(configErrorField(() => checkGaussianSequenceConfig({ ...BASE, strategy: "keep" as never })), "strategy");
  assert.equal(configErrorField(() => checkGaussianSequenceConfig({ ...BASE, extra: 1 } as never)), "extra");
});

test("logDetRatio: 0 at the truth, the log of the determinant ratio elsewhere, a finite floor for a singular fit", () => {
  const truth = [2, 0.6, 0.6, 1];
  const truthLogDet = Math.log(2 * 1 - 0.6 * 0.6);
  assert.ok(Math.abs(logDetRatio(truth, 2, truthLogDet)) < 1e-12);
  // Halving every variance of a 2-D covariance quarters its determinant.
  assert.ok(Math.abs(logDetRatio(truth.map((v) => v / 2), 2, truthLogDet) - Math.log(0.25)) < 1e-12);
  // Rank 1 (one distinct direction) and all zeros: singular, read as collapsed rather than NaN or −∞.
  assert.equal(logDetRatio([1, 1, 1, 1], 2, truthLogDet), collapsedLogDetRatio(2));
  assert.equal(logDetRatio([0, 0, 0, 0], 2, truthLogDet), collapsedLogDetRatio(2));
  assert.ok(Number.isFinite(collapsedLogDetRatio(10)) && collapsedLogDetRatio(10) < -300);
});

test("a sequence's records carry logDetRatio and detRatio = exp(logDetRatio); fewer samples than dimensions stay finite", async () => {
  const { records } = await runGaussianSequence({ ...BASE, dim: 3, iterations: 4 });
  for (const r of records) assert.ok(Math.abs(r.metrics.detRatio - Math.exp(r.metrics.logDetRatio)) < 1e-12 * r.metrics.detRatio);
  // 2 samples in 4 dimensions: every ML covariance is singular.
  const singular = await runGaussianSequence({ ...BASE, dim: 4, samples: 2, iterations: 3 });
  for (const r of singular.records) assert.equal(r.metrics.logDetRatio, collapsedLogDetRatio(4));
});

test("the oracle verifier scores each sample by its log density under the truth, and curation with it keeps the likeliest", async () => {
  const truth = { mean: [1, -1], cov: [2, 0.5, 0.5, 1] };
  const modality = gaussianModality({ truth, referenceSize: 0 });
  const data = sampleGaussian([0, 0], [4, 0, 0, 4], 50, Rng.fromSeed(5));
  const scores = await modality.verifiers!.oracle(data, { iteration: 2, model: { mean: new Float64Array(2), cov: new Float64Array(4) }, rng: Rng.fromSeed(0) });
  const det = 2 * 1 - 0.25;
  const inverse = [1 / det, -0.5 / det, -0.5 / det, 2 / det];
  for (let i = 0; i < data.n; i++) {
    const x = [data.points[2 * i] - 1, data.points[2 * i + 1] + 1];
    const quad = x[0] * (inverse[0] * x[0] + inverse[1] * x[1]) + x[1] * (inverse[2] * x[0] + inverse[3] * x[1]);
    const expected = -0.5 * (quad + 2 * Math.log(2 * Math.PI) + Math.log(det));
    assert.ok(Math.abs(scores[i] - expected) < 1e-10, `sample ${i}: ${scores[i]} vs ${expected}`);
  }
  // Keeping the likeliest half of each synthetic set under replace shrinks the fit faster than plain replace.
  const plain = await runGaussianSequence({ ...BASE, iterations: 5 });
  const curated = await runGaussianSequence({ ...BASE, iterations: 5, curation: { verifier: "oracle", keep: 0.5 } });
  assert.equal(curated.records[1].curation?.drawn, 2 * BASE.samples);
  assert.ok(curated.records[4].metrics.logDetRatio < plain.records[4].metrics.logDetRatio);
  assert.equal(configErrorField(() => checkSequence(GAUSSIAN, { ...BASE, curation: { verifier: "nope", keep: 0.5 } })), "curation.verifier");
});

test("a truth covariance that is not symmetric positive definite is a ConfigError naming truth.cov", () => {
  assert.equal(configErrorField(() => checkGaussianSequenceConfig({ ...BASE, truth: { mean: [0, 0], cov: [1, 2, 2, 1] } })), "truth.cov");
  assert.equal(configErrorField(() => checkGaussianSequenceConfig({ ...BASE, truth: { mean: [0, 0], cov: [1, 0.5, 0.4, 1] } })), "truth.cov");
  assert.equal(configErrorField(() => gaussianModality({ truth: { mean: [0], cov: [0] }, referenceSize: 0 })), "truth.cov");
});
