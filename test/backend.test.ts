import assert from "node:assert/strict";
import * as fs from "node:fs";
import { afterEach, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import {
  BACKEND_ENV_VAR,
  backendInfo,
  installKernels,
  probeTensorflow,
  selectBackend,
  wasmMissingKernels,
  type ModuleLoader,
} from "../src/backend";
import { ConfigError } from "../src/errors";
import { lmConfig } from "../src/lm/configs";
import { forward, initParams } from "../src/lm/model";
import { softmaxCrossEntropy } from "../src/lm/train";
import type { LmConfig } from "../src/lm/types";
import { Rng } from "../src/random";
import { disposeParams } from "../src/nn/params";
import type { Params } from "../src/nn/params";

// The backend is process-global: the tests in this file run in order and each says what it needs.

const savedEnv = process.env[BACKEND_ENV_VAR];
afterEach(() => {
  if (savedEnv === undefined) delete process.env[BACKEND_ENV_VAR];
  else process.env[BACKEND_ENV_VAR] = savedEnv;
});

const tensorflowHere = probeTensorflow().available;

/** Whether node_modules holds the danfojs alias: "@tensorflow/tfjs-node" that is really plain tfjs. */
function aliasInstalled(): boolean {
  try {
    const pj = JSON.parse(fs.readFileSync(require.resolve("@tensorflow/tfjs-node/package.json"), "utf8"));
    return pj.name !== "@tensorflow/tfjs-node";
  } catch {
    return false;
  }
}

test("the best backend is tensorflow if it really registers, else wasm (initialized offline)", async () => {
  delete process.env[BACKEND_ENV_VAR];
  const sel = await selectBackend();
  assert.equal(sel.name, tensorflowHere ? "tensorflow" : "wasm");
  assert.equal(tf.getBackend(), sel.name);
  if (sel.name === "wasm") assert.match(sel.detail, /^@tensorflow\/tfjs-backend-wasm@4\.\d+\.\d+ \((no )?simd, /);
  const info = backendInfo();
  assert.equal(info.backend, sel.name);
  assert.equal(info.detail, sel.detail);
  assert.equal(info.forcedBy, null);
  // It computes, on the selected backend.
  assert.deepEqual(Array.from(tf.tidy(() => tf.square(tf.tensor1d([1, 2, 3])).dataSync())), [1, 4, 9]);
});

test("selectBackend is idempotent, also when called concurrently", async () => {
  delete process.env[BACKEND_ENV_VAR];
  const [a, b] = await Promise.all([selectBackend(), selectBackend()]);
  assert.equal(a, b);
  assert.equal(await selectBackend(), a);
});

test("COLLAPSE_BACKEND=cpu forces the cpu backend; an explicit option wins over the variable", async () => {
  process.env[BACKEND_ENV_VAR] = "cpu";
  const sel = await selectBackend();
  assert.equal(sel.name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.equal(backendInfo().forcedBy, BACKEND_ENV_VAR);
  const wasm = await selectBackend({ backend: "wasm" });
  assert.equal(wasm.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  // Back to "best" once the variable is gone.
  delete process.env[BACKEND_ENV_VAR];
  assert.equal((await selectBackend()).name, tensorflowHere ? "tensorflow" : "wasm");
});

test("a bad COLLAPSE_BACKEND value is a ConfigError naming the variable", async () => {
  process.env[BACKEND_ENV_VAR] = "webgpu";
  await assert.rejects(selectBackend(), (e: unknown) => e instanceof ConfigError && e.field === BACKEND_ENV_VAR && /webgpu/.test(e.message));
});

test("forcing tensorflow where it is unavailable fails with a clear message", { skip: tensorflowHere && "tensorflow is available here" }, async () => {
  const before = tf.getBackend();
  process.env[BACKEND_ENV_VAR] = "tensorflow";
  await assert.rejects(selectBackend(), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.field, BACKEND_ENV_VAR);
    assert.match(e.message, /COLLAPSE_BACKEND/);
    assert.match(e.message, /"tensorflow" is not available/);
    assert.match(e.message, /tfjs-node/);
    return true;
  });
  assert.equal(tf.getBackend(), before, "a failed selection leaves the backend as it was");
});

test("the tfjs-node alias trap: a package that loads but registers no backend is not tensorflow", { skip: tensorflowHere && "the real tensorflow backend is registered in this process" }, () => {
  const loads: string[] = [];
  const alias: ModuleLoader = {
    packageJson: (pkg) => (pkg === "@tensorflow/tfjs-node" ? { name: "@tensorflow/tfjs", version: "4.22.0" } : null),
    load: (pkg) => void loads.push(pkg),
  };
  const r = probeTensorflow(alias);
  assert.equal(r.available, false);
  assert.deepEqual(loads, ["@tensorflow/tfjs-node"], "it was loaded, then found wanting");
  assert.match(r.reason!, /npm alias of @tensorflow\/tfjs@4\.22\.0/);
  assert.match(r.reason!, /registers no "tensorflow" backend/);

  // Positive control: a loader that does register "tensorflow" is accepted.
  assert.equal(tf.findBackendFactory("tensorflow"), null);
  const real: ModuleLoader = {
    packageJson: (pkg) => (pkg === "@tensorflow/tfjs-node-gpu" ? { name: pkg, version: "9.9.9" } : null),
    load: () => void tf.registerBackend("tensorflow", () => tf.engine().findBackend("cpu")!, -1),
  };
  try {
    const ok = probeTensorflow(real);
    assert.equal(ok.available, true);
    assert.equal(ok.detail, "@tensorflow/tfjs-node-gpu@9.9.9");
  } finally {
    tf.removeBackend("tensorflow");
  }
});

test("in this checkout the real probe sees through the danfojs alias", { skip: !aliasInstalled() && "no alias installed" }, () => {
  const r = probeTensorflow();
  if (realGpuPackageInstalled()) {
    // The GPU flavour: tfjs-node-gpu is the real package, and the probe takes it, never the alias.
    assert.equal(r.available, true);
    assert.match(r.detail!, /^@tensorflow\/tfjs-node-gpu@/);
  } else {
    assert.equal(r.available, false);
    assert.match(r.reason!, /@tensorflow\/tfjs-node \(an npm alias of @tensorflow\/tfjs@/);
  }
});

function realGpuPackageInstalled(): boolean {
  try {
    return JSON.parse(fs.readFileSync(require.resolve("@tensorflow/tfjs-node-gpu/package.json"), "utf8")).name === "@tensorflow/tfjs-node-gpu";
  } catch {
    return false;
  }
}

test("wasm: every numeric cpu kernel is covered after the patches", async () => {
  await selectBackend({ backend: "wasm" });
  const missing = wasmMissingKernels();
  assert.ok(!missing.includes("UnsortedSegmentSum"));
  assert.ok(!missing.includes("Conv2DBackpropFilter"));
  // What remains needs complex64, strings or a canvas, which wasm tensors cannot hold.
  const nonNumeric = new Set(["Complex", "ComplexAbs", "Draw", "FFT", "IFFT", "Imag", "Real", "RaggedGather", "RaggedRange", "RaggedTensorToTensor", "StaticRegexReplace"]);
  assert.deepEqual(missing.filter((k) => !nonNumeric.has(k)), []);
});

/** Naive unsorted segment sum: rows of x [n, inner] added into numSegments rows; bad ids dropped. */
function naiveSegmentSum(x: Float32Array, ids: number[], inner: number, numSegments: number): Float32Array {
  const out = new Float32Array(numSegments * inner);
  ids.forEach((s, i) => {
    if (s < 0 || s >= numSegments) return;
    for (let j = 0; j < inner; j++) out[s * inner + j] += x[i * inner + j];
  });
  return out;
}

for (const backend of ["cpu", "wasm"] as const) {
  test(`${backend}: UnsortedSegmentSum (the gradient of gather) is a correct scatter-add`, async () => {
    await selectBackend({ backend });
    installKernels();
    const rng = Rng.fromSeed(5);
    const x = Float32Array.from({ length: 7 * 3 * 2 }, () => rng.normal());
    const ids = [0, 4, 4, 1, -1, 9, 0]; // -1 and 9 are out of range for 5 segments
    const got = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor3d(x, [7, 3, 2]), tf.tensor1d(ids, "int32"), 5).dataSync());
    const want = naiveSegmentSum(x, ids, 6, 5);
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-6, `element ${i}: ${got[i]} vs ${want[i]}`);
    // and gather's gradient through it: d/dw sum(gather(w, ids) * c) = scatter-add of c
    const g = tf.tidy(() => {
      const w = tf.zeros([5, 2]);
      const c = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
      return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.gather(v, tf.tensor1d([2, 0, 2], "int32")), c)))(w).arraySync();
    });
    assert.deepEqual(g, [[3, 4], [0, 0], [6, 8], [0, 0], [0, 0]]);
  });
}

test("wasm: BatchMatMul with transposes, batches and broadcasts matches cpu", async () => {
  const rng = Rng.fromSeed(6);
  const cases: [number[], number[], boolean, boolean][] = [
    [[64, 48], [48, 80], false, false],
    [[48, 64], [48, 80], true, false],
    [[64, 48], [80, 48], false, true],
    [[48, 64], [80, 48], true, true],
    [[300, 40], [300, 8], true, false], // cheaper as (bᵀ·a)ᵀ: the big operand is not copied
    [[8, 40], [300, 40], false, true], // likewise (b·aᵀ)ᵀ
    [[3, 64, 48], [48, 80], false, false], // batched a, shared b: one folded product
    [[2, 3, 64, 48], [2, 3, 80, 48], false, true], // batched both: per-entry XNNPACK
    [[64, 48], [4, 48, 80], false, false], // shared a, batched b
    [[2, 1, 40, 48], [1, 3, 48, 40], false, false], // a broadcast it leaves to the original kernel
    [[5, 2, 3], [5, 3, 4], false, false], // tiny batched: original kernel
  ];
  const data = cases.map(([sa, sb]) => [sa, sb].map((s) => Float32Array.from({ length: s.reduce((x, y) => x * y, 1) }, () => rng.normal())));
  const run = () => cases.map(([sa, sb, ta, tb], i) => tf.tidy(() => tf.matMul(tf.tensor(data[i][0], sa), tf.tensor(data[i][1], sb), ta, tb).dataSync()));
  await selectBackend({ backend: "cpu" });
  const want = run();
  await selectBackend({ backend: "wasm" });
  const before = tf.memory().numTensors;
  const got = run();
  assert.equal(tf.memory().numTensors, before);
  for (let c = 0; c < cases.length; c++) {
    assert.equal(got[c].length, want[c].length, `case ${c}`);
    for (let i = 0; i < want[c].length; i++) assert.ok(Math.abs(got[c][i] - want[c][i]) < 1e-4, `case ${c} element ${i}: ${got[c][i]} vs ${want[c][i]}`);
  }
});

test("softmaxCrossEntropy: value and gradient equal −mean(logSoftmax·onehot), on cpu and wasm, without leaks", async () => {
  const rng = Rng.fromSeed(10);
  const [n, v] = [37, 53];
  // large logits too: the max shift must keep exp finite
  const logits = Float32Array.from({ length: n * v }, (_, i) => 4 * rng.normal() + (i % 7 === 0 ? 80 : 0));
  const targets = Int32Array.from({ length: n }, () => rng.int(v));
  const run = (fused: boolean) =>
    tf.tidy(() => {
      const t = tf.tensor1d(targets, "int32");
      const loss = (x: tf.Tensor) =>
        fused ? softmaxCrossEntropy(x as tf.Tensor2D, t) : tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(x), tf.oneHot(t, v)), -1)));
      const { value, grad } = tf.valueAndGrad(loss)(tf.tensor2d(logits, [n, v]));
      return { value: value.dataSync()[0], grad: grad.dataSync() };
    });
  for (const backend of ["cpu", "wasm"] as const) {
    await selectBackend({ backend });
    const want = run(false);
    const before = tf.memory().numTensors;
    const got = run(true);
    assert.equal(tf.memory().numTensors, before, `${backend}: no tensors left behind`);
    assert.ok(Math.abs(got.value - want.value) < 1e-5 * want.value, `${backend}: loss ${got.value} vs ${want.value}`);
    for (let i = 0; i < want.grad.length; i++) assert.ok(Math.abs(got.grad[i] - want.grad[i]) < 1e-6, `${backend}: gradient element ${i}: ${got.grad[i]} vs ${want.grad[i]}`);
  }
});

test("wasm: a kernel delegated to cpu (Conv2DBackpropFilter) matches cpu", async () => {
  const rng = Rng.fromSeed(7);
  const x = Float32Array.from({ length: 2 * 6 * 6 * 3 }, () => rng.normal());
  const dy = Float32Array.from({ length: 2 * 6 * 6 * 4 }, () => rng.normal());
  const f = Float32Array.from({ length: 3 * 3 * 3 * 4 }, () => rng.normal());
  // d/dfilter of sum(conv2d(x, filter) * dy) is Conv2DBackpropFilter(x, dy)
  const run = () =>
    tf.tidy(() => {
      const xt = tf.tensor4d(x, [2, 6, 6, 3]);
      const dyt = tf.tensor4d(dy, [2, 6, 6, 4]);
      return tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xt, w as tf.Tensor4D, 1, "same"), dyt)))(tf.tensor4d(f, [3, 3, 3, 4])).dataSync();
    });
  await selectBackend({ backend: "cpu" });
  const want = run();
  await selectBackend({ backend: "wasm" });
  const got = run();
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-4);
});

/** Gradients of the next-token cross-entropy w.r.t. every parameter, by name. */
function lossGrads(config: LmConfig, params: Params, tokens: number[][]): { loss: number; grads: Record<string, Float32Array> } {
  return tf.tidy(() => {
    const batch = tf.tensor2d(tokens, undefined, "int32");
    const [b, span] = batch.shape;
    const inputs = batch.slice([0, 0], [b, span - 1]);
    const targets = batch.slice([0, 1], [b, span - 1]);
    const byVar = new Map(Object.entries(params).map(([n, v]) => [v.name, n]));
    const { value, grads } = tf.variableGrads(() => {
      const logp = tf.logSoftmax(forward(config, params, inputs));
      return tf.neg(tf.mean(tf.sum(tf.mul(logp, tf.oneHot(targets, config.vocabSize)), -1))) as tf.Scalar;
    }, Object.values(params));
    const out: Record<string, Float32Array> = {};
    for (const [vn, g] of Object.entries(grads)) out[byVar.get(vn)!] = g.dataSync() as Float32Array;
    return { loss: value.dataSync()[0], grads: out };
  });
}

for (const name of ["gpt2-smoke", "llama2-smoke"]) {
  test(`wasm: gradients of ${name}'s loss w.r.t. every parameter match cpu to 1e-4`, async () => {
    const config = lmConfig(name, 97);
    const rng = Rng.fromSeed(8);
    // 40 positions: the attention products are large enough to take the per-batch XNNPACK path
    const tokens = Array.from({ length: 2 }, () => Array.from({ length: 41 }, () => rng.int(97)));
    await selectBackend({ backend: "cpu" });
    const params = initParams(config, Rng.fromSeed(9));
    try {
      const cpu = lossGrads(config, params, tokens);
      await selectBackend({ backend: "wasm" });
      const wasm = lossGrads(config, params, tokens);
      assert.ok(Math.abs(cpu.loss - wasm.loss) < 1e-5 * cpu.loss);
      assert.deepEqual(Object.keys(wasm.grads).sort(), Object.keys(params).sort(), "a gradient for every parameter");
      for (const n of Object.keys(params)) {
        const a = cpu.grads[n];
        const b = wasm.grads[n];
        let diff = 0;
        let norm = 0;
        for (let i = 0; i < a.length; i++) {
          diff += (a[i] - b[i]) ** 2;
          norm += a[i] ** 2;
        }
        assert.ok(norm > 0, `${n}: zero gradient`);
        assert.ok(Math.sqrt(diff / norm) < 1e-4, `${n}: relative difference ${Math.sqrt(diff / norm)}`);
      }
    } finally {
      disposeParams(params);
    }
  });
}

test("selecting a backend registers its kernel patches once; the models' forward passes install none", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    await selectBackend({ backend });
    assert.ok(tf.getKernel("CollapseGatherRows", backend), `${backend}: the row-copy kernel of message passing`);
    assert.ok(tf.getKernel("UnsortedSegmentSum", backend));
    const patches = backendInfo().kernelPatches as string[];
    assert.ok(patches.includes(`${backend}:UnsortedSegmentSum(scatter-add)`), JSON.stringify(patches));
    assert.ok(patches.every((p) => p.startsWith(`${backend}:`)), "only the running backend's patches are recorded");
  }
  // Nothing outside src/backend/ registers kernels.
  const srcDir = require("node:path").join(__dirname, "..", "..", "src");
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = require("node:path").join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "backend") walk(p);
      } else if (p.endsWith(".ts") && /installKernels\(|registerKernel\(/.test(fs.readFileSync(p, "utf8"))) offenders.push(p);
    }
  };
  walk(srcDir);
  assert.deepEqual(offenders, []);
});
