import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import type { IterationRecord } from "../src/collapse/loop";
import { DataError } from "../src/errors";
import { VAE, type VaeSequenceConfig, checkVaeSequenceConfig, runSequence, runSequences, runVaeSequence, storedIterations, vaeBaseConfig, vaeDataSource } from "../src/index";
import { PROFILES, storedFits } from "../src/index";
import { folderSplit } from "../src/images/celeba";
import { imageCodec } from "../src/images/types";
import { configErrorField, freshStore, tempDir } from "./helpers";
import { loadParams } from "../src/nn/safetensors";

// runVaeSequence at the smoke profile: metrics, run store, resume, checkpoints, config errors.

const SMOKE = vaeBaseConfig("smoke");

before(async () => {
  await selectBackend();
});

const timeless = (records: readonly IterationRecord[]) => records.map((r) => ({ ...r, seconds: 0 }));

test("a smoke sequence records the test error and sample metrics, checkpoints every model, leaks no tensors", async () => {
  const store = freshStore("vaeseq-a");
  const tensors = tf.memory().numTensors;
  const statuses: string[] = [];
  const result = await runVaeSequence(SMOKE, { store, onStatus: (m) => statuses.push(m) });
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(result.records.length, 3);
  for (const r of result.records) {
    for (const k of ["testNegElbo", "testReconstruction", "testKl", "frechetDistance", "precision", "recall", "freq_glasses", "freq_hat"]) {
      assert.ok(Number.isFinite(r.metrics[k]), `model ${r.iteration}: ${k} = ${r.metrics[k]}`);
    }
    assert.ok(r.curve && r.curve.length > 0, "a learning curve");
    assert.ok(fs.existsSync(path.join(result.runDir!, "artifacts", `model-${r.iteration}.safetensors`)));
  }
  const { params, metadata } = loadParams(path.join(result.runDir!, "artifacts", "model-2.safetensors"));
  assert.deepEqual(JSON.parse(metadata.config), result.model);
  for (const v of Object.values(params)) v.dispose();
  const synthetic = imageCodec.decode(fs.readFileSync(path.join(result.runDir!, "artifacts", "synthetic-1.bin")));
  assert.equal(synthetic.n, SMOKE.samplesPerIteration);
  assert.equal(synthetic.attributes, undefined, "generated images carry no labels");
  assert.ok(fs.existsSync(path.join(result.runDir!, "artifacts", "classifier.safetensors")));
  assert.ok(statuses.some((s) => /parameters/.test(s)));
  assert.equal(JSON.parse(fs.readFileSync(path.join(result.runDir!, "env.json"), "utf8")).backend.backend, result.backend!.backend);

  // Same config again: read back, nothing retrained.
  let fits = 0;
  const again = await runVaeSequence(SMOKE, { store, onFitProgress: () => fits++ });
  assert.equal(fits, 0);
  assert.deepEqual(timeless(again.records), timeless(result.records));

  // An interrupted run resumes from its last finished model with identical results.
  const store2 = freshStore("vaeseq-b");
  await assert.rejects(
    runVaeSequence(SMOKE, {
      store: store2,
      onIteration: (r) => {
        if (r.iteration === 2) throw new Error("interrupted");
      },
    }),
    /interrupted/,
  );
  const resumed = await runVaeSequence(SMOKE, { store: store2 });
  assert.equal(resumed.resumedFrom, 2);
  assert.deepEqual(timeless(resumed.records), timeless(result.records));
  assert.equal(tf.memory().numTensors, tensors);
});

test("accumulate trains on the growing pool", async () => {
  const result = await runVaeSequence({ ...SMOKE, strategy: "accumulate", iterations: 2 });
  assert.deepEqual(result.records.map((r) => r.trainSize), [64, 128]);
  assert.deepEqual(result.records.map((r) => r.realInTrain), [64, 64]);
  assert.equal(result.runDir, null);
});

test("bad configs name the field; missing CelebA fails fast and names the offline alternative", async () => {
  const bad = (patch: Partial<VaeSequenceConfig> | Record<string, unknown>) => configErrorField(() => checkVaeSequenceConfig({ ...SMOKE, ...patch } as VaeSequenceConfig));
  assert.equal(bad({ data: "imagenet" }), "data");
  assert.equal(bad({ data: "folder:" }), "data");
  assert.equal(bad({ imageSize: 18 }), "model.imageSize");
  assert.equal(bad({ strategy: "mix" }), "strategy");
  assert.equal(bad({ model: { ...SMOKE.model, latentDim: 0 } }), "model.latentDim");
  assert.equal(bad({ train: { epochs: 0 } }), "train.epochs");
  assert.equal(bad({ metricSamples: 2 }), "metricSamples");
  assert.equal(bad({ epochs: 3 }), "epochs");
  assert.equal(bad({ data: "celeba", faces: { hat: 0.5 } }), "faces");
  for (const p of PROFILES) checkVaeSequenceConfig(vaeBaseConfig(p));
  const missing = path.join(tempDir("vaeseq-nodata"), "celeba");
  const store = freshStore("vaeseq-c");
  await assert.rejects(
    runVaeSequence({ ...SMOKE, data: `celeba:${missing}` }, { store }),
    (e: unknown) => e instanceof DataError && e.message.includes(missing) && /--data embedded/.test(e.message),
  );
  assert.ok(!fs.existsSync(path.join(store.root, "vae")), "no run directory for data that could not be loaded");
});

test("sequences in worker processes (runSequences) match the same sequences run here", async () => {
  const configs = (["replace", "accumulate"] as const).map((strategy) => ({ ...SMOKE, strategy, iterations: 2 }));
  const store = freshStore("vaeseqs-par");
  const parallel = await runSequences(VAE, configs, { store, parallel: 2 });
  for (let i = 0; i < configs.length; i++) {
    const here = await runVaeSequence(configs[i], { store: null });
    assert.equal(parallel[i].config, configs[i]);
    assert.deepEqual(timeless(parallel[i].records), timeless(here.records), `sequence ${i}`);
    // The workers' results are read from the store: their facts, and the preview images on first use.
    assert.deepEqual([parallel[i].parameters, parallel[i].realFrequencies, parallel[i].classifierAccuracy], [here.parameters, here.realFrequencies, here.classifierAccuracy]);
    assert.deepEqual(parallel[i].testPreview, here.testPreview);
  }
  // Reading a finished sequence back loads no images.
  const noLoad = { ...VAE, load: () => assert.fail("a finished sequence is read back without loading its data") };
  const read = await runSequence(noLoad, configs[1], { store });
  assert.deepEqual(timeless(read.records), timeless(parallel[1].records));
  assert.equal(read.resumedFrom, 2);
  assert.equal(storedIterations(VAE, store, configs[0]), 2);
  assert.equal(storedFits(VAE, configs, store), 4);
  assert.equal(storedFits(VAE, [{ ...configs[0], iterations: 1 }, { ...configs[1], iterations: 3 }], store), 1 + 2, "at most the iterations asked for");
  assert.equal(storedFits(VAE, configs, null), 0);
  assert.equal(storedIterations(VAE, store, { ...configs[0], data: `folder:${tempDir("vaeseqs-none")}/missing` }), 0, "no images, no run");
});

test("a folder's run key: the same from a split listed already as from listing the folder, and it changes with the files", () => {
  const dir = tempDir("vaeseqs-folder");
  for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(dir, `face${i}.png`), Buffer.alloc(100 + i));
  const c = { ...SMOKE, data: `folder:${dir}` };
  const listed = vaeDataSource(c);
  assert.deepEqual(listed, { kind: "folder", path: path.resolve(dir), files: 12, bytes: 12 * 100 + 66 });
  assert.deepEqual(vaeDataSource(c, folderSplit(dir, 0.1, c.seed)), listed);
  fs.writeFileSync(path.join(dir, "face12.png"), Buffer.alloc(7));
  assert.notDeepEqual(vaeDataSource(c), listed, "another file, another key");
});
