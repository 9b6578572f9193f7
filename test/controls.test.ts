import { test } from "node:test";
import assert from "node:assert/strict";
import { CONTROL_STRATEGIES } from "../src/collapse/strategies";
import { EXPERIMENTS } from "../src/experiments/registry";
import { runGaussianSequence } from "../src/index";
import { gaussianBaseConfig } from "../src/index";

const quiet = { update() {}, finish() {}, stop() {} };

test("the controls experiment runs every control for the molecules, the VAE and the Gaussian at smoke", { timeout: 600_000 }, async () => {
  const out = await EXPERIMENTS.controls.run("smoke", { store: null, progress: () => quiet });
  const figures: Record<string, { data: Record<string, unknown>[] }> = out.figures;
  for (const name of ["controls-molecules", "controls-vae", "controls-gaussian"]) {
    assert.deepEqual(figures[name].data.map((t) => t.name), CONTROL_STRATEGIES, name);
  }
  const json = out.json as Record<string, { strategy: string; iterations: { iteration: number; trainingScale?: number }[] }[]>;
  for (const modality of ["molecules", "vae"]) {
    const matched = json[modality].find((r) => r.strategy === "replace-matched-compute")!;
    // replace's data with accumulate's work: n times the epochs at iteration n
    assert.deepEqual(matched.iterations.map((x) => x.trainingScale ?? 1), matched.iterations.map((x) => x.iteration), modality);
  }
});

test("fresh real samples reach the Gaussian's training sets", async () => {
  const base = { ...gaussianBaseConfig("smoke"), iterations: 4 };
  const plain = await runGaussianSequence({ ...base, strategy: "replace" });
  const fresh = await runGaussianSequence({ ...base, strategy: "replace", freshRealSamples: 10 });
  assert.deepEqual(plain.records.map((r) => r.realInTrain), [50, 0, 0, 0]);
  assert.deepEqual(fresh.records.map((r) => r.realInTrain), [50, 10, 10, 10]);
  const acc = await runGaussianSequence({ ...base, strategy: "accumulate", freshRealSamples: 10 });
  assert.deepEqual(acc.records.map((r) => r.realInTrain), [50, 60, 70, 80]);
});

test("fresh real images reach the VAE's training sets (the next images of the data, after the original set)", { timeout: 300_000 }, async () => {
  const { runVaeSequence, vaeBaseConfig } = await import("../src/index");
  const base = { ...vaeBaseConfig("smoke"), iterations: 3, freshRealImages: 8 };
  const replace = await runVaeSequence({ ...base, strategy: "replace" });
  assert.deepEqual(replace.records.map((r) => [r.trainSize, r.realInTrain]), [[64, 64], [72, 8], [72, 8]]);
  const { checkVaeSequenceConfig } = await import("../src/index");
  assert.throws(() => checkVaeSequenceConfig({ ...base, freshRealImages: -1 }), /freshRealImages/);
});
