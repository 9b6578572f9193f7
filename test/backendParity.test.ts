import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { BACKEND_ENV_VAR, BACKEND_NAMES, type BackendName, availableBackends, backendInfo, selectBackend } from "../src/backend";
import type { IterationRecord } from "../src/collapse/loop";
import { lmBaseConfig, runLmSequence } from "../src/index";
import { moleculeBaseConfig, runMoleculeSequence } from "../src/index";
import { runVaeSequence, vaeBaseConfig } from "../src/index";
import { lmConfig } from "../src/lm/configs";
import { initParams } from "../src/lm/model";
import { type SamplingConfig, checkSamplingConfig, sampleDocuments } from "../src/lm/sample";
import { crossEntropy } from "../src/lm/train";
import { batchTensors, buildGraphBatch, checkEgnnConfig, disposeBatchTensors, egnnForward, initEgnn } from "../src/molecules/egnn";
import type { MoleculeGraph } from "../src/molecules/types";
import { Rng } from "../src/random";
import { type VaeConfig, decode, elbo, vaeInit } from "../src/vae/model";
import { freshStore } from "./helpers";
import { disposeParams } from "../src/nn/params";

/**
 * Backend parity: every model's loss and gradients on each installed backend (tensorflow, wasm)
 * against the plain-JS `cpu` reference, and sampling that draws the very same tokens on every backend
 * for a seed. Each case builds its parameters afresh on the backend under test from the same seed, so
 * nothing is carried between backends. Then each modality's smoke collapse sequence on every installed
 * backend, cpu included.
 */

let installed = new Set<BackendName>();
before(async () => {
  installed = new Set((await availableBackends()).filter((a) => a.available).map((a) => a.name));
});
after(async () => {
  await selectBackend();
});

interface Computed {
  loss: number;
  grads: Record<string, Float32Array>;
}

/** The loss and its gradient with respect to every parameter, by parameter name. */
function lossAndGrads(lossFn: () => tf.Scalar, params: Record<string, tf.Variable>): Computed {
  const { value, grads } = tf.variableGrads(lossFn, Object.values(params));
  const out: Computed = { loss: value.dataSync()[0], grads: {} };
  for (const [k, v] of Object.entries(params)) out.grads[k] = grads[v.name].dataSync() as Float32Array;
  value.dispose();
  tf.dispose(grads);
  return out;
}

/** Relative to the reference's largest entry, so that gradients of any scale compare alike. */
function assertClose(got: Computed, want: Computed, backend: string, tol = 2e-3): void {
  assert.ok(Math.abs(got.loss - want.loss) <= tol * Math.max(1, Math.abs(want.loss)), `${backend}: loss ${got.loss} vs cpu ${want.loss}`);
  assert.deepEqual(Object.keys(got.grads).sort(), Object.keys(want.grads).sort());
  for (const [k, w] of Object.entries(want.grads)) {
    const g = got.grads[k];
    assert.equal(g.length, w.length, k);
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < w.length; i++) {
      scale = Math.max(scale, Math.abs(w[i]));
      diff = Math.max(diff, Math.abs(g[i] - w[i]));
    }
    assert.ok(diff <= tol * scale + 1e-6, `${backend}: gradient ${k} differs by ${diff} (its scale ${scale})`);
  }
}

/** Runs `compute` on cpu, then on every other installed backend, and compares. */
function parity(name: string, compute: () => Computed, tol?: number): void {
  for (const backend of BACKEND_NAMES.filter((b) => b !== "cpu")) {
    test(`${backend} = cpu: ${name}`, async (t) => {
      if (!installed.has(backend)) return t.skip(`${backend} is not installed here`);
      await selectBackend({ backend: "cpu" });
      const want = compute();
      await selectBackend({ backend });
      const before = tf.memory().numTensors;
      const got = compute();
      assert.equal(tf.memory().numTensors, before, `${backend}: no tensors leak`);
      assert.equal(backendInfo().backend, backend);
      assertClose(got, want, backend, tol);
    });
  }
}

// --- language models ---------------------------------------------------------------------------------
const VOCAB = 97;
for (const name of ["gpt2-smoke", "llama2-smoke"]) {
  parity(`${name} cross-entropy and its gradients`, () => {
    const config = lmConfig(name, VOCAB);
    const params = initParams(config, Rng.fromSeed(21));
    const rng = Rng.fromSeed(22);
    const tokens = Int32Array.from({ length: 3 * 33 }, () => rng.int(VOCAB));
    const batch = tf.tensor2d(tokens, [3, 33], "int32");
    try {
      return lossAndGrads(() => crossEntropy(config, params, batch), params);
    } finally {
      batch.dispose();
      disposeParams(params);
    }
  });
}

// --- the VAE (strided convolutions, sub-pixel upsampling, dense layers) ------------------------------
const VAE: VaeConfig = { imageSize: 8, channels: [4, 8], latentDim: 3, likelihood: "bernoulli" };
parity("VAE negative ELBO and its gradients", () => {
  const params = vaeInit(VAE, Rng.fromSeed(31));
  const rng = Rng.fromSeed(32);
  const x = tf.tensor4d(Float32Array.from({ length: 5 * 8 * 8 * 3 }, () => rng.uniform()), [5, 8, 8, 3]);
  const eps = tf.tensor2d(Float32Array.from({ length: 5 * 3 }, () => rng.normal()), [5, 3]);
  try {
    const out = lossAndGrads(() => tf.tidy(() => tf.mean(elbo(VAE, params, x, eps).negElbo)) as tf.Scalar, params);
    // The decoder alone, too: the sampling path of Figures 6 and 7.
    const images = tf.tidy(() => decode(VAE, params, eps).dataSync() as Float32Array);
    out.grads["decoded images"] = images;
    return out;
  } finally {
    tf.dispose([x, eps]);
    disposeParams(params);
  }
});

// --- the EGNN denoiser (gathers, segment sums over edges) ---------------------------------------------
const MOLS: MoleculeGraph[] = [
  { smiles: "CCO", atomicNumbers: Uint8Array.from([6, 6, 8]), bonds: Int32Array.from([0, 1, 1, 2]), bondOrders: Uint8Array.from([1, 1]) },
  { smiles: "c1ccccc1C", atomicNumbers: Uint8Array.from([6, 6, 6, 6, 6, 6, 6]), bonds: Int32Array.from([0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0, 5, 6]), bondOrders: Uint8Array.from([4, 4, 4, 4, 4, 4, 1]) },
];
const EGNN = checkEgnnConfig({ hidden: 16, layers: 3, bondEmbedding: 4, timeFeatures: 8, rbf: 8, radius: 3 });
parity("EGNN denoising loss and its gradients", () => {
  const params = initEgnn(EGNN, Rng.fromSeed(41));
  const rng = Rng.fromSeed(42);
  const xyz = Float32Array.from({ length: 3 * 10 }, () => 1.5 * rng.normal());
  const noise = Float32Array.from({ length: 3 * 10 }, () => rng.normal());
  const graph = buildGraphBatch(MOLS, xyz, EGNN.radius);
  const bt = batchTensors(EGNN, graph, Float32Array.from({ length: graph.numNodes }, (_, i) => (i % 5) / 5));
  const x = tf.tensor2d(xyz, [graph.numNodes, 3]);
  const target = tf.tensor2d(noise, [graph.numNodes, 3]);
  try {
    return lossAndGrads(() => tf.tidy(() => tf.mean(tf.square(tf.sub(egnnForward(EGNN, params, bt, x), target)))) as tf.Scalar, params);
  } finally {
    tf.dispose([x, target]);
    disposeBatchTensors(bt);
    disposeParams(params);
  }
});

// --- sampling ------------------------------------------------------------------------------------------
for (const [label, c] of [
  ["t=1", {}],
  ["t=0.3, top-k 20, top-p 0.9", { temperature: 0.3, topK: 20, topP: 0.9 }],
] as [string, Partial<SamplingConfig>][]) {
  test(`sampleDocuments (${label}) draws the same tokens on every installed backend for a seed`, async () => {
    const config = lmConfig("llama2-smoke", VOCAB);
    const sampling = checkSamplingConfig({ maxTokens: 24, batchSize: 8, ...c }, config);
    const drawn: Record<string, number[][]> = {};
    for (const backend of installed) {
      await selectBackend({ backend });
      const params = initParams(config, Rng.fromSeed(51));
      // A sharper model than a fresh init, so that the draws depend on the logits.
      tf.tidy(() => {
        for (const [k, v] of Object.entries(params)) if (k.includes("embed") || k.includes("lm_head")) v.assign(tf.mul(v, 40));
      });
      try {
        drawn[backend] = (await sampleDocuments(config, params, 0, 12, sampling, Rng.fromSeed(52))).map((d) => Array.from(d));
      } finally {
        disposeParams(params);
      }
    }
    assert.ok(new Set(drawn.cpu.flat()).size > 10, "the draws vary");
    for (const backend of installed) assert.deepEqual(drawn[backend], drawn.cpu, `${backend} draws what cpu draws`);
  });
}

// --- each modality's smoke sequence, end to end --------------------------------------------------------
const SEQUENCES: [string, () => Promise<{ records: readonly IterationRecord[]; backend?: Record<string, unknown> }>][] = [
  ["language model", () => runLmSequence({ ...lmBaseConfig("smoke"), trainDocuments: 40, validDocuments: 10, strategy: "accumulate", iterations: 2 }, { store: freshStore("parity-lm") })],
  ["VAE", () => runVaeSequence({ ...vaeBaseConfig("smoke"), strategy: "accumulate", iterations: 2 }, { store: freshStore("parity-vae") })],
  ["molecules", () => runMoleculeSequence({ ...moleculeBaseConfig("smoke"), strategy: "accumulate", iterations: 2 }, { store: freshStore("parity-mol") })],
];
for (const backend of BACKEND_NAMES) {
  for (const [modality, run] of SEQUENCES) {
    test(`${backend}: the ${modality} smoke sequence runs end to end and records its backend`, async (t) => {
      if (!installed.has(backend)) return t.skip(`${backend} is not installed here`);
      const saved = process.env[BACKEND_ENV_VAR];
      process.env[BACKEND_ENV_VAR] = backend;
      try {
        const tensors = tf.memory().numTensors;
        const result = await run();
        assert.equal(result.backend?.backend, backend);
        assert.equal(result.records.length, 2);
        for (const r of result.records) for (const [k, v] of Object.entries(r.metrics)) assert.ok(v === null || Number.isFinite(v), `model ${r.iteration}: ${k} = ${v}`);
        assert.equal(tf.memory().numTensors, tensors, "no tensors leak");
      } finally {
        if (saved === undefined) delete process.env[BACKEND_ENV_VAR];
        else process.env[BACKEND_ENV_VAR] = saved;
      }
    });
  }
}
