import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import {
  GEODIFF_DRUGS_DIFFUSION,
  alphaBars,
  betaSchedule,
  centredNoise,
  checkDiffusionConfig,
  evaluateDenoisingLoss,
  evaluationDraws,
  rescaledDrugsSchedule,
  ancestralSample,
  sampleConformations,
  samplingTimesteps,
  trainDiffusion,
  checkMoleculeTrainConfig,
} from "../src/molecules/diffusion";
import { batchTensors, buildGraphBatch, checkEgnnConfig, disposeBatchTensors, egnnForward, initEgnn } from "../src/molecules/egnn";
import { SHIPPED_MOLECULES_DIR, embeddedCacheFile, embeddedConformations, generateInFreshProcess, splitByMolecule } from "../src/molecules/embedded";
import { embeddedSpecOf, moleculeBaseConfig } from "../src/index";
import { type ConformationSet, type MoleculeGraph, conformationCodec } from "../src/molecules/types";
import { Rng } from "../src/random";
import { configErrorField, tempDir } from "./helpers";
import { disposeParams } from "../src/nn/params";

before(async () => {
  await selectBackend();
});

/** Two small hand-made molecules (heavy atoms), with bonds. */
const MOLS: MoleculeGraph[] = [
  { smiles: "CCO", atomicNumbers: Uint8Array.from([6, 6, 8]), bonds: Int32Array.from([0, 1, 1, 2]), bondOrders: Uint8Array.from([1, 1]) },
  { smiles: "c1ccccc1C", atomicNumbers: Uint8Array.from([6, 6, 6, 6, 6, 6, 6]), bonds: Int32Array.from([0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0, 5, 6]), bondOrders: Uint8Array.from([4, 4, 4, 4, 4, 4, 1]) },
];

function randomCoords(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: 3 * n }, () => 1.5 * rng.normal());
}

function rotation(rng: Rng): number[][] {
  const q = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
  const s = Math.hypot(...q);
  const [w, x, y, z] = q.map((v) => v / s);
  return [
    [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
  ];
}

function apply(r: number[][], xyz: Float32Array, shift: number[]): Float32Array {
  const out = new Float32Array(xyz.length);
  for (let i = 0; i < xyz.length; i += 3) for (let k = 0; k < 3; k++) out[i + k] = r[k][0] * xyz[i] + r[k][1] * xyz[i + 1] + r[k][2] * xyz[i + 2] + shift[k];
  return out;
}

const model = checkEgnnConfig({ hidden: 16, layers: 3, bondEmbedding: 4, timeFeatures: 8, rbf: 8, radius: 3 });

function predict(params: ReturnType<typeof initEgnn>, mols: MoleculeGraph[], xyz: Float32Array, step: number): Float32Array {
  const graph = buildGraphBatch(mols, xyz, model.radius);
  const bt = batchTensors(model, graph, new Float32Array(graph.numNodes).fill(step));
  try {
    const out = tf.tidy(() => egnnForward(model, params, bt, tf.tensor2d(xyz, [graph.numNodes, 3])));
    const values = out.dataSync() as Float32Array;
    out.dispose();
    return values;
  } finally {
    disposeBatchTensors(bt);
  }
}

test("EGNN: rotating and translating the input rotates the predicted noise (and does not translate it)", () => {
  const rng = Rng.fromSeed(11);
  const params = initEgnn(model, rng.fork("init"));
  // make the coordinate head non-negligible so that the test has something to compare
  tf.tidy(() => {
    for (const [name, v] of Object.entries(params)) if (name.endsWith("coord.w2")) v.assign(tf.mul(v, 300));
  });
  try {
    const xyz = randomCoords(10, rng);
    const base = predict(params, MOLS, xyz, 0.3);
    const scale = Math.max(...base.map(Math.abs));
    assert.ok(scale > 1e-3, `prediction too small to test (${scale})`);
    for (let k = 0; k < 3; k++) {
      const r = rotation(rng);
      const moved = predict(params, MOLS, apply(r, xyz, [3 * rng.normal(), 3 * rng.normal(), 3 * rng.normal()]), 0.3);
      const expected = apply(r, base, [0, 0, 0]);
      for (let i = 0; i < moved.length; i++) assert.ok(Math.abs(moved[i] - expected[i]) < 1e-4 * Math.max(1, scale), `coordinate ${i}: ${moved[i]} vs ${expected[i]}`);
    }
    // each molecule's predicted noise has zero mean (centre-of-mass free)
    for (const [from, to] of [[0, 3], [3, 10]]) {
      for (let k = 0; k < 3; k++) {
        let s = 0;
        for (let a = from; a < to; a++) s += base[3 * a + k];
        assert.ok(Math.abs(s) < 1e-4);
      }
    }
  } finally {
    disposeParams(params);
  }
});

test("EGNN: permuting the molecules of a batch permutes the prediction", () => {
  const rng = Rng.fromSeed(12);
  const params = initEgnn(model, rng.fork("init"));
  tf.tidy(() => {
    for (const [name, v] of Object.entries(params)) if (name.endsWith("coord.w2")) v.assign(tf.mul(v, 300));
  });
  try {
    const xyz = randomCoords(10, rng);
    const ab = predict(params, MOLS, xyz, 0.5);
    const swapped = new Float32Array(30);
    swapped.set(xyz.subarray(9), 0);
    swapped.set(xyz.subarray(0, 9), 21);
    const ba = predict(params, [MOLS[1], MOLS[0]], swapped, 0.5);
    for (let i = 0; i < 9; i++) assert.ok(Math.abs(ab[i] - ba[21 + i]) < 1e-5);
    for (let i = 0; i < 21; i++) assert.ok(Math.abs(ab[9 + i] - ba[i]) < 1e-5);
    // and renumbering the atoms of one molecule (with its bonds) permutes its rows
    const perm = [2, 0, 1]; // new atom k is old atom perm[k]
    const inv = [1, 2, 0];
    const ethanol: MoleculeGraph = { ...MOLS[0], atomicNumbers: Uint8Array.from(perm, (p) => MOLS[0].atomicNumbers[p]), bonds: Int32Array.from(MOLS[0].bonds, (a) => inv[a]) };
    const xyz0 = xyz.subarray(0, 9);
    const permuted = Float32Array.from({ length: 9 }, (_, i) => xyz0[3 * perm[Math.floor(i / 3)] + (i % 3)]);
    const p1 = predict(params, [MOLS[0]], Float32Array.from(xyz0), 0.5);
    const p2 = predict(params, [ethanol], permuted, 0.5);
    for (let k = 0; k < 3; k++) for (let c = 0; c < 3; c++) assert.ok(Math.abs(p2[3 * k + c] - p1[3 * perm[k] + c]) < 1e-5);
  } finally {
    disposeParams(params);
  }
});

test("graph batch: bond edges always, radius edges within a molecule only", () => {
  const xyz = new Float32Array(30); // every atom at the origin: all pairs within the radius
  const g = buildGraphBatch(MOLS, xyz, 1);
  assert.equal(g.receivers.length, 3 * 2 + 7 * 6);
  for (let e = 0; e < g.receivers.length; e++) assert.equal(g.nodeGraph[g.receivers[e]], g.nodeGraph[g.senders[e]]);
  const far = Float32Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? 10 * i : 0));
  const bondsOnly = buildGraphBatch(MOLS, far, 1);
  assert.equal(bondsOnly.receivers.length, 2 * (2 + 7));
  assert.ok(bondsOnly.edgeTypes.every((t) => t >= 1));
});

test("noise schedule: GeoDiff's sigmoid β from 1e-7 to 2e-3 over 5000 steps, and its rescaled versions", () => {
  const c = checkDiffusionConfig({});
  assert.deepEqual(c, GEODIFF_DRUGS_DIFFUSION);
  const b = betaSchedule(c);
  assert.equal(b.length, 5000);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  for (const i of [0, 1, 1234, 2500, 4999]) {
    const expected = sig(-6 + (12 * i) / 4999) * (2e-3 - 1e-7) + 1e-7;
    assert.ok(Math.abs(b[i] - expected) < 1e-15, `β[${i}]`);
  }
  for (let i = 1; i < b.length; i++) assert.ok(b[i] > b[i - 1]);
  const ab = alphaBars(b);
  assert.ok(Math.abs(ab[0] - (1 - b[0])) < 1e-15);
  assert.ok(Math.abs(ab[4999] - b.reduce((p, x) => p * (1 - x), 1)) < 1e-12);
  // the rescaled schedule reaches nearly the same final ᾱ in fewer steps
  const short = alphaBars(betaSchedule(rescaledDrugsSchedule(100, 20)));
  assert.ok(Math.abs(Math.log(short[99]) - Math.log(ab[4999])) < 0.15 * Math.abs(Math.log(ab[4999])));
  assert.deepEqual(Array.from(samplingTimesteps({ ...c, samplingSteps: 5 })), [0, 1250, 2500, 3749, 4999]);
  assert.equal(configErrorField(() => checkDiffusionConfig({ samplingSteps: 6000 })), "diffusion.samplingSteps");
  assert.equal(configErrorField(() => checkDiffusionConfig({ betaEnd: 1e-9 })), "diffusion.betaEnd");
  assert.equal(configErrorField(() => checkDiffusionConfig({ stepz: 3 } as never)), "diffusion.stepz");
});

test("centred noise has zero mean per molecule", () => {
  const z = centredNoise([3, 5], Rng.fromSeed(1));
  for (const [from, to] of [[0, 3], [3, 8]]) {
    for (let k = 0; k < 3; k++) {
      let s = 0;
      for (let a = from; a < to; a++) s += z[3 * a + k];
      assert.ok(Math.abs(s) < 1e-5);
    }
  }
});

test("diffusion: the denoising loss falls when overfitting a handful of conformers; sampling gives finite conformations", async () => {
  const rng = Rng.fromSeed(5);
  const set: ConformationSet = {
    molecules: MOLS,
    conformers: [
      { molecule: 0, xyz: Float32Array.from([0, 0, 0, 1.52, 0, 0, 2.0, 1.4, 0]) },
      { molecule: 1, xyz: Float32Array.from([1.39, 0, 0, 0.7, 1.2, 0, -0.7, 1.2, 0, -1.39, 0, 0, -0.7, -1.2, 0, 0.7, -1.2, 0, 1.5, -2.5, 0]) },
      { molecule: 0, xyz: Float32Array.from([0, 0, 0, 1.52, 0, 0, 2.0, -0.7, 1.2]) },
    ],
  };
  const diffusion = rescaledDrugsSchedule(50, 10);
  const params = initEgnn(model, rng.fork("init"));
  try {
    const draws = evaluationDraws(set, diffusion, 8, 12, Rng.fromSeed(9));
    const before = evaluateDenoisingLoss(model, diffusion, params, draws);
    const curve: number[] = [];
    await trainDiffusion(model, diffusion, params, set, checkMoleculeTrainConfig({ steps: 300, batchSize: 6, learningRate: 5e-3, minLearningRate: 5e-4, reportEvery: 100 }), rng.fork("train"), (p) => curve.push(p.trainLoss));
    const after = evaluateDenoisingLoss(model, diffusion, params, draws);
    assert.equal(curve.length, 3);
    assert.ok(after < 0.75 * before, `loss ${before} → ${after}`);
    const samples = await sampleConformations(model, diffusion, params, [MOLS[0], MOLS[1], MOLS[0]], 2, Rng.fromSeed(4));
    assert.deepEqual(samples.map((s) => s.length), [9, 21, 9]);
    assert.ok(samples.every((s) => s.every(Number.isFinite)));
    const again = await sampleConformations(model, diffusion, params, [MOLS[0], MOLS[1], MOLS[0]], 2, Rng.fromSeed(4));
    assert.deepEqual(again, samples, "sampling is deterministic given its rng");
  } finally {
    disposeParams(params);
  }
});

test("embedded set: valid seeded molecules with 3D conformers, cached, split by molecule", async () => {
  const cacheDir = tempDir("embedded");
  const spec = { molecules: 4, conformers: 2, seed: 7, minAtoms: 10, maxAtoms: 16, minimise: false };
  const first = await embeddedConformations(spec, { cacheDir });
  assert.equal(first.source, "generated");
  const { set } = first;
  assert.equal(set.molecules.length, 4);
  assert.equal(new Set(set.molecules.map((m) => m.smiles)).size, 4);
  for (const m of set.molecules) {
    assert.ok(m.atomicNumbers.length >= 10 && m.atomicNumbers.length <= 16, m.smiles);
    assert.ok(m.atomicNumbers.every((z) => z !== 1), "heavy atoms only");
    assert.ok(m.bondOrders.length >= m.atomicNumbers.length - 1, "connected");
  }
  for (const c of set.conformers) {
    const m = set.molecules[c.molecule];
    for (let k = 0; k < m.bondOrders.length; k++) {
      const a = m.bonds[2 * k];
      const b = m.bonds[2 * k + 1];
      const d = Math.hypot(c.xyz[3 * a] - c.xyz[3 * b], c.xyz[3 * a + 1] - c.xyz[3 * b + 1], c.xyz[3 * a + 2] - c.xyz[3 * b + 2]);
      assert.ok(d > 1.0 && d < 2.0, `bond length ${d} in ${m.smiles}`);
    }
  }
  const second = await embeddedConformations(spec, { cacheDir });
  assert.equal(second.source, "cache");
  assert.deepEqual(second.set.molecules.map((m) => m.smiles), set.molecules.map((m) => m.smiles));
  assert.deepEqual(Array.from(second.set.conformers[0].xyz), Array.from(set.conformers[0].xyz));
  const split = splitByMolecule(set, 1, Rng.fromSeed(1));
  const trainSmiles = new Set(split.train.molecules.map((m) => m.smiles));
  assert.equal(split.test.molecules.length, 1);
  assert.ok(!trainSmiles.has(split.test.molecules[0].smiles));
  assert.equal(split.train.conformers.length + split.test.conformers.length, set.conformers.length);
  assert.equal(configErrorField(() => splitByMolecule(set, 4, Rng.fromSeed(1))), "testMolecules");
});

test("the shipped embedded set of the smoke profile is what the generator makes, and is used without generating", async () => {
  const spec = embeddedSpecOf(moleculeBaseConfig("smoke"));
  const shipped = path.join(SHIPPED_MOLECULES_DIR, path.basename(embeddedCacheFile(spec)));
  assert.ok(fs.existsSync(shipped), `${shipped} is shipped (npm run data:molecules writes it)`);
  const cacheDir = tempDir("embedded-shipped");
  const read = await embeddedConformations(spec, { cacheDir });
  assert.equal(read.source, "shipped");
  assert.equal(read.file, shipped);
  // (this process has generated other molecules already, which changes openchemlib's conformers)
  const generated = await generateInFreshProcess(spec);
  assert.deepEqual(Buffer.from(conformationCodec.encode(generated)), fs.readFileSync(shipped), "byte for byte");
  // the quick profile's set is shipped too
  assert.ok(fs.existsSync(path.join(SHIPPED_MOLECULES_DIR, path.basename(embeddedCacheFile(embeddedSpecOf(moleculeBaseConfig("quick")))))));
});

test("the ancestral sampler with the exact noise predictor of Gaussian data gives back the data's variance", async () => {
  // Data: centred N(0, s²) coordinates per molecule. Then x_τ = √ᾱ x₀ + √(1−ᾱ) ε is centred Gaussian
  // too, and the optimal prediction is E[ε | x_τ] = √(1−ᾱ) / (ᾱ s² + 1 − ᾱ) · x_τ.
  // Over the full chain (every step sampled) the moments come back. (Sampling a subsequence of the steps,
  // as the profiles do, takes the posterior mean of x₀ as if it were certain and contracts the samples:
  // measured with this oracle, variance 2.82 at 50 of 5000 steps and 2.31 at 20 of 200, for 3.2.)
  const s2 = 4;
  for (const diffusion of [rescaledDrugsSchedule(200, 200), rescaledDrugsSchedule(1000, 1000)]) {
    const alphaBar = alphaBars(betaSchedule(diffusion));
    const oracle = (x: Float32Array, tau: number) => {
      const ab = alphaBar[tau];
      const c = Math.sqrt(1 - ab) / (ab * s2 + 1 - ab);
      return x.map((v) => c * v);
    };
    const atoms = 5;
    const sizes = new Array<number>(400).fill(atoms);
    const mols = await ancestralSample(diffusion, sizes, oracle, Rng.fromSeed(31));
    let sum = 0;
    let count = 0;
    for (const m of mols) for (const v of m) ((sum += v * v), count++);
    // A centred molecule of n atoms keeps (n − 1)/n of the per-coordinate variance.
    const want = (s2 * (atoms - 1)) / atoms;
    const got = sum / count;
    assert.ok(Math.abs(got - want) < 0.06 * want, `${diffusion.steps} steps / ${diffusion.samplingSteps} sampled: variance ${got.toFixed(3)}, want ${want}`);
    // and with a predictor that is wrong by a factor, the variance is visibly off: the test can fail
    const wrong = await ancestralSample(diffusion, sizes, (x, tau) => oracle(x, tau).map((v) => 0.5 * v), Rng.fromSeed(31));
    let wsum = 0;
    for (const m of wrong) for (const v of m) wsum += v * v;
    assert.ok(Math.abs(wsum / count - want) > 0.2 * want, `a halved predictor gives ${(wsum / count).toFixed(3)}`);
  }
});
