import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import type { IterationRecord } from "../src/collapse/loop";
import { LM, type LmSequenceConfig, type LmSequenceResult, lmBaseConfig, runLmSequence, runSequence, storedSamples } from "../src/index";
import { validateLmConfig } from "../src/lm/configs";
import { TEXT_MEASURE_KEYS } from "../src/lm/modality";
import { checkTrainConfig, evaluateCrossEntropy } from "../src/lm/train";
import type { RunStore } from "../src/store/runStore";
import { freshStore, tempDir } from "./helpers";
import { disposeParams } from "../src/nn/params";
import { loadParams } from "../src/nn/safetensors";

// runLmSequence at the smoke profile: the run store, resume, strategies, learning curves, stored
// samples and checkpoints. One 3-model replace sequence is trained once and shared by the tests.

const SMOKE = lmBaseConfig("smoke");
const REPLACE: LmSequenceConfig = { ...SMOKE, strategy: "replace", iterations: 3 };

before(async () => {
  await selectBackend();
});

let replaceRun: Promise<{ result: LmSequenceResult; store: RunStore; tensorsBefore: number; tensorsAfter: number }> | null = null;

/** The uninterrupted 3-model replace sequence (trained on first use). */
function uninterrupted() {
  replaceRun ??= (async () => {
    const store = freshStore("lmseq-a");
    const tensorsBefore = tf.memory().numTensors;
    const result = await runLmSequence(REPLACE, { store });
    return { result, store, tensorsBefore, tensorsAfter: tf.memory().numTensors };
  })();
  return replaceRun;
}

/** Records without their wall times (the one part of a record that is not reproducible). */
const timeless = (records: readonly IterationRecord[]) => records.map((r) => ({ ...r, seconds: 0 }));

test("a run trains every model, leaks no tensors, and finishes its run directory", async () => {
  const { result, tensorsBefore, tensorsAfter } = await uninterrupted();
  assert.equal(result.resumedFrom, 0);
  assert.equal(result.records.length, 3);
  for (const r of result.records) assert.ok(Number.isFinite(r.metrics.testCrossEntropy) && r.metrics.testCrossEntropy > 0, `model ${r.iteration}`);
  assert.equal(tensorsAfter, tensorsBefore, "tf.memory().numTensors before and after the run");
  assert.ok(result.runDir && fs.existsSync(path.join(result.runDir, "done.json")));
  assert.ok(!fs.existsSync(path.join(result.runDir, "lock")), "the lock is released");
  assert.equal(result.model.vocabSize, result.tokenizer.vocabSize);
});

test("an interrupted run resumes from its last finished model with bit-identical results", async () => {
  const a = (await uninterrupted()).result;
  const store = freshStore("lmseq-b");
  const tensorsBefore = tf.memory().numTensors;
  let recordsWhenInterrupted = -1;
  await assert.rejects(
    runLmSequence(REPLACE, {
      store,
      onIteration: (r) => {
        if (r.iteration < 2) return;
        const [dir] = fs.readdirSync(path.join(store.root, "lm"));
        recordsWhenInterrupted = fs.readFileSync(path.join(store.root, "lm", dir, "metrics.jsonl"), "utf8").trim().split("\n").length;
        throw new Error("simulated crash after model 2");
      },
    }),
    /simulated crash after model 2/,
  );
  assert.equal(recordsWhenInterrupted, 2, "model 2's record is persisted before onIteration sees it");
  const [dir] = fs.readdirSync(path.join(store.root, "lm"));
  const runDir = path.join(store.root, "lm", dir);
  assert.ok(!fs.existsSync(path.join(runDir, "done.json")), "an interrupted run is not done");
  assert.ok(!fs.existsSync(path.join(runDir, "lock")), "the lock is released on an error");
  assert.ok(fs.existsSync(path.join(runDir, "artifacts", "model-2.safetensors")));
  assert.ok(!fs.existsSync(path.join(runDir, "artifacts", "model-3.safetensors")));

  const fitted: number[] = [];
  const resumed = await runLmSequence(REPLACE, { store, onIteration: (r) => fitted.push(r.iteration) });
  assert.equal(resumed.resumedFrom, 2);
  assert.deepEqual(fitted, [3], "only model 3 is trained again");
  assert.equal(resumed.runDir, runDir);
  assert.deepEqual(
    resumed.records.map((r) => r.metrics.testCrossEntropy),
    a.records.map((r) => r.metrics.testCrossEntropy),
    "test cross-entropy per model, bitwise",
  );
  assert.deepEqual(timeless(resumed.records), timeless(a.records), "whole records (sizes, metrics, learning curves)");
  assert.deepEqual(resumed.tokenizer.toJSON(), a.tokenizer.toJSON());

  // A finished run is read back: nothing is trained.
  const again = await runLmSequence(REPLACE, { store, onFitProgress: () => assert.fail("a finished run must not train") });
  assert.equal(again.resumedFrom, 3);
  assert.deepEqual(again.records, resumed.records);
  assert.equal(tf.memory().numTensors, tensorsBefore, "no tensors leaked by the crash, the resume or the read-back");
});

test("replace trains every model on one synthetic set; accumulate on everything so far", async () => {
  const a = (await uninterrupted()).result;
  assert.deepEqual(a.records.map((r) => r.trainSize), [120, 120, 120]);
  assert.deepEqual(a.records.map((r) => r.realInTrain), [120, 0, 0]);
  // Sizes do not depend on how long each model trains: a few steps and short samples suffice.
  const accumulate = await runLmSequence(
    { ...REPLACE, strategy: "accumulate", train: { ...REPLACE.train, maxSteps: 3 }, sampling: { ...REPLACE.sampling, maxTokens: 24 } },
    { store: null },
  );
  assert.equal(accumulate.runDir, null);
  assert.deepEqual(accumulate.records.map((r) => r.trainSize), [120, 240, 360]);
  assert.deepEqual(accumulate.records.map((r) => r.realInTrain), [120, 120, 120]);
  const sequence = REPLACE.train.sequenceLength!;
  for (const r of accumulate.records) assert.equal(r.metrics.trainTokens, 3 * REPLACE.train.batchSize! * sequence, `model ${r.iteration}: 3 full batches`);
});

test("every record carries its learning curve: steps 1..n, ending at the recorded test cross-entropy", async () => {
  const a = (await uninterrupted()).result;
  for (const r of a.records) {
    const curve = r.curve;
    assert.ok(curve && curve.length > 1, `model ${r.iteration} has a curve`);
    assert.deepEqual(
      curve.map((p) => p.step),
      curve.map((_, i) => i + 1),
      `model ${r.iteration}: steps increase by one from 1`,
    );
    for (const p of curve) assert.ok(Number.isFinite(p.metrics.trainLoss) && p.metrics.learningRate > 0, `model ${r.iteration} step ${p.step}`);
    const tokens = curve.map((p) => p.metrics.tokens);
    assert.ok(tokens.every((t, i) => i === 0 || t > tokens[i - 1]), "tokens seen increase");
    const last = curve[curve.length - 1];
    assert.equal(last.metrics.tokens, r.metrics.trainTokens);
    assert.equal(last.metrics.testCrossEntropy, r.metrics.testCrossEntropy, "final evaluation (on every validation sequence) = the record's");
  }
  // Training lowers the loss on real text (model 1).
  const first = a.records[0].curve!;
  assert.ok(first[first.length - 1].metrics.trainLoss < first[0].metrics.trainLoss - 0.5, "model 1's training loss falls");
});

test("storedSamples decodes the synthetic documents of a stored run", async () => {
  const { result } = await uninterrupted();
  const samples = storedSamples(result.runDir!, result.tokenizer, 1, 5);
  assert.equal(samples.length, 5);
  for (const s of samples) assert.equal(typeof s, "string");
  assert.ok(samples.filter((s) => /[a-z]{2,}/i.test(s)).length >= 3, `mostly non-empty text: ${JSON.stringify(samples)}`);
  assert.ok(!samples.some((s) => s.includes("<|endoftext|>")), "special tokens are skipped");
  assert.equal(storedSamples(result.runDir!, result.tokenizer, 2, 1000).length, REPLACE.trainDocuments, "one synthetic set per model");
  // The last model draws a preview (its first sampling batch), enough to show; continuing the run
  // draws the rest from its checkpoint.
  assert.equal(storedSamples(result.runDir!, result.tokenizer, 3, 1000).length, Math.min(REPLACE.sampling.batchSize!, REPLACE.trainDocuments!), "the last model's preview is kept");
  assert.deepEqual(storedSamples(result.runDir!, result.tokenizer, 4, 5), [], "no model 4 in a 3-iteration run");
});

test("a finished run continues to more iterations exactly as a longer run: the last model's set is drawn from its checkpoint", async () => {
  const store = freshStore("lmseq-extend");
  const short = await runLmSequence({ ...REPLACE, iterations: 2 }, { store });
  const preview = storedSamples(short.runDir!, short.tokenizer, 2, 1000);
  const longer = await runLmSequence(REPLACE, { store });
  assert.equal(longer.resumedFrom, 2);
  assert.equal(longer.runDir, short.runDir, "the same run, continued");
  const direct = (await uninterrupted()).result;
  assert.deepEqual(timeless(longer.records), timeless(direct.records), "records of the continued run, bitwise");
  const full = storedSamples(short.runDir!, short.tokenizer, 2, 1000);
  assert.equal(full.length, REPLACE.trainDocuments, "model 2's whole set, drawn when the run continued");
  assert.deepEqual(full.slice(0, preview.length), preview, "and the preview is its beginning");
});

test("checkpoints load back and reproduce each model's recorded test cross-entropy", async () => {
  const { result } = await uninterrupted();
  const train = checkTrainConfig(result.config.train, result.model);
  const valid = result.validWindows!;
  assert.ok(valid.length > 0);
  const tensorsBefore = tf.memory().numTensors;
  for (const r of result.records) {
    const { params, metadata } = loadParams(path.join(result.runDir!, "artifacts", `model-${r.iteration}.safetensors`));
    try {
      assert.equal(metadata.iteration, String(r.iteration));
      assert.deepEqual(validateLmConfig(JSON.parse(metadata.config)), result.model);
      assert.deepEqual(JSON.parse(metadata.tokenizer), result.tokenizer.toJSON());
      const ce = evaluateCrossEntropy(result.model, params, valid, train.batchSize);
      assert.equal(ce, r.metrics.testCrossEntropy, `model ${r.iteration}: checkpoint CE ${ce} vs recorded ${r.metrics.testCrossEntropy}`);
    } finally {
      disposeParams(params);
    }
  }
  assert.equal(tf.memory().numTensors, tensorsBefore);
});

test("real draws from a modality's pool: the original set, then fresh draws as fixed slices, whatever the call order", async () => {
  const { lmModality } = await import("../src/lm/modality");
  const { realDraw } = await import("../src/collapse/loop");
  const realDocs = Array.from({ length: 10 }, (_, i) => Int32Array.of(i));
  const stub = { eotId: 256 } as unknown as LmSequenceResult["tokenizer"];
  const m = lmModality({ model: {} as LmSequenceResult["model"], tokenizer: stub, realDocs, originalDocs: 4, validWindows: [], train: {} as never, sampling: {} as never });
  const ids = async (draw: number) => (await realDraw(m, { realSize: 4, freshRealSize: 3 }, 0, draw)).docs.map((d) => d[0]);
  assert.deepEqual(await ids(3), [7, 8, 9], "fresh draw 3 comes after the original set and draw 2");
  assert.deepEqual(await ids(1), [0, 1, 2, 3]);
  assert.deepEqual(await ids(2), [4, 5, 6]);
  await assert.rejects(async () => ids(4), /needs 13 real training samples for real draw 4, has 10/);
});

test("a finished sequence is read back from the store alone: no corpus loaded, its tokenizer read on first use", async () => {
  const { result, store } = await uninterrupted();
  const noLoad = { ...LM, load: () => assert.fail("a finished sequence is read back without loading its corpus") };
  const read = await runSequence(noLoad, REPLACE, { store });
  assert.equal(read.resumedFrom, REPLACE.iterations);
  assert.deepEqual(read.records, result.records);
  assert.deepEqual([read.model, read.parameters, read.realData], [result.model, result.parameters, result.realData]);
  assert.deepEqual(read.tokenizer.toJSON(), result.tokenizer.toJSON());
  assert.deepEqual((await runSequence(noLoad, { ...REPLACE, iterations: 2 }, { store })).records, result.records.slice(0, 2), "a prefix of the run");
});

test("sequences that differ only in strategy or sampling share one first model, read back bit-identically", async () => {
  const { result, store } = await uninterrupted();
  const firstRuns = () => fs.readdirSync(path.join(store.root, "lm-first-model"));
  assert.equal(firstRuns().length, 1, "the replace run stored its first model");
  const firstDir = path.join(store.root, "lm-first-model", firstRuns()[0]);
  const tensorsBefore = tf.memory().numTensors;
  const other = await runLmSequence(
    { ...REPLACE, strategy: "accumulate", iterations: 1, sampling: { ...REPLACE.sampling, temperature: 0.5, maxTokens: 16 } },
    { store },
  );
  // The text measures sample at each sequence's own settings; everything the model itself gives is shared.
  const ofModel = (records: readonly IterationRecord[]) =>
    timeless(records).map((r) => ({ ...r, metrics: Object.fromEntries(Object.entries(r.metrics).filter(([k]) => !TEXT_MEASURE_KEYS.includes(k))) }));
  assert.deepEqual(ofModel(other.records), ofModel(result.records.slice(0, 1)), "model 1's record (metrics and learning curve), bitwise");
  assert.notEqual(other.records[0].metrics.distinct2, result.records[0].metrics.distinct2, "sampled at temperature 0.5, not 1");
  assert.equal(firstRuns().length, 1, "no second first model");
  const lines = (f: string) => fs.readFileSync(path.join(firstDir, f), "utf8").trim().split("\n").length;
  assert.equal(lines("sessions.jsonl"), 2, "opened by both sequences");
  assert.equal(lines("metrics.jsonl"), 1, "trained once");
  assert.equal(tf.memory().numTensors, tensorsBefore, "the shared model is loaded and disposed without leaks");
  // A different setting (here: the first model's epochs) trains its own first model.
  await runLmSequence({ ...REPLACE, iterations: 1, firstIterationEpochs: 0.5, sampling: { ...REPLACE.sampling, maxTokens: 16 } }, { store });
  assert.equal(firstRuns().length, 2);
});

test("a sequence waits while another live process trains the same first model", async () => {
  const { spawn } = await import("node:child_process");
  const store = freshStore("lmseq-wait");
  const config: LmSequenceConfig = { ...REPLACE, iterations: 1, train: { ...REPLACE.train, maxSteps: 2 }, sampling: { ...REPLACE.sampling, maxTokens: 8 } };
  const first = await runLmSequence(config, { store });
  const [firstKey] = fs.readdirSync(path.join(store.root, "lm-first-model"));
  // Pretend a live process holds the shared model's lock, then let it go.
  const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"]);
  const lock = path.join(store.root, "lm-first-model", firstKey, "lock");
  fs.writeFileSync(lock, String(holder.pid));
  const messages: string[] = [];
  const started = Date.now();
  setTimeout(() => holder.kill(), 1500);
  const second = await runLmSequence({ ...config, strategy: "accumulate" }, { store, onStatus: (m) => messages.push(m) });
  assert.ok(Date.now() - started >= 1400, "it waited for the holder");
  assert.ok(messages.some((m) => m.includes(`waiting for process ${holder.pid}`)), messages.join("\n"));
  assert.deepEqual(timeless(second.records), timeless(first.records));
});

test("every model's record carries the text measures: valid-word rate, distinct-n, and its text's perplexity under model 1", async () => {
  const { result } = await uninterrupted();
  for (const r of result.records) {
    const m = r.metrics;
    for (const k of ["validWordRate", "distinct1", "distinct2"]) assert.ok(m[k] >= 0 && m[k] <= 1, `model ${r.iteration}: ${k} ${m[k]}`);
    const q = ["Q05", "Q25", "Q50", "Q75", "Q95"].map((s) => m[`firstModelPerplexity${s}`]);
    assert.ok(q.every((x) => Number.isFinite(x) && x >= 1), `model ${r.iteration}: perplexity quantiles ${q}`);
    for (let i = 1; i < q.length; i++) assert.ok(q[i] >= q[i - 1], `quantiles ascend: ${q}`);
  }
  // Even the smoke model 1 (a few dozen steps) writes some real words.
  assert.ok(result.records[0].metrics.validWordRate > 0.1, `model 1 valid-word rate ${result.records[0].metrics.validWordRate}`);
});

test("sized by tokens: the real set is the fewest documents whose tokens reach trainTokens; bad sizes are named", async () => {
  const { trainDocuments: _d, validDocuments: _v, ...rest } = SMOKE;
  const config: LmSequenceConfig = { ...rest, trainTokens: 6000, validTokens: 1500, iterations: 1, textMetricDocuments: 0 };
  const r = await runLmSequence(config, { store: null });
  const { trainDocuments, trainTokens, validTokens } = r.realData;
  assert.ok(trainTokens >= 6000, `${trainTokens} tokens`);
  assert.ok(validTokens >= 1500, `${validTokens} validation tokens`);
  // One document fewer would not have reached the budget: the last one crosses it.
  const lastLength = r.tokenizer.encode("x").length; // a lower bound on any document's tokens
  assert.ok(trainTokens - lastLength - 1 < 6000 + 1000, "not far past the budget");
  assert.equal(r.records[0].trainSize, trainDocuments);
  assert.ok(r.realData.unigramCrossEntropy > r.records[0].metrics.testCrossEntropy - 5);
  await assert.rejects(runLmSequence({ ...config, trainDocuments: 10 }, { store: null }), (e: Error) => /trainTokens: set exactly one of trainTokens and trainDocuments/.test(e.message));
  const file = path.join(tempDir("lm-tokens"), "small.txt");
  fs.writeFileSync(file, Array.from({ length: 40 }, (_, i) => `Story ${i}: the little fox ran home to see the moon.\n<|endoftext|>\n`).join(""));
  await assert.rejects(runLmSequence({ ...config, data: `text:${file}`, trainTokens: 5000, validTokens: 50 }, { store: null }), (e: Error) => /trainTokens: needs 5,000 real training tokens, the corpus holds [\d,]+ \(in \d+ documents\)/.test(e.message));
});
