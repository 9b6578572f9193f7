import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import { ConfigError } from "../src/errors";
import { PAPER_PARAMETER_COUNTS, PAPER_VOCAB_SIZE, lmConfig, lmConfigNames, validateLmConfig } from "../src/lm/configs";
import { checkParamsFor, createCache, disposeCache, forward, growCache, initParams, paramShapes, parameterCount } from "../src/lm/model";
import { gelu } from "../src/lm/layers";
import type { LmConfig } from "../src/lm/types";
import { Rng } from "../src/random";
import { configErrorField } from "./helpers";
import { disposeParams } from "../src/nn/params";
import type { Params } from "../src/nn/params";

before(async () => {
  await selectBackend({ backend: "cpu" });
});

const ARCHS = ["gpt2-smoke", "llama2-smoke"] as const;
const VOCAB = 61;

function randomTokens(rng: Rng, b: number, t: number, vocab = VOCAB): number[][] {
  return Array.from({ length: b }, () => Array.from({ length: t }, () => rng.int(vocab)));
}

function withModel<T>(name: string, fn: (config: LmConfig, params: Params) => T, seed = 1): T {
  const config = lmConfig(name, VOCAB);
  const params = initParams(config, Rng.fromSeed(seed));
  try {
    return fn(config, params);
  } finally {
    disposeParams(params);
  }
}

function logitsOf(config: LmConfig, params: Params, tokens: number[][]): Float32Array {
  return tf.tidy(() => forward(config, params, tf.tensor2d(tokens, undefined, "int32")).dataSync() as Float32Array);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// ---------------------------------------------------------------------------------------------------
// configs and parameter counts

test("lmConfig: known names, vocabulary override, unknown name lists the known ones", () => {
  assert.deepEqual(lmConfigNames().sort(), ["gpt2-9m", "gpt2-quick", "gpt2-quick-s", "gpt2-smoke", "llama2-126m", "llama2-12m", "llama2-42m", "llama2-quick", "llama2-quick-m", "llama2-quick-s", "llama2-smoke"]);
  const c = lmConfig("llama2-42m", 1234);
  assert.equal(c.vocabSize, 1234);
  assert.equal(lmConfig("llama2-42m").vocabSize, PAPER_VOCAB_SIZE, "a returned config is a copy");
  c.dModel = 7;
  assert.equal(lmConfig("llama2-42m").dModel, 512);
  assert.throws(
    () => lmConfig("gpt3"),
    (e: unknown) => e instanceof ConfigError && e.field === "model" && /gpt2-9m/.test(e.message) && /llama2-smoke/.test(e.message),
  );
  assert.equal(configErrorField(() => lmConfig("gpt2-smoke", 1)), "vocabSize");
});

test("validateLmConfig rejects bad dimensions, naming the field", () => {
  const ok = lmConfig("llama2-smoke");
  assert.deepEqual(validateLmConfig({ ...ok }), ok);
  assert.equal(configErrorField(() => validateLmConfig({ ...ok, nHeads: 3 })), "model.nHeads");
  assert.equal(configErrorField(() => validateLmConfig({ ...ok, dModel: 30, nHeads: 10 })), "model.nHeads"); // odd RoPE head size
  assert.equal(configErrorField(() => validateLmConfig({ ...ok, normEps: 0 })), "model.normEps");
  assert.equal(configErrorField(() => validateLmConfig({ ...ok, arch: "mamba" })), "model.arch");
  assert.equal(configErrorField(() => validateLmConfig({ ...ok, layers: 2 })), "model.layers");
  assert.equal(configErrorField(() => validateLmConfig({ ...lmConfig("gpt2-smoke"), ropeTheta: 1e4 })), "model.ropeTheta");
  assert.equal(configErrorField(() => validateLmConfig({ ...ok, positionInitStd: 0 })), "model.positionInitStd");
  assert.equal(configErrorField(() => validateLmConfig({ ...lmConfig("gpt2-smoke"), positionInitStd: -1 })), "model.positionInitStd");
  assert.deepEqual(validateLmConfig(lmConfig("gpt2-quick")), lmConfig("gpt2-quick"), "positionInitStd survives a checkpoint round trip");
});

test("the paper configs hit the paper's parameter counts (vocab 8000)", () => {
  for (const [name, target] of Object.entries(PAPER_PARAMETER_COUNTS)) {
    const c = lmConfig(name);
    const n = parameterCount(c);
    console.log(
      `${name.padEnd(12)} d=${c.dModel} L=${c.nLayers} H=${c.nHeads} hidden=${c.dHidden} ctx=${c.contextLength} V=${c.vocabSize}: ` +
        `${n.toLocaleString("en-US")} parameters (paper ${target.toLocaleString("en-US")}, ${(((n - target) / target) * 100).toFixed(3)}%)`,
    );
    assert.ok(Math.abs(n - target) / target < 0.01, `${name}: ${n} vs ${target}`);
  }
});

test("parameterCount (analytic) equals the sum of the parameter sizes", () => {
  for (const name of lmConfigNames()) {
    const c = lmConfig(name);
    const sizes = Object.values(paramShapes(c)).reduce((s, shape) => s + shape.reduce((a, b) => a * b, 1), 0);
    assert.equal(parameterCount(c), sizes, name);
  }
  for (const name of ["gpt2-smoke", "llama2-smoke", "gpt2-quick", "llama2-quick"]) {
    withModel(name, (c, params) => {
      checkParamsFor(c, params);
      assert.equal(Object.values(params).reduce((s, v) => s + v.size, 0), parameterCount(c), name);
    });
  }
  // the head is tied in GPT-2 (no separate output matrix) and untied in Llama
  assert.ok(!("lm_head" in paramShapes(lmConfig("gpt2-smoke"))));
  assert.deepEqual(paramShapes(lmConfig("llama2-smoke", 50)).lm_head, [32, 50]);
});

test("initParams: GPT-2 init (N(0, 0.02), residual projections / √(2L), zero biases, unit norms), seeded", () => {
  const c = lmConfig("gpt2-quick");
  const a = initParams(c, Rng.fromSeed(3));
  const b = initParams(c, Rng.fromSeed(3));
  const other = initParams(c, Rng.fromSeed(4));
  try {
    const std = (v: tf.Variable) => {
      const x = v.dataSync();
      let s = 0;
      for (const z of x) s += z * z;
      return Math.sqrt(s / x.length);
    };
    assert.ok(Math.abs(std(a.wte) - 0.02) < 0.001);
    assert.ok(Math.abs(std(a["blocks.0.mlp.fc.weight"]) - 0.02) < 0.001);
    const resid = 0.02 / Math.sqrt(2 * c.nLayers);
    assert.ok(Math.abs(std(a["blocks.1.attn.proj.weight"]) - resid) < 0.05 * resid);
    assert.ok(Math.abs(std(a[`blocks.${c.nLayers - 1}.mlp.proj.weight`]) - resid) < 0.05 * resid);
    assert.ok(a[`blocks.${c.nLayers - 1}.attn.qkv.bias`].dataSync().every((x) => x === 0));
    assert.ok(a["lnf.weight"].dataSync().every((x) => x === 1));
    // positions: zero for the CPU-sized GPT-2s (see configs.ts), HF's N(0, 0.02) by default
    assert.ok(a.wpe.dataSync().every((x) => x === 0));
    const paperInit = initParams({ ...c, positionInitStd: undefined }, Rng.fromSeed(3));
    assert.ok(Math.abs(std(paperInit.wpe) - 0.02) < 0.001);
    assert.equal(lmConfig("gpt2-9m").positionInitStd, undefined);
    disposeParams(paperInit);
    assert.deepEqual(a.wte.dataSync(), b.wte.dataSync());
    assert.notDeepEqual(a.wte.dataSync(), other.wte.dataSync());
    // one parameter's values do not depend on another's size
    const wider = initParams({ ...lmConfig("gpt2-smoke"), vocabSize: 999 }, Rng.fromSeed(5));
    const narrower = initParams({ ...lmConfig("gpt2-smoke"), vocabSize: 500 }, Rng.fromSeed(5));
    assert.deepEqual(wider["blocks.0.mlp.fc.weight"].dataSync(), narrower["blocks.0.mlp.fc.weight"].dataSync());
    disposeParams(wider);
    disposeParams(narrower);
  } finally {
    [a, b, other].forEach(disposeParams);
  }
});

// ---------------------------------------------------------------------------------------------------
// forward

for (const name of ARCHS) {
  test(`${name}: forward gives logits [B, T, V] and checks its input`, () => {
    withModel(name, (c, params) => {
      const before = tf.memory().numTensors;
      const tokens = tf.tensor2d(randomTokens(Rng.fromSeed(2), 3, 7), undefined, "int32");
      const logits = forward(c, params, tokens);
      assert.deepEqual(logits.shape, [3, 7, VOCAB]);
      assert.ok(logits.dataSync().every(Number.isFinite));
      // near-uniform predictions at init
      const loss = tf.tidy(() => tf.neg(tf.mean(tf.logSoftmax(logits))).dataSync()[0]);
      assert.ok(Math.abs(loss - Math.log(VOCAB)) < 0.5, `initial mean -log p ${loss} vs log V ${Math.log(VOCAB)}`);
      logits.dispose();
      const floats = tokens.toFloat() as tf.Tensor2D;
      const tooLong = tf.zeros([1, c.contextLength + 1], "int32") as tf.Tensor2D;
      assert.throws(() => forward(c, params, floats), /int32/);
      assert.throws(() => forward(c, params, tooLong), /context length/);
      tf.dispose([tokens, floats, tooLong]);
      assert.equal(tf.memory().numTensors, before, "forward leaves only its result behind");
    });
  });

  test(`${name}: causal — changing a future token cannot change earlier logits`, () => {
    withModel(name, (c, params) => {
      const rng = Rng.fromSeed(3);
      const a = randomTokens(rng, 2, 9);
      const b = a.map((row) => row.slice());
      const k = 5;
      for (const row of b) row[k] = (row[k] + 1 + rng.int(VOCAB - 1)) % VOCAB;
      const la = logitsOf(c, params, a);
      const lb = logitsOf(c, params, b);
      for (let r = 0; r < 2; r++) {
        for (let t = 0; t < 9; t++) {
          const at = (x: Float32Array) => x.subarray((r * 9 + t) * VOCAB, (r * 9 + t + 1) * VOCAB);
          const d = maxAbsDiff(at(la), at(lb));
          if (t < k) assert.ok(d < 1e-6, `row ${r} position ${t} changed by ${d}`);
          else assert.ok(d > 1e-4, `row ${r} position ${t} did not react to the change (${d})`);
        }
      }
    });
  });

  test(`${name}: KV-cached incremental decoding matches the full forward`, () => {
    withModel(name, (c, params) => {
      const B = 2;
      const T = 11;
      const tokens = randomTokens(Rng.fromSeed(4), B, T);
      const full = logitsOf(c, params, tokens);
      const before = tf.memory().numTensors;
      // room for the first 6 positions, grown (zero-padded) once it is full
      const cache = createCache(c, B, 6);
      const pieces: Float32Array[] = [];
      // a prefix of 4, one chunk of 2, then one token at a time
      const cuts = [0, 4, 6, 7, 8, 9, 10, 11];
      for (let i = 0; i + 1 < cuts.length; i++) {
        const chunk = tokens.map((row) => row.slice(cuts[i], cuts[i + 1]));
        if (cuts[i + 1] > 6) growCache(cache, c.contextLength);
        // inside a tidy, as a sampler would call it: the cache must survive the tidy
        pieces.push(tf.tidy(() => forward(c, params, tf.tensor2d(chunk, undefined, "int32"), { cache }).dataSync() as Float32Array));
        assert.equal(cache.length, cuts[i + 1]);
        // a fixed capacity: the shapes stay the same from step to step until it is grown
        assert.deepEqual(cache.keys[0].shape, [B, c.nHeads, cuts[i + 1] > 6 ? c.contextLength : 6, c.dModel / c.nHeads]);
      }
      assert.equal(tf.memory().numTensors, before + 2 * c.nLayers, "the cache holds exactly one key and one value tensor per layer");
      // reassemble [B, T, V] from the chunks
      const inc = new Float32Array(B * T * VOCAB);
      for (let i = 0; i + 1 < cuts.length; i++) {
        const len = cuts[i + 1] - cuts[i];
        for (let r = 0; r < B; r++) inc.set(pieces[i].subarray(r * len * VOCAB, (r + 1) * len * VOCAB), (r * T + cuts[i]) * VOCAB);
      }
      assert.ok(maxAbsDiff(full, inc) < 1e-4, `max difference ${maxAbsDiff(full, inc)}`);
      // misuse is refused without touching the cache
      const wrongBatch = tf.zeros([B + 1, 1], "int32") as tf.Tensor2D;
      const tooLong = tf.zeros([B, c.contextLength - T + 1], "int32") as tf.Tensor2D;
      assert.throws(() => forward(c, params, wrongBatch, { cache }), /batch/);
      assert.throws(() => forward(c, params, tooLong, { cache }), /context length/);
      tf.dispose([wrongBatch, tooLong]);
      assert.equal(cache.length, T);
      disposeCache(cache);
      assert.equal(tf.memory().numTensors, before, "disposeCache frees everything the cache held");
    });
  });

  test(`${name}: no tensor leak across repeated forward + backward steps`, () => {
    withModel(name, (c, params) => {
      const tokens = tf.tensor2d(randomTokens(Rng.fromSeed(5), 2, 9), undefined, "int32");
      const step = () => {
        const { value, grads } = tf.variableGrads(() =>
          tf.tidy(() => {
            const inputs = tokens.slice([0, 0], [2, 8]) as tf.Tensor2D;
            const targets = tf.oneHot(tokens.slice([0, 1], [2, 8]) as tf.Tensor2D, VOCAB);
            return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(forward(c, params, inputs)), targets), -1))) as tf.Scalar;
          }),
        );
        assert.equal(Object.keys(grads).length, Object.keys(params).length);
        tf.dispose([value, ...Object.values(grads)]);
      };
      step();
      const base = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) step();
      assert.equal(tf.memory().numTensors, base);
      tokens.dispose();
    });
  });

  test(`${name}: Adam overfits a tiny fixed batch in 100 steps (cpu backend)`, () => {
    assert.equal(tf.getBackend(), "cpu");
    withModel(name, (c, params) => {
      const rng = Rng.fromSeed(6);
      const batch = tf.tensor2d(randomTokens(rng, 2, 17), undefined, "int32");
      const inputs = batch.slice([0, 0], [2, 16]) as tf.Tensor2D;
      const targets = tf.oneHot(batch.slice([0, 1], [2, 16]) as tf.Tensor2D, VOCAB);
      const opt = tf.train.adam(1e-2);
      const lossFn = () => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(forward(c, params, inputs)), targets), -1))) as tf.Scalar;
      const losses: number[] = [];
      for (let i = 0; i < 100; i++) {
        const l = opt.minimize(lossFn, true, Object.values(params))!;
        losses.push(l.dataSync()[0]);
        l.dispose();
      }
      opt.dispose();
      tf.dispose([batch, inputs, targets]);
      assert.ok(losses[0] > 3, `initial loss ${losses[0]}`);
      assert.ok(losses[99] < 0.05, `final loss ${losses[99]} (from ${losses[0]})`);
    });
  });
}

test("gelu is GPT-2's tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³)))", () => {
  const xs = Array.from({ length: 401 }, (_, i) => -10 + i / 20);
  const got = tf.tidy(() => gelu(tf.tensor1d(xs)).dataSync());
  const c = Math.sqrt(2 / Math.PI);
  xs.forEach((x, i) => {
    const want = 0.5 * x * (1 + Math.tanh(c * (x + 0.044715 * x ** 3)));
    assert.ok(Math.abs(got[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `gelu(${x}) = ${got[i]}, want ${want}`);
  });
});
