import assert from "node:assert/strict";
import { test } from "node:test";
import { type GaussianSequenceConfig, fitGaussian, gaussianCodec, runGaussianSequence, sampleGaussian } from "../src/index";
import { Rng } from "../src/random";
import { configErrorField } from "./helpers";
import { checkGaussianSequenceConfig } from "../src/index";

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
