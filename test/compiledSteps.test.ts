import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { availableBackends, selectBackend } from "../src/backend";
import { compileAvailable, compileStats, compileStep, shapeBucket } from "../src/backend/compile";
import { loadMoleculeData, moleculeBaseConfig } from "../src/index";
import { lmConfig } from "../src/lm/configs";
import { createCache, disposeCache, forward, growCache, initParams } from "../src/lm/model";
import { selectCacheRows } from "../src/lm/layers";
import { checkSamplingConfig, sampleDocuments } from "../src/lm/sample";
import { checkTrainConfig, crossEntropy, train } from "../src/lm/train";
import { checkDiffusionConfig, checkMoleculeTrainConfig, prepareBatch, preparedTensors, noiseBatch, alphaBars, betaSchedule, denoisingLoss, trainDiffusion } from "../src/molecules/diffusion";
import { checkEgnnConfig, initEgnn } from "../src/molecules/egnn";
import { Rng } from "../src/random";
import { type VaeConfig, elbo, vaeInit } from "../src/vae/model";
import { checkVaeTrainConfig, trainVae } from "../src/vae/train";
import { compiledWithParams } from "../src/nn/compiled";
import { type Params, disposeParams } from "../src/nn/params";
import { generateFaces } from "../src/images/faces";

/**
 * Compiled steps (backend/compile): on the native backend a step function is traced twice, compared
 * and run as one TensorFlow graph; everywhere else, and with COLLAPSE_COMPILE=0, it runs eagerly. The
 * compiled step must compute what the eager one does: the loss, every gradient and the parameters
 * after a few AdamW steps of each model, within float32 rounding (TensorFlow's graph optimizer fuses
 * and reorders ops), and LM sampling must draw the very same tokens.
 */

let native = false;
before(async () => {
  native = (await availableBackends()).some((b) => b.name === "tensorflow" && b.available);
  if (native) await selectBackend({ backend: "tensorflow" });
});
after(async () => {
  delete process.env.COLLAPSE_COMPILE;
  await selectBackend();
});

/** Runs `f` with compiled steps off (COLLAPSE_COMPILE=0). */
async function eagerly<T>(f: () => Promise<T> | T): Promise<T> {
  process.env.COLLAPSE_COMPILE = "0";
  try {
    return await f();
  } finally {
    delete process.env.COLLAPSE_COMPILE;
  }
}

function requireCompiler(t: { skip(msg: string): void }): boolean {
  if (!native) {
    t.skip("the tensorflow backend is not installed here");
    return false;
  }
  if (!compileAvailable()) throw new Error("the tensorflow backend is installed without the kit's compiled steps: rebuild it with bash scripts/setup-native.sh");
  return true;
}

/** Largest difference relative to the reference's largest entry (so that any scale compares alike). */
function relativeDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

test("shapeBucket: a few sizes per doubling, never below n, at most 1/4 above", () => {
  assert.deepEqual([0, 1, 4, 5, 8, 9, 10, 11, 17, 100, 129].map((n) => shapeBucket(n)), [0, 1, 4, 5, 8, 10, 10, 12, 20, 112, 160]);
  for (let n = 1; n < 5000; n++) {
    const b = shapeBucket(n);
    assert.ok(b >= n && b <= Math.ceil(n * 1.25), `${n} → ${b}`);
  }
  assert.equal(shapeBucket(33, 1), 64);
  assert.throws(() => shapeBucket(-1), /non-negative integer/);
});

test("compileStep: two agreeing traces, then one graph; outputs equal the eager ones", async (t) => {
  if (!requireCompiler(t)) return;
  const f = compileStep("toy", ([x, w]) => [tf.relu(tf.add(tf.matMul(x, w), 1)), tf.concat([x, x], 0), x]);
  const before = compileStats();
  const x = tf.tensor2d([[1, -2], [3, 4]]);
  const w = tf.tensor2d([[0.5, -1], [2, 0.25]]);
  const want = await eagerly(() => tf.tidy(() => f([x, w]).map((o) => Array.from(o.dataSync()))));
  for (let call = 1; call <= 4; call++) {
    const got = tf.tidy(() => f([x, w]).map((o) => Array.from(o.dataSync())));
    assert.deepEqual(got, want, `call ${call}`);
  }
  const after = compileStats();
  assert.equal(after.traces - before.traces, 2, "traced on the first two calls");
  assert.equal(after.compiled - before.compiled, 1, "one graph");
  assert.equal(after.compiledCalls - before.compiledCalls, 4, "every call returned the graph's results");
  // Another shape: traced once. The same graph (no constant depends on the batch), so it is reused.
  const x3 = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
  tf.tidy(() => f([x3, w]));
  tf.tidy(() => f([x3, w]));
  assert.equal(compileStats().traces - before.traces, 3);
  assert.equal(compileStats().compiled - before.compiled, 1);
  assert.equal(compileStats().compiledCalls - before.compiledCalls, 6);
  tf.dispose([x, w, x3]);
});

test("compileStep: a value created inside the step that changes between calls keeps it eager, and says why", async (t) => {
  if (!requireCompiler(t)) return;
  let scale = 1;
  const f = compileStep("changing", ([x]) => [tf.mul(x, scale)]);
  const x = tf.tensor1d([1, 2, 3]);
  const results: number[][] = [];
  for (scale = 1; scale <= 4; scale++) results.push(tf.tidy(() => Array.from(f([x])[0].dataSync())));
  assert.deepEqual(results, [1, 2, 3, 4].map((s) => [s, 2 * s, 3 * s]), "every call used its own value");
  assert.ok(compileStats().fallbacks.some((l) => /^changing .*changed between calls/.test(l)), compileStats().fallbacks.join("\n"));
  process.env.COLLAPSE_COMPILE_STRICT = "1";
  try {
    const g = compileStep("changing-strict", ([y]) => [tf.mul(y, scale++)]);
    tf.tidy(() => g([x]));
    assert.throws(() => tf.tidy(() => g([x])), /compiled step changing-strict .*changed between calls/);
  } finally {
    delete process.env.COLLAPSE_COMPILE_STRICT;
  }
  x.dispose();
});

test("compileStep: reading a tensor it was not given, or reading values on the host, keeps it eager", async (t) => {
  if (!requireCompiler(t)) return;
  // (Uploaded before the calls: a tensor first uploaded inside a trace is host data, a constant.)
  const hidden = tf.tensor1d([10, 20]);
  const x = tf.tensor1d([1, 2]);
  tf.tidy(() => tf.add(hidden, x));
  const reads = compileStep("reads-hidden", ([a]) => [tf.add(a, hidden)]);
  const syncs = compileStep("syncs", ([a]) => [tf.mul(a, a.dataSync()[0])]);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(tf.tidy(() => Array.from(reads([x])[0].dataSync())), [11, 22]);
    assert.deepEqual(tf.tidy(() => Array.from(syncs([x])[0].dataSync())), [1, 2]);
  }
  const lines = compileStats().fallbacks;
  assert.ok(lines.some((l) => /^reads-hidden .*neither an input nor created inside/.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => /^syncs .*reads tensor values on the host/.test(l)), lines.join("\n"));
  tf.dispose([hidden, x]);
});

test("compileStep: on cpu every call runs eagerly", async () => {
  await selectBackend({ backend: "cpu" });
  try {
    const before = compileStats();
    const f = compileStep("on-cpu", ([x]) => [tf.square(x)]);
    const x = tf.tensor1d([3]);
    for (let i = 0; i < 3; i++) assert.equal(tf.tidy(() => f([x])[0].dataSync()[0]), 9);
    x.dispose();
    const after = compileStats();
    assert.equal(after.traces, before.traces);
    assert.equal(after.eagerCalls - before.eagerCalls, 3);
  } finally {
    if (native) await selectBackend({ backend: "tensorflow" });
  }
});

// --- the models: compiled = eager --------------------------------------------------------------------

/** The loss and every gradient, as one compiled function of the parameters and `inputs`. */
function lossAndGrads(name: string, params: Params, inputs: tf.Tensor[], loss: (p: Params, rest: readonly tf.Tensor[]) => tf.Scalar): Float32Array[] {
  const names = Object.keys(params).sort();
  const f = compiledWithParams(`grads_${name}`, name, (p, rest) => {
    const vars = names.map((n) => params[n]);
    const { value, grads } = tf.variableGrads(() => loss(p, rest), vars);
    return [value, ...vars.map((v) => grads[v.name])];
  });
  return tf.tidy(() => f(params, inputs).map((o) => o.dataSync() as Float32Array));
}

/** What a fit moved each parameter by (trained minus initial values), by sorted name; frees `params`. */
function updates(params: Params, init: () => Params): Float32Array[] {
  const start = init();
  const names = Object.keys(params).sort();
  const out = names.map((n) => {
    const a = params[n].dataSync() as Float32Array;
    const b = start[n].dataSync();
    return a.map((v, i) => v - b[i]);
  });
  disposeParams(start);
  disposeParams(params);
  return out;
}

/**
 * The per-step losses agree to 1e-5 (relative), and each parameter's total update to 1e-2 in
 * relative L2 norm: AdamW divides by √v, so a gradient entry near zero, whose sign float rounding
 * decides, moves its parameter by ±lr in either path.
 */
function assertSameFit(got: { losses: number[]; updates: Float32Array[] }, want: { losses: number[]; updates: Float32Array[] }): void {
  assert.ok(relativeDiff(got.losses, want.losses) < 1e-5, `losses ${got.losses} vs ${want.losses}`);
  want.updates.forEach((w, i) => {
    const g = got.updates[i];
    let num = 0;
    let den = 0;
    for (let k = 0; k < w.length; k++) {
      num += (g[k] - w[k]) ** 2;
      den += w[k] ** 2;
    }
    const d = Math.sqrt(num / Math.max(den, 1e-30));
    assert.ok(d < 1e-2, `parameter ${i}: its update differs by ${d.toExponential(2)} (relative L2)`);
  });
}

/** Runs `compute` eagerly, then compiled (three times: trace, trace, graph), and compares each output. */
async function parity(label: string, compute: () => Float32Array[], tol: number): Promise<void> {
  const want = await eagerly(compute);
  const before = compileStats().compiledCalls;
  let got: Float32Array[] = [];
  for (let i = 0; i < 3; i++) got = compute();
  assert.ok(compileStats().compiledCalls > before, `${label}: the compiled graph ran`);
  want.forEach((w, i) => {
    const d = relativeDiff(got[i], w);
    assert.ok(d <= tol, `${label}: output ${i} differs by ${d.toExponential(2)} (relative; tolerance ${tol})`);
  });
}

const VOCAB = 97;
for (const name of ["gpt2-smoke", "llama2-smoke"]) {
  test(`${name}: compiled loss and gradients = eager`, async (t) => {
    if (!requireCompiler(t)) return;
    const config = lmConfig(name, VOCAB);
    const params = initParams(config, Rng.fromSeed(21));
    const rng = Rng.fromSeed(22);
    const batch = tf.tensor2d(Int32Array.from({ length: 3 * 33 }, () => rng.int(VOCAB)), [3, 33], "int32");
    try {
      await parity(name, () => lossAndGrads(name, params, [batch], (p, [b]) => crossEntropy(config, p, b as tf.Tensor2D)), 1e-5);
    } finally {
      batch.dispose();
      disposeParams(params);
    }
  });

  test(`${name}: a compiled fit gives the eager fit's losses and parameters`, async (t) => {
    if (!requireCompiler(t)) return;
    const config = lmConfig(name, VOCAB);
    const rng = Rng.fromSeed(23);
    const windows = Array.from({ length: 24 }, () => Int32Array.from({ length: 33 }, () => rng.int(VOCAB)));
    const c = checkTrainConfig({ batchSize: 4, sequenceLength: 32, learningRate: 3e-3, maxSteps: 6 }, config);
    const run = async () => {
      const params = initParams(config, Rng.fromSeed(24));
      const losses: number[] = [];
      await train(config, params, windows, windows.slice(0, 2), c, Rng.fromSeed(25), (p) => losses.push(p.trainLoss));
      return { losses, updates: updates(params, () => initParams(config, Rng.fromSeed(24))) };
    };
    const want = await eagerly(run);
    const tensors = tf.memory().numTensors;
    const got = await run();
    assert.equal(tf.memory().numTensors, tensors, "no tensors leak");
    assertSameFit(got, want);
  });
}

const VAE: VaeConfig = { imageSize: 8, channels: [4, 8], latentDim: 3, likelihood: "bernoulli" };
test("VAE: compiled negative ELBO and gradients = eager; a compiled fit = the eager fit", async (t) => {
  if (!requireCompiler(t)) return;
  const params = vaeInit(VAE, Rng.fromSeed(31));
  const rng = Rng.fromSeed(32);
  const x = tf.tensor4d(Float32Array.from({ length: 5 * 8 * 8 * 3 }, () => rng.uniform()), [5, 8, 8, 3]);
  const eps = tf.tensor2d(Float32Array.from({ length: 5 * 3 }, () => rng.normal()), [5, 3]);
  try {
    await parity("VAE", () => lossAndGrads("vae", params, [x, eps], (p, [a, e]) => tf.mean(elbo(VAE, p, a as tf.Tensor4D, e as tf.Tensor2D).negElbo) as tf.Scalar), 1e-5);
  } finally {
    tf.dispose([x, eps]);
    disposeParams(params);
  }
  const data = generateFaces({ size: 8, count: 20, seed: 35, split: "train" });
  const c = checkVaeTrainConfig({ epochs: 2, batchSize: 8, reportEvery: 1 });
  const run = async () => {
    const p = vaeInit(VAE, Rng.fromSeed(33));
    const losses: number[] = [];
    await trainVae(VAE, p, data, c, Rng.fromSeed(34), (_, m) => losses.push(m.loss, m.kl));
    return { losses, updates: updates(p, () => vaeInit(VAE, Rng.fromSeed(33))) };
  };
  assertSameFit(await run(), await eagerly(run));
});

test("EGNN: compiled denoising loss and gradients = eager (padded batches); a compiled fit = the eager fit", async (t) => {
  if (!requireCompiler(t)) return;
  const base = moleculeBaseConfig("smoke");
  const { train: set } = await loadMoleculeData(base);
  const model = checkEgnnConfig(base.model ?? {});
  const diffusion = checkDiffusionConfig(base.diffusion ?? {});
  const params = initEgnn(model, Rng.fromSeed(41));
  const rng = Rng.fromSeed(42);
  const idx = [0, 3, 5, 7];
  const batch = noiseBatch(set, idx, Int32Array.from(idx, () => rng.int(diffusion.steps)), alphaBars(betaSchedule(diffusion)), rng);
  const prepared = prepareBatch(model, diffusion, batch);
  assert.ok(prepared.graph.numNodes > prepared.graph.realNodes, "the batch is padded");
  const inputs = preparedTensors(prepared);
  try {
    await parity(
      "EGNN",
      () =>
        lossAndGrads("egnn", params, inputs, (p, r) => {
          const [noisy, noise, mask, count] = r.slice(8) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Scalar];
          return denoisingLoss(model, p, { tensors: prepared.tensors, noisy, noise, mask, count });
        }),
      1e-5,
    );
  } finally {
    tf.dispose(inputs);
    disposeParams(params);
  }
  const c = checkMoleculeTrainConfig({ ...base.train, epochs: 0, steps: 8, reportEvery: 1 });
  const run = async () => {
    const p = initEgnn(model, Rng.fromSeed(43));
    const losses: number[] = [];
    await trainDiffusion(model, diffusion, p, set, c, Rng.fromSeed(44), (q) => losses.push(q.trainLoss));
    return { losses, updates: updates(p, () => initEgnn(model, Rng.fromSeed(43))) };
  };
  assertSameFit(await run(), await eagerly(run));
});

test("LM sampling: the compiled decoding step draws the same tokens as the eager one", async (t) => {
  if (!requireCompiler(t)) return;
  for (const name of ["gpt2-smoke", "llama2-smoke"]) {
    const config = lmConfig(name, VOCAB);
    const params = initParams(config, Rng.fromSeed(51));
    // A sharper model than a fresh init (logits ×8), so that the draws depend on the logits.
    tf.tidy(() => {
      for (const [k, v] of Object.entries(params)) if (/^(lnf|norm)\.weight$/.test(k)) v.assign(tf.mul(v, 8));
    });
    const c = checkSamplingConfig({ maxTokens: 40, batchSize: 16 }, config);
    try {
      const want = await eagerly(() => sampleDocuments(config, params, 0, 32, c, Rng.fromSeed(52)));
      const before = compileStats().compiledCalls;
      const got = await sampleDocuments(config, params, 0, 32, c, Rng.fromSeed(52));
      assert.ok(compileStats().compiledCalls > before, "the compiled decoding step ran");
      assert.ok(new Set(want.flatMap((d) => Array.from(d))).size > 10, "the draws vary");
      assert.deepEqual(got.map((d) => Array.from(d)), want.map((d) => Array.from(d)), name);
    } finally {
      disposeParams(params);
    }
  }
});

test("the native KV cache is written in place, and cached decoding matches the full forward (grown and row-selected too)", async (t) => {
  if (!requireCompiler(t)) return;
  for (const name of ["gpt2-smoke", "llama2-smoke"]) {
    const config = lmConfig(name, VOCAB);
    const params = initParams(config, Rng.fromSeed(61));
    const rng = Rng.fromSeed(62);
    const B = 3;
    const T = 10;
    const tokens = Array.from({ length: B }, () => Array.from({ length: T }, () => rng.int(VOCAB)));
    const cache = createCache(config, B, 4);
    try {
      const full = tf.tidy(() => forward(config, params, tf.tensor2d(tokens, undefined, "int32")).dataSync() as Float32Array);
      const keys0 = cache.keys[0];
      const pieces: Float32Array[] = [];
      for (let i = 0; i < T; i++) {
        if (i === 4) growCache(cache, 16);
        if (i < 4) assert.equal(cache.keys[0], keys0, "the same cache tensor, written in place");
        pieces.push(tf.tidy(() => forward(config, params, tf.tensor2d(tokens.map((r) => [r[i]]), undefined, "int32"), { cache }).dataSync() as Float32Array));
      }
      let diff = 0;
      for (let r = 0; r < B; r++) for (let i = 0; i < T; i++) for (let v = 0; v < VOCAB; v++) diff = Math.max(diff, Math.abs(full[(r * T + i) * VOCAB + v] - pieces[i][r * VOCAB + v]));
      assert.ok(diff < 1e-4, `${name}: cached decoding differs from the full forward by ${diff}`);
      // Keep rows 2 and 0: their next logits are those of the full forward of their rows.
      selectCacheRows(cache, [2, 0]);
      const next = [rng.int(VOCAB), rng.int(VOCAB)];
      const got = tf.tidy(() => forward(config, params, tf.tensor2d([[next[0]], [next[1]]], undefined, "int32"), { cache }).dataSync() as Float32Array);
      const want = tf.tidy(() => forward(config, params, tf.tensor2d([[...tokens[2], next[0]], [...tokens[0], next[1]]], undefined, "int32")).slice([0, T, 0], [2, 1, VOCAB]).dataSync() as Float32Array);
      assert.ok(relativeDiff(got, want) < 1e-5, `${name}: after selectCacheRows`);
    } finally {
      disposeCache(cache);
      disposeParams(params);
    }
  }
});
