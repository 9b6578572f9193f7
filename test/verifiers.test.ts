import assert from "node:assert/strict";
import * as fs from "node:fs";
import { before, test } from "node:test";
import { selectBackend } from "../src/backend";
import type { IterationRecord } from "../src/collapse/loop";
import type { Modality } from "../src/collapse/modality";
import { ConfigError } from "../src/errors";
import { LM, MOLECULES, VAE, lmBaseConfig, moleculeBaseConfig, runLmSequence, runMoleculeSequence, runVaeSequence, vaeBaseConfig } from "../src/index";
import { lmConfig } from "../src/lm/configs";
import { concatDocuments, lmModality } from "../src/lm/modality";
import { lmForwardFlopsPerToken } from "../src/lm/plan";
import { checkSamplingConfig } from "../src/lm/sample";
import { loadLmCorpus } from "../src/lm/sequence";
import { checkTrainConfig, windows } from "../src/lm/train";
import { lmFitCompute, windowCount } from "../src/lm/verifiers";
import { moleculeModality } from "../src/molecules/modality";
import { moleculeFitCompute } from "../src/molecules/verifiers";
import { egnnForwardMacs } from "../src/molecules/plan";
import { loadMoleculeData } from "../src/molecules/sequence";
import { checkDiffusionConfig, checkMoleculeTrainConfig } from "../src/molecules/diffusion";
import { checkEgnnConfig } from "../src/molecules/egnn";
import type { ConformationSet } from "../src/molecules/types";
import { examplesVisited } from "../src/nn/fit";
import { Rng } from "../src/random";
import { trainBpe } from "../src/text/bpe";
import { vocabularyOf } from "../src/text/metrics";
import { attributeConfidence, disposeClassifier, trainClassifier } from "../src/vae/classifier";
import { vaeModality } from "../src/vae/modality";
import { vaeFitCompute, vaeForwardMacs } from "../src/vae/plan";
import { classifierFor, loadVaeData } from "../src/vae/sequence";
import { checkVaeTrainConfig } from "../src/vae/train";
import type { ImageSet } from "../src/images/types";
import { freshStore } from "./helpers";

// Curation's verifiers of the three neural modalities (each scores real data above corrupted data),
// their training compute (checked by hand), and one curated smoke sequence per modality.

before(async () => {
  await selectBackend();
});

const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((s, x) => s + x, 0) / xs.length;

/** A verifier of a modality, called as the loop calls it (its model is not used by these verifiers). */
async function verify<D, M>(modality: Modality<D, M>, name: string, data: D): Promise<Float64Array> {
  const verifier = modality.verifiers?.[name];
  assert.ok(verifier, `${modality.name} has a verifier ${name}`);
  return verifier(data, { iteration: 1, model: undefined as unknown as M, rng: Rng.derive(0, "verify") });
}

// ------------------------------------------------------------------------------------------------
// §3.1: reference bigram and valid words

test("LM verifiers: held-out real documents score above the same documents with their tokens shuffled", async () => {
  const c = lmBaseConfig("smoke");
  const corpus = await loadLmCorpus(c, () => {});
  const tokenizer = trainBpe(corpus.train, { vocabSize: c.vocabSize });
  const model = lmConfig(c.model, tokenizer.vocabSize);
  const modality = lmModality({
    model,
    tokenizer,
    realDocs: corpus.train.map((d) => tokenizer.encode(d)),
    originalDocs: corpus.train.length,
    validWindows: [],
    train: checkTrainConfig(c.train, model),
    sampling: checkSamplingConfig({ maxTokens: model.contextLength - 1, ...c.sampling }, model),
    textMetrics: { documents: 0, vocabulary: vocabularyOf(corpus.train) },
  });
  const real = corpus.valid.map((d) => tokenizer.encode(d));
  const rng = Rng.derive(0, "shuffle");
  const shuffled = real.map((d) => Int32Array.from(rng.permutation(d.length), (i) => d[i]));
  for (const name of ["reference", "valid-words"]) {
    const realScores = await verify(modality, name, { docs: real });
    const shuffledScores = await verify(modality, name, { docs: shuffled });
    assert.equal(realScores.length, real.length);
    assert.ok(mean(realScores) > mean(shuffledScores), `${name}: real ${mean(realScores)} vs shuffled ${mean(shuffledScores)}`);
    // Measured on this corpus: reference −3.0 vs −7.0 nats/token, valid-words 0.97 vs 0.30.
    const better = Array.from(realScores).filter((s, i) => s > shuffledScores[i]).length;
    assert.ok(better >= 0.9 * real.length, `${name}: ${better} of ${real.length} documents score above their shuffled copy`);
  }
});

test("LM training compute, by hand: windows of the stream, epochSteps of them, a pass's short last batch", () => {
  const model = lmConfig("gpt2-smoke", 512);
  const docs = [new Int32Array(5), new Int32Array(6)];
  // Stream: 5 + 1 + 6 + 1 = 13 tokens; windows of 4 + 1 tokens start at 0, 4 and 8.
  assert.equal(windowCount(13, 4), 3);
  assert.equal(windows(concatDocuments(docs, 0), 4).length, 3);
  assert.equal(windowCount(4, 4), 0);
  const train = checkTrainConfig({ batchSize: 2, sequenceLength: 4, epochs: 1.5 }, model);
  // Batches per pass ceil(3 / 2) = 2, steps round(2 · 1.5) = 3: one pass (3 windows), then a full batch (2).
  assert.equal(examplesVisited(3, 2, 3), 5);
  const compute = lmFitCompute(model, train, 2, 13, 1.5);
  assert.equal(compute.tokens, 5 * 4);
  assert.equal(compute.examples, (2 * 5) / 3);
  assert.equal(compute.flops, 3 * lmForwardFlopsPerToken(model, 4) * 20);
  // A step cap stops it early: 1 step of 2 windows.
  assert.equal(lmFitCompute(model, { ...train, maxSteps: 1 }, 2, 13, 1.5).tokens, 8);
});

// ------------------------------------------------------------------------------------------------
// §3.3: the attribute classifier's confidence

test("VAE verifier: a trained attribute classifier is more confident on real faces than on noise images; none is an error naming curation.verifier", async () => {
  const c = { ...vaeBaseConfig("smoke"), classifierImages: 512, classifierEpochs: 10 };
  const data = await loadVaeData(c);
  const classifier = classifierFor(c, data);
  try {
    await trainClassifier(classifier, data.classifierSet, { epochs: c.classifierEpochs, batchSize: 64, learningRate: 2e-3 }, Rng.derive(0, "classifier"));
    const model = { ...c.model, imageSize: c.imageSize };
    const options = { model, train: checkVaeTrainConfig(c.train), realTrain: data.train, originalImages: c.trainImages, test: data.test, metricSamples: 0, evalSeed: 0 };
    const modality = vaeModality({ ...options, classifier });
    const rng = Rng.derive(0, "noise");
    const noise: ImageSet = { images: Float32Array.from(data.test.images, () => rng.uniform()), n: data.test.n, height: data.test.height, width: data.test.width };
    const real = await verify(modality, "classifier-confidence", { ...data.test, attributes: undefined });
    const noisy = await verify(modality, "classifier-confidence", noise);
    assert.equal(real.length, data.test.n);
    for (const s of [...real, ...noisy]) assert.ok(s >= 0.5 && s <= 1, `a confidence in [½, 1]: ${s}`);
    // Measured: 0.87 against 0.82 (most attributes are rare, so even noise is confidently "absent").
    assert.ok(mean(real) > mean(noisy) + 0.02, `real ${mean(real)} vs noise ${mean(noisy)}`);
    assert.deepEqual(real, attributeConfidence(classifier, data.test));

    const without = vaeModality(options);
    await assert.rejects(async () => verify(without, "classifier-confidence", data.test), (e) => e instanceof ConfigError && e.field === "curation.verifier");
  } finally {
    disposeClassifier(classifier);
  }
});

test("VAE training compute, by hand: epochSteps batches, the images they visit, 3 × 2 FLOPs per multiply-add", () => {
  const model = { channels: [8, 16], latentDim: 8, likelihood: "bernoulli" as const, imageSize: 16 };
  const macs = vaeForwardMacs(model);
  // 10 images in batches of 4: 3 batches a pass (4, 4, 2); 2 epochs = 6 steps = 2 passes = 20 images.
  const train = checkVaeTrainConfig({ epochs: 2, batchSize: 4 });
  assert.deepEqual(vaeFitCompute(model, train, 10), { examples: 20, flops: 6 * (macs.encoder + macs.decoder) * 20 });
  // Capped at 4 steps: one pass (10), then one batch of 4.
  assert.equal(vaeFitCompute(model, { ...train, maxSteps: 4 }, 10).examples, 14);
});

// ------------------------------------------------------------------------------------------------
// §3.2: bond lengths

test("molecule verifier: real conformations keep their bonds near the real mean lengths, jittered ones do not", async () => {
  const c = moleculeBaseConfig("smoke");
  const data = await loadMoleculeData(c);
  const modality = moleculeModality({
    model: checkEgnnConfig(c.model),
    diffusion: checkDiffusionConfig(c.diffusion),
    train: checkMoleculeTrainConfig(c.train),
    evaluation: { lossRepeats: 1, batchSize: 32, coverageMolecules: 0, generatedPerReference: 1, threshold: 1.25 },
    realTrain: data.train,
    originalSize: data.train.conformers.length,
    test: data.test,
    evaluationSeed: 0,
  });
  const rng = Rng.derive(0, "jitter");
  // 0.1 Å per coordinate: a bond's length moves by about 0.1·√2 Å.
  const jittered: ConformationSet = { molecules: data.test.molecules, conformers: data.test.conformers.map((k) => ({ ...k, xyz: Float32Array.from(k.xyz, (v) => v + 0.1 * rng.normal()) })) };
  const real = await verify(modality, "bond-lengths", data.test);
  const noisy = await verify(modality, "bond-lengths", jittered);
  assert.equal(real.length, data.test.conformers.length);
  // Measured on the smoke set: 1.00 against 0.45.
  assert.ok(mean(real) > 0.95, `held-out real conformations: ${mean(real)}`);
  assert.ok(mean(real) > mean(noisy) + 0.3, `real ${mean(real)} vs jittered ${mean(noisy)}`);
});

test("molecule training compute, by hand: steps × min(batch, set), 3 × 2 FLOPs per multiply-add of the set's conformers", () => {
  const model = checkEgnnConfig({ hidden: 8, layers: 1, bondEmbedding: 4, timeFeatures: 4, rbf: 4 });
  const molecule = (atoms: number) => ({ smiles: "C".repeat(atoms), atomicNumbers: new Uint8Array(atoms).fill(6), bonds: new Int32Array(0), bondOrders: new Uint8Array(0) });
  const set: ConformationSet = {
    molecules: [molecule(3), molecule(5)],
    conformers: [
      { molecule: 0, xyz: new Float32Array(9) },
      { molecule: 1, xyz: new Float32Array(15) },
      { molecule: 1, xyz: new Float32Array(15) },
    ],
  };
  const perConformer = (egnnForwardMacs(model, 3) + 2 * egnnForwardMacs(model, 5)) / 3;
  // Batches of 8 from 3 conformers take all 3 every step.
  const compute = moleculeFitCompute(model, [set], 10, 8);
  assert.equal(compute.examples, 30);
  assert.ok(Math.abs(compute.flops! - 6 * perConformer * 30) < 1e-6 * compute.flops!);
  assert.equal(moleculeFitCompute(model, [set], 10, 2).examples, 20);
});

// ------------------------------------------------------------------------------------------------
// Curated smoke sequences

/** Records of a curated 2-model sequence: the first drew twice what it kept, and compute grows. */
function checkCurated(records: readonly IterationRecord[]): void {
  assert.equal(records.length, 2);
  const [first, second] = records;
  assert.ok(first.curation, "model 1's record says what curation drew and kept");
  assert.equal(first.curation.drawn, 2 * first.curation.kept);
  // A stored run's last model draws its set for a later continuation (curated too), or only a
  // preview where its checkpoint can draw the rest then (a preview is not curated).
  if (second.curation) assert.equal(second.curation.drawn, 2 * second.curation.kept);
  assert.ok(first.compute && second.compute);
  assert.ok(first.compute.examples > 0 && second.compute.examples > first.compute.examples);
  assert.ok(first.compute.flops! > 0 && second.compute.flops! > first.compute.flops!);
}

test("a curated LM sequence keeps half of what it drew; compute's tokens are the tokens each model trained on", async () => {
  const c = { ...lmBaseConfig("smoke"), trainDocuments: 40, validDocuments: 10, textMetricDocuments: 0, strategy: "accumulate" as const, iterations: 2, curation: { verifier: "valid-words", keep: 0.5 } };
  const result = await runLmSequence(c, { store: freshStore("verifiers-lm") });
  checkCurated(result.records);
  assert.equal(result.records[0].curation!.kept, 40);
  const [first, second] = result.records;
  assert.equal(first.compute!.tokens, first.metrics.trainTokens);
  assert.equal(second.compute!.tokens! - first.compute!.tokens!, second.metrics.trainTokens);
});

test("the LM's first-model verifier: model 1's samples are scored by model 1 itself, later ones by model 1 read back; a real share of 1 counts later fits' epochs as theirs, not model 1's", async () => {
  const base = { ...lmBaseConfig("smoke"), trainDocuments: 40, validDocuments: 10, textMetricDocuments: 4, iterations: 3, firstIterationEpochs: 2 };
  const curated = await runLmSequence({ ...base, strategy: "replace", curation: { verifier: "first-model", keep: 0.5 } }, { store: freshStore("verifiers-lm-first") });
  assert.deepEqual(curated.records.slice(0, 2).map((r) => r.curation), [{ drawn: 80, kept: 40 }, { drawn: 80, kept: 40 }]);
  // Under a real share of 1 every fit trains on the same 40 documents: models 2 and 3 at the configured epochs, model 1 at its own.
  const shared = await runLmSequence({ ...base, strategy: "replace", realShare: 1 }, { store: freshStore("verifiers-lm-share") });
  const [t1, t2, t3] = shared.records.map((r) => r.compute!.tokens!);
  assert.equal(t2 - t1, shared.records[1].metrics.trainTokens);
  assert.equal(t3 - t2, shared.records[2].metrics.trainTokens);
  assert.notEqual(shared.records[0].metrics.trainTokens, shared.records[1].metrics.trainTokens, "model 1 trains for its own epochs");
});

test("a curated VAE sequence keeps half of what it drew; compute grows with the pool", async () => {
  const result = await runVaeSequence({ ...vaeBaseConfig("smoke"), strategy: "accumulate", iterations: 2, metricSamples: 0, curation: { verifier: "classifier-confidence", keep: 0.5 } }, { store: freshStore("verifiers-vae") });
  checkCurated(result.records);
  assert.equal(result.records[0].curation!.kept, 64);
});

test("a curated molecule sequence keeps half of what it drew; compute's examples are the fit's steps × batch", async () => {
  const c = { ...moleculeBaseConfig("smoke"), strategy: "accumulate" as const, iterations: 2, evaluation: { ...moleculeBaseConfig("smoke").evaluation, coverageMolecules: 0 }, curation: { verifier: "bond-lengths", keep: 0.5 } };
  const result = await runMoleculeSequence(c, { store: freshStore("verifiers-mol") });
  checkCurated(result.records);
  const batch = c.train.batchSize!;
  const [first, second] = result.records;
  assert.equal(first.compute!.examples, first.metrics.trainSteps * Math.min(batch, first.trainSize));
  assert.equal(second.compute!.examples - first.compute!.examples, second.metrics.trainSteps * Math.min(batch, second.trainSize));
});

test("an unknown verifier is a ConfigError naming curation.verifier before any work; so is classifier-confidence without a trained classifier", async () => {
  const cases: [string, () => Promise<unknown>][] = [
    ["lm", () => runLmSequence({ ...lmBaseConfig("smoke"), curation: { verifier: "perplexity", keep: 0.5 } }, { store })],
    ["vae", () => runVaeSequence({ ...vaeBaseConfig("smoke"), curation: { verifier: "bond-lengths", keep: 0.5 } }, { store })],
    ["molecules", () => runMoleculeSequence({ ...moleculeBaseConfig("smoke"), curation: { verifier: "valid-words", keep: 0.5 } }, { store })],
    ["vae without a classifier", () => runVaeSequence({ ...vaeBaseConfig("smoke"), classifierEpochs: 0, curation: { verifier: "classifier-confidence", keep: 0.5 } }, { store })],
  ];
  const store = freshStore("verifiers-unknown");
  for (const [what, run] of cases) {
    await assert.rejects(run, (e) => e instanceof ConfigError && e.field === "curation.verifier", what);
  }
  assert.deepEqual(fs.readdirSync(store.root), [], "no run was opened");
  // Every spec names its verifiers, one line each.
  for (const spec of [LM, VAE, MOLECULES]) {
    for (const [name, line] of Object.entries(spec.verifiers ?? {})) assert.ok(line.length > 20 && !line.includes("\n"), `${spec.name} ${name}`);
  }
  assert.deepEqual(Object.keys(LM.verifiers!), ["reference", "valid-words", "first-model"]);
  assert.deepEqual(Object.keys(VAE.verifiers!), ["classifier-confidence"]);
  assert.deepEqual(Object.keys(MOLECULES.verifiers!), ["bond-lengths"]);
});
