import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import { packageRoot } from "../src/environment";
import { lmConfig } from "../src/lm/configs";
import { initParams } from "../src/lm/model";
import { TRAIN_DEFAULTS, type TrainProgress, checkTrainConfig, train } from "../src/lm/train";
import { disposeParams } from "../src/nn/params";
import { Rng } from "../src/random";

// Paper-scale fits in bounded memory: gradient accumulation over micro-batches.

async function fitWith(microBatchSize: number | undefined): Promise<{ params: Record<string, Float32Array>; losses: number[] }> {
  const config = lmConfig("gpt2-smoke", 300);
  const rng = Rng.derive(7, "micro-batches");
  const params = initParams(config, rng.fork("init"));
  const data = rng.fork("data");
  // 20 windows at batch 8: the third step of each epoch has 4 rows, so the parts are uneven (3, 1).
  const windows = Array.from({ length: 20 }, () => Int32Array.from({ length: 33 }, () => data.int(300)));
  const losses: number[] = [];
  try {
    await train(config, params, windows, windows.slice(0, 2), { ...TRAIN_DEFAULTS, batchSize: 8, microBatchSize, sequenceLength: 32, maxSteps: 5, epochs: 2 }, rng.fork("train"), (p: TrainProgress) => losses.push(p.trainLoss));
    return { params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.dataSync() as Float32Array])), losses };
  } finally {
    disposeParams(params);
  }
}

test("gradient accumulation: micro-batches give the whole batch's update, up to float rounding, and leak no tensors", async () => {
  await selectBackend();
  const whole = await fitWith(undefined);
  const before = tf.memory().numTensors;
  const micro = await fitWith(3);
  assert.equal(tf.memory().numTensors, before, "no tensors left behind");
  assert.equal(micro.losses.length, 5);
  micro.losses.forEach((l, i) => assert.ok(Math.abs(l - whole.losses[i]) < 1e-4 * Math.abs(whole.losses[i]), `step ${i + 1}: loss ${l} vs ${whole.losses[i]}`));
  for (const [name, w] of Object.entries(whole.params)) {
    const m = micro.params[name];
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < w.length; i++) {
      diff = Math.max(diff, Math.abs(w[i] - m[i]));
      scale = Math.max(scale, Math.abs(w[i]));
    }
    // Adam divides by the gradient's own scale, so a rounding difference in a small gradient moves its
    // parameter by a rounding share of a whole step: bound the difference by 1e-3 of 5 steps at the peak rate.
    assert.ok(diff <= 1e-3 * 5 * TRAIN_DEFAULTS.learningRate, `${name}: parameters differ by ${diff} (scale ${scale})`);
  }
  // And a different split is a different (if close) computation: the test can tell them apart.
  const other = await fitWith(1);
  assert.ok(other.losses.some((l, i) => l !== whole.losses[i]) || Object.keys(whole.params).some((k) => other.params[k].some((v, i) => v !== whole.params[k][i])));
});

test("microBatchSize is checked: an integer from 1 to the batch size", () => {
  const model = lmConfig("gpt2-smoke", 300);
  const base = { batchSize: 8, sequenceLength: 32 };
  assert.throws(() => checkTrainConfig({ ...base, microBatchSize: 9 }, model), /train\.microBatchSize: must be ≤ 8/);
  assert.throws(() => checkTrainConfig({ ...base, microBatchSize: 0 }, model), /train\.microBatchSize: must be ≥ 1/);
  assert.equal(checkTrainConfig({ ...base, microBatchSize: 2 }, model).microBatchSize, 2);
});

test("paper scale: gpt2-9m at the paper profile's batch (64 × 512) takes 2 optimizer steps in micro-batches of 8 within a 24 GiB machine", async (t) => {
  const backend = await selectBackend();
  if (backend.name !== "tensorflow") {
    t.skip(`needs the native tensorflow backend (this run uses ${backend.name}); bash scripts/setup-native.sh builds it`);
    return;
  }
  const r = spawnSync(process.execPath, [path.join(packageRoot(), "dist", "bench", "paperStep.js"), "--model", "gpt2-9m", "--steps", "2", "--micro-batch", "8"], { encoding: "utf8", timeout: 600_000 });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const result = JSON.parse(r.stdout.trim().split("\n").pop()!);
  t.diagnostic(`gpt2-9m, batch 64 × 512 in micro-batches of 8, 2 steps: ${result.seconds.toFixed(0)} s, peak resident memory ${result.peakRssGiB.toFixed(1)} GiB`);
  assert.equal(result.parameters, 8_890_880);
  assert.ok(result.peakRssGiB < 16, `peak resident memory ${result.peakRssGiB.toFixed(1)} GiB: more than the 16 GiB budget that leaves room on a 24 GiB machine`);
});
