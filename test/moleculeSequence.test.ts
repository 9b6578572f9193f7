import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { encode } from "@msgpack/msgpack";
import { MOLECULES, type MoleculeSequenceConfig, checkMoleculeSequenceConfig, loadMoleculeData, moleculeBaseConfig, runMoleculeSequence, runSequences, storedIterations } from "../src/index";
import { PROFILES } from "../src/index";
import { rescaledDrugsSchedule } from "../src/molecules/diffusion";
import { conformationCodec } from "../src/molecules/types";
import { Rng } from "../src/random";
import { configErrorField, freshStore, tempDir } from "./helpers";

/** A GEOM-format file of `count` chain-like "molecules" (random walks with 1.5 Å steps), 3 conformers each. */
function chainFixture(count: number): string {
  const rng = Rng.fromSeed(21);
  const entries: Record<string, unknown> = {};
  for (let m = 0; m < count; m++) {
    const atoms = 5 + (m % 4);
    const zs = Array.from({ length: atoms }, (_, i) => (i % 3 === 2 ? 8 : 6));
    const conformers = [0, 1, 2].map((k) => {
      const rows: number[][] = [];
      let p = [0, 0, 0];
      let dir = [1, 0, 0];
      for (let i = 0; i < atoms; i++) {
        rows.push([zs[i], ...p]);
        // bend by a random angle around a random axis, keeping neighbours 1.5 Å apart and non-neighbours further
        const t = [dir[0] + 0.6 * rng.normal(), dir[1] + 0.6 * rng.normal(), dir[2] + 0.6 * rng.normal()];
        const n = Math.hypot(...t);
        dir = t.map((v) => v / n);
        p = p.map((v, j) => v + 1.5 * dir[j]);
      }
      return { xyz: rows, boltzmannweight: 1 / (k + 1) };
    });
    entries[`C${"C".repeat(m)}O`] = { conformers, charge: 0 };
  }
  const file = path.join(tempDir("molseq"), "chains.msgpack");
  fs.writeFileSync(file, encode(entries));
  return file;
}

function tinyConfig(data: string): MoleculeSequenceConfig {
  return {
    data,
    trainMolecules: 6,
    testMolecules: 2,
    conformersPerMolecule: 2,
    maxAtoms: 12,
    strategy: "accumulate",
    iterations: 2,
    seed: 3,
    model: { hidden: 8, layers: 2, bondEmbedding: 4, timeFeatures: 4, rbf: 4, radius: 4 },
    diffusion: rescaledDrugsSchedule(20, 5),
    train: { epochs: 3, batchSize: 4, reportEvery: 5 },
    evaluation: { lossRepeats: 1, batchSize: 16, coverageMolecules: 2, generatedPerReference: 1 },
  };
}

test("every profile's base config is valid; paper uses 40,000 GEOM-Drugs conformations, 8 iterations and GeoDiff's schedule", () => {
  for (const p of PROFILES) checkMoleculeSequenceConfig(moleculeBaseConfig(p));
  const paper = moleculeBaseConfig("paper");
  assert.equal(paper.data, "geom-drugs");
  assert.equal(paper.trainMolecules * paper.conformersPerMolecule, 40_000);
  assert.equal(paper.iterations, 8);
  assert.deepEqual(paper.diffusion, { schedule: "sigmoid", steps: 5000, betaStart: 1e-7, betaEnd: 2e-3, samplingSteps: 50 });
});

test("config errors name the field", () => {
  const base = tinyConfig("embedded");
  assert.equal(configErrorField(() => checkMoleculeSequenceConfig({ ...base, data: "csv:x" })), "data");
  assert.equal(configErrorField(() => checkMoleculeSequenceConfig({ ...base, trainMolecules: 0 })), "trainMolecules");
  assert.equal(configErrorField(() => checkMoleculeSequenceConfig({ ...base, strategy: "keep" as never })), "strategy");
  assert.equal(configErrorField(() => checkMoleculeSequenceConfig({ ...base, model: { hidden: 0 } })), "model.hidden");
  assert.equal(configErrorField(() => checkMoleculeSequenceConfig({ ...base, model: { timeFeatures: 5 } })), "model.timeFeatures");
  assert.equal(configErrorField(() => checkMoleculeSequenceConfig({ ...base, train: { stepz: 1 } as never })), "train.stepz");
  assert.equal(configErrorField(() => checkMoleculeSequenceConfig({ ...base, evaluation: { threshold: 0 } })), "evaluation.threshold");
  assert.equal(configErrorField(() => checkMoleculeSequenceConfig({ ...base, colour: 1 } as never)), "colour");
});

test("a molecule sequence runs on a GEOM-format file, persists, resumes and extends", async () => {
  const file = chainFixture(10);
  const store = freshStore("molseq");
  const config = tinyConfig(`msgpack:${file}`);
  const statuses: string[] = [];
  const first = await runMoleculeSequence(config, { store, onStatus: (m) => statuses.push(m) });
  assert.equal(first.resumedFrom, 0);
  assert.equal(first.records.length, 2);
  for (const r of first.records) {
    for (const k of ["testLoss", "trainLoss", "coverage", "matching"]) assert.ok(Number.isFinite(r.metrics[k]), `${k} of iteration ${r.iteration}`);
  }
  // accumulate: model 2 trains on the real conformers plus model 1's samples
  const data = await loadMoleculeData(first.config);
  const realSize = data.train.conformers.length;
  assert.equal(first.records[0].trainSize, realSize);
  assert.equal(first.records[1].trainSize, 2 * realSize);
  assert.equal(first.records[1].realInTrain, realSize);
  // training by epochs: twice the data, twice the steps
  assert.equal(first.records[0].metrics.trainSteps, Math.round((3 * realSize) / 4));
  assert.equal(first.records[1].metrics.trainSteps, Math.round((3 * 2 * realSize) / 4));
  const trainSmiles = new Set(data.train.molecules.map((m) => m.smiles));
  assert.ok(data.test.molecules.every((m) => !trainSmiles.has(m.smiles)), "test molecules never appear in training");
  assert.ok(first.runDir);
  const synthetic = conformationCodec.decode(fs.readFileSync(path.join(first.runDir!, "artifacts", "synthetic-1.bin")));
  assert.equal(synthetic.conformers.length, realSize);
  assert.ok(fs.existsSync(path.join(first.runDir!, "artifacts", "model-1.safetensors")));
  // the same config reads the finished run back
  const again = await runMoleculeSequence(config, { store });
  assert.equal(again.resumedFrom, 2);
  assert.deepEqual(again.records.map((r) => r.metrics), first.records.map((r) => r.metrics));
  // more iterations continue it
  const longer = await runMoleculeSequence({ ...config, iterations: 3 }, { store });
  assert.equal(longer.resumedFrom, 2);
  assert.equal(longer.records.length, 3);
  assert.deepEqual(longer.records[1].metrics, first.records[1].metrics);
  // too few molecules in the file
  await assert.rejects(runMoleculeSequence({ ...config, trainMolecules: 20 }, { store }), (e: unknown) => e instanceof Error && /trainMolecules/.test(e.message));
});

test("sequences in worker processes (runSequences) match the same sequences run here", async () => {
  const file = chainFixture(10);
  const configs = (["replace", "accumulate"] as const).map((strategy) => ({ ...tinyConfig(`msgpack:${file}`), strategy }));
  const store = freshStore("molseqs-par");
  const seen: number[][] = [[], []];
  const parallel = await runSequences(MOLECULES, configs, { store, parallel: 2, onIteration: (i, r) => seen[i].push(r.iteration) });
  assert.deepEqual(seen, [[1, 2], [1, 2]]);
  for (let i = 0; i < configs.length; i++) {
    const here = await runMoleculeSequence(configs[i], { store: null });
    assert.equal(parallel[i].config, configs[i], "results come back in the order given");
    assert.deepEqual(parallel[i].records.map((r) => ({ ...r, seconds: 0 })), here.records.map((r) => ({ ...r, seconds: 0 })), `sequence ${i}`);
  }
  assert.equal(storedIterations(MOLECULES, store, configs[1]), 2);
  assert.equal(storedIterations(MOLECULES, store, { ...configs[1], seed: 4 }), 0);
  // another file at the same path is another data set: its runs start from scratch
  fs.appendFileSync(file, Buffer.from([0xc0]));
  assert.equal(storedIterations(MOLECULES, store, configs[1]), 0);
});
