/**
 * `npm run profile`: where a step's time goes on the native backend, for the README's performance
 * section. Per model (gpt2-quick-s and llama2-quick training on 16 × 256 tokens and a decoding step of
 * 100 documents at position 100; the quick VAE and EGNN training steps):
 *   - the ops each phase dispatches eagerly (forward, backward, global-norm clipping, AdamW), with the
 *     time spent inside libtensorflow's eager runtime and kernels (the binding's executeOp) and the
 *     time on tfjs's side (engine, gradient tape, kernel functions);
 *   - the fixed cost of one op: a scalar add through tfjs, and through the binding alone;
 *   - the whole step eagerly and as one compiled graph (median of several steps).
 * Usage: node dist/bench/profile.js [--json]
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import { compileAvailable, observeOps } from "../src/backend/compile";
import { loadMoleculeData, moleculeBaseConfig } from "../src/index";
import { loadVaeData, vaeBaseConfig } from "../src/index";
import { lmConfig } from "../src/lm/configs";
import { createCache, decodeStep, disposeCache, initParams } from "../src/lm/model";
import { cacheStepTensors } from "../src/lm/layers";
import { checkSamplingConfig, decodingStep } from "../src/lm/sample";
import { crossEntropy } from "../src/lm/train";
import { alphaBars, betaSchedule, checkDiffusionConfig, denoisingLoss, noiseBatch, prepareBatch, preparedTensors } from "../src/molecules/diffusion";
import { checkEgnnConfig, initEgnn } from "../src/molecules/egnn";
import { adamWInit, adamWScalars, adamWUpdate, adamWDispose } from "../src/nn/adamw";
import { fit } from "../src/nn/fit";
import { type Params, disposeParams } from "../src/nn/params";
import { Rng } from "../src/random";
import { checkVaeConfig, elbo, vaeInit } from "../src/vae/model";
import { batchTensor, checkVaeTrainConfig, normalTensor } from "../src/vae/train";

interface Phase {
  ops: number;
  /** Milliseconds: the whole phase, inside the binding, and on tfjs's side. */
  ms: number;
  bindingMs: number;
  tfjsMs: number;
}

/** A phase measured eagerly: the median of `repeats` runs after one warm-up. */
function phase(f: () => void, repeats = 5): Phase {
  process.env.COLLAPSE_COMPILE = "0";
  try {
    f();
    const runs = Array.from({ length: repeats }, () => observeOps(f));
    runs.sort((a, b) => a.seconds - b.seconds);
    const r = runs[Math.floor(repeats / 2)];
    return { ops: r.ops, ms: r.seconds * 1e3, bindingMs: r.bindingSeconds * 1e3, tfjsMs: (r.seconds - r.bindingSeconds) * 1e3 };
  } finally {
    delete process.env.COLLAPSE_COMPILE;
  }
}

/** The difference of two phases (e.g. forward + backward minus forward). */
function minus(a: Phase, b: Phase): Phase {
  return { ops: a.ops - b.ops, ms: a.ms - b.ms, bindingMs: a.bindingMs - b.bindingMs, tfjsMs: a.tfjsMs - b.tfjsMs };
}

/** Median milliseconds per step of `fit` after its first `skip` steps (eager or compiled). */
async function fitStepMs(params: Params, steps: number, skip: number, loss: () => { inputs: tf.Tensor[]; value: () => tf.Scalar }, compiled: boolean): Promise<number> {
  if (!compiled) process.env.COLLAPSE_COMPILE = "0";
  try {
    const stamps: number[] = [];
    await fit({ params, steps, optimizer: { beta1: 0.9, beta2: 0.95, gradClip: 1, weightDecay: 0.1 }, learningRate: () => 1e-4, decays: () => true, batch: () => 0, loss, afterStep: () => stamps.push(performance.now()) });
    const d = stamps.slice(skip).map((t, i) => t - stamps[skip + i - 1]).filter((x) => Number.isFinite(x));
    d.sort((a, b) => a - b);
    return d[Math.floor(d.length / 2)];
  } finally {
    delete process.env.COLLAPSE_COMPILE;
  }
}

/** The training step's phases for a loss over `params`. */
function trainingPhases(params: Params, loss: () => tf.Scalar): Record<string, Phase> {
  const names = Object.keys(params).sort();
  const vars = names.map((n) => params[n]);
  const forward = phase(() => tf.tidy(() => void loss()));
  const withBackward = phase(() => tf.tidy(() => void tf.variableGrads(loss, vars)));
  const adam = adamWInit(params);
  const grads = tf.tidy(() => {
    const { grads: g } = tf.variableGrads(loss, vars);
    return vars.map((v) => tf.keep(g[v.name]));
  });
  const scalars = adamWScalars(0, 1e-3, { beta1: 0.9, beta2: 0.95, gradClip: 0 });
  const m = names.map((n) => adam.m[n]);
  const v = names.map((n) => adam.v[n]);
  const clip = phase(() => tf.tidy(() => void tf.minimum(1, tf.div(1, tf.add(tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))), 1e-6)))));
  const optimizer = phase(() => tf.tidy(() => void adamWUpdate(vars, m, v, grads, scalars, { beta1: 0.9, beta2: 0.95, gradClip: 0, weightDecay: 0.1 }, names.map(() => true))));
  tf.dispose([...grads, ...scalars]);
  adamWDispose(adam);
  return { forward, backward: minus(withBackward, forward), clipping: clip, adamw: optimizer };
}

interface Row {
  model: string;
  step: string;
  phases: Record<string, Phase>;
  eagerMs: number;
  compiledMs: number;
}

async function lmRows(name: string): Promise<Row[]> {
  const config = lmConfig(name);
  const params = initParams(config, Rng.fromSeed(1));
  const rng = Rng.fromSeed(2);
  const batch = tf.tensor2d(Int32Array.from({ length: 16 * 257 }, () => rng.int(config.vocabSize)), [16, 257], "int32");
  const rows: Row[] = [];
  try {
    const loss = () => crossEntropy(config, params, batch);
    const phases = trainingPhases(params, loss);
    const eagerMs = await fitStepMs(params, 8, 2, () => ({ inputs: [batch], value: loss }), false);
    const compiledMs = await fitStepMs(params, 14, 4, () => ({ inputs: [batch], value: loss }), true);
    rows.push({ model: name, step: "training, 16 × 256", phases, eagerMs, compiledMs });
    // One decoding step of 100 documents at position 100 (cache capacity 128).
    const c = checkSamplingConfig({ batchSize: 100, maxTokens: 200 }, config);
    const step = decodingStep(config, c);
    const cache = createCache(config, 100, 128);
    cache.length = 100;
    const next = tf.fill([100, 1], 1, "int32");
    const uniforms = tf.fill([100, 1], 0.5);
    const where = decodeStep(config, 100, 100, 1, 128);
    const run = () => tf.tidy(() => void step(params, [next, ...cacheStepTensors(where), uniforms, ...cache.keys, ...cache.values])[0].dataSync());
    const decode = phase(run, 9);
    const timedMs = (compiled: boolean) => {
      if (!compiled) process.env.COLLAPSE_COMPILE = "0";
      try {
        for (let i = 0; i < 3; i++) run();
        const t: number[] = [];
        for (let i = 0; i < 15; i++) {
          const t0 = performance.now();
          run();
          t.push(performance.now() - t0);
        }
        t.sort((a, b) => a - b);
        return t[7];
      } finally {
        delete process.env.COLLAPSE_COMPILE;
      }
    };
    rows.push({ model: name, step: "decoding, 100 documents", phases: { "forward + draw": decode }, eagerMs: timedMs(false), compiledMs: timedMs(true) });
    tf.dispose([next, uniforms]);
    tf.dispose(cacheStepTensors(where));
    disposeCache(cache);
  } finally {
    batch.dispose();
    disposeParams(params);
  }
  return rows;
}

async function vaeRow(): Promise<Row> {
  const base = vaeBaseConfig("quick");
  const data = await loadVaeData(base);
  const model = checkVaeConfig({ ...base.model, imageSize: base.imageSize });
  const train = checkVaeTrainConfig(base.train ?? {});
  const params = vaeInit(model, Rng.fromSeed(3));
  const x = batchTensor(data.train, Int32Array.from({ length: train.batchSize }, (_, i) => i));
  const eps = normalTensor(Rng.fromSeed(4), train.batchSize, model.latentDim);
  try {
    const loss = () => tf.mean(elbo(model, params, x, eps).negElbo) as tf.Scalar;
    const phases = trainingPhases(params, loss);
    const eagerMs = await fitStepMs(params, 12, 2, () => ({ inputs: [x, eps], value: loss }), false);
    const compiledMs = await fitStepMs(params, 20, 4, () => ({ inputs: [x, eps], value: loss }), true);
    return { model: "VAE (quick)", step: `training, ${train.batchSize} images`, phases, eagerMs, compiledMs };
  } finally {
    tf.dispose([x, eps]);
    disposeParams(params);
  }
}

async function egnnRow(): Promise<Row> {
  const base = moleculeBaseConfig("quick");
  const { train: set } = await loadMoleculeData(base);
  const model = checkEgnnConfig(base.model ?? {});
  const diffusion = checkDiffusionConfig(base.diffusion ?? {});
  const params = initEgnn(model, Rng.fromSeed(6));
  const rng = Rng.fromSeed(7);
  const idx = Array.from({ length: base.train?.batchSize ?? 16 }, (_, i) => i);
  const prepared = prepareBatch(model, diffusion, noiseBatch(set, idx, Int32Array.from(idx, () => rng.int(diffusion.steps)), alphaBars(betaSchedule(diffusion)), rng));
  try {
    const loss = () => denoisingLoss(model, params, prepared);
    const phases = trainingPhases(params, loss);
    // One fixed batch, so that every step has the same shapes (a fit's batches are padded to a few).
    const eagerMs = await fitStepMs(params, 12, 2, () => ({ inputs: preparedTensors(prepared), value: loss }), false);
    const compiledMs = await fitStepMs(params, 20, 4, () => ({ inputs: preparedTensors(prepared), value: loss }), true);
    const g = prepared.graph;
    return { model: "EGNN (quick)", step: `training, ${idx.length} conformers (${g.realNodes} atoms, ${g.receivers.length} edges, padded)`, phases, eagerMs, compiledMs };
  } finally {
    tf.dispose(preparedTensors(prepared));
    disposeParams(params);
  }
}

/** Microseconds per call of a scalar add: through tfjs, and through the binding alone. */
function opOverhead(): { tfjsMicros: number; bindingMicros: number } {
  const a = tf.scalar(1);
  const b = tf.scalar(2);
  const n = 20000;
  for (let i = 0; i < 1000; i++) tf.tidy(() => tf.add(a, b));
  let t0 = performance.now();
  for (let i = 0; i < n; i++) tf.tidy(() => tf.add(a, b));
  const tfjsMicros = ((performance.now() - t0) / n) * 1e3;
  const backend = tf.backend() as unknown as { binding: { TF_ATTR_TYPE: number; TF_FLOAT: number; executeOp(o: string, attrs: unknown[], ids: number[], n: number): { id: number }[]; deleteTensor(id: number): void }; getInputTensorIds(t: tf.Tensor[]): number[] };
  const ids = backend.getInputTensorIds([a, b]);
  const attrs = [{ name: "T", type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_FLOAT }];
  t0 = performance.now();
  for (let i = 0; i < n; i++) backend.binding.deleteTensor(backend.binding.executeOp("AddV2", attrs, ids, 1)[0].id);
  const bindingMicros = ((performance.now() - t0) / n) * 1e3;
  tf.dispose([a, b]);
  return { tfjsMicros, bindingMicros };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: "boolean", default: false } } });
  const sel = await selectBackend({ backend: "tensorflow" });
  if (!compileAvailable()) throw new Error("profile: the tensorflow backend was built without the kit's compiled steps (bash scripts/setup-native.sh)");
  const overhead = opOverhead();
  const rows = [...(await lmRows("gpt2-quick-s")), ...(await lmRows("llama2-quick")), await vaeRow(), await egnnRow()];
  if (values.json) {
    console.log(JSON.stringify({ backend: sel.detail, overhead, rows }));
    return;
  }
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  console.log(`${sel.detail}; one op (a scalar add): ${overhead.tfjsMicros.toFixed(1)} µs through tfjs, ${overhead.bindingMicros.toFixed(1)} µs through the binding alone\n`);
  console.log("| model | step | phase | ops | eager ms | in libtensorflow ms | tfjs side ms |");
  console.log("|---|---|---|---:|---:|---:|---:|");
  for (const r of rows) {
    for (const [p, v] of Object.entries(r.phases)) console.log(`| ${r.model} | ${r.step} | ${p} | ${v.ops} | ${f(v.ms)} | ${f(v.bindingMs)} | ${f(v.tfjsMs)} |`);
  }
  console.log("\n| model | step | ops | eager step ms | compiled step ms | speed-up |");
  console.log("|---|---|---:|---:|---:|---:|");
  for (const r of rows) {
    const ops = Object.values(r.phases).reduce((s, p) => s + p.ops, 0);
    console.log(`| ${r.model} | ${r.step} | ${ops} | ${f(r.eagerMs)} | ${f(r.compiledMs)} | ${(r.eagerMs / r.compiledMs).toFixed(2)}× |`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
