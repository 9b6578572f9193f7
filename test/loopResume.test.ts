import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { type IterationRecord, runCollapse } from "../src/collapse/loop";
import type { Modality } from "../src/collapse/modality";
import { type LoopConfig, STRATEGIES, type Strategy } from "../src/collapse/strategies";
import { DataError } from "../src/errors";
import { type LinearData, type LinearModel, linearModality } from "../src/linear/modality";
import { type LinearProblem, createLinearProblem } from "../src/linear/problem";
import { Rng } from "../src/random";
import { type Run, RunStore } from "../src/store/runStore";
import { freshStore as freshStoreIn } from "./helpers";

const freshStore = () => freshStoreIn("resume");

const SEED = 4242;

function problem(testSamples = 25): LinearProblem {
  return createLinearProblem({ d: 3, T: 12, sigma2: 1, ridge: 0, covariance: "isotropic", testSamples }, Rng.derive(SEED, "problem"));
}

/** The modality with fit replaced at one iteration (a crash mid-run). */
function failingAt(base: Modality<LinearData, LinearModel>, iteration: number): Modality<LinearData, LinearModel> {
  return {
    ...base,
    fit: (train, ctx) => {
      if (ctx.iteration === iteration) throw new Error(`simulated crash in fit ${iteration}`);
      return base.fit(train, ctx);
    },
  };
}

function openRun(store: RunStore, loop: LoopConfig): Run {
  return store.open("resume-test", { loop, seed: SEED });
}

function stripSeconds(records: IterationRecord[]) {
  return records.map(({ seconds: _s, ...rest }) => rest);
}

function assertBitwiseEqual(actual: IterationRecord[], expected: IterationRecord[], what: string) {
  assert.equal(actual.length, expected.length, what);
  // deepStrictEqual compares numbers with Object.is: bitwise for everything but NaN payloads
  assert.deepEqual(stripSeconds(actual), stripSeconds(expected), what);
  for (let i = 0; i < actual.length; i++) {
    for (const [k, v] of Object.entries(expected[i].metrics)) {
      const a = new Float64Array([actual[i].metrics[k]]);
      const b = new Float64Array([v]);
      assert.deepEqual(new Uint8Array(a.buffer), new Uint8Array(b.buffer), `${what}: iteration ${i + 1} ${k}`);
    }
  }
}

const CASES: [string, LoopConfig][] = [
  ["accumulate", { strategy: "accumulate", iterations: 6, realSize: 12 }],
  ["replace", { strategy: "replace", iterations: 6, realSize: 12 }],
  ["accumulate-subsample", { strategy: "accumulate-subsample", iterations: 6, realSize: 12 }],
  ["accumulate + fresh real", { strategy: "accumulate", iterations: 6, realSize: 12, freshRealSize: 6 }],
  ["replace + fresh real", { strategy: "replace", iterations: 6, realSize: 12, freshRealSize: 12 }],
  ["accumulate-subsample + fresh real", { strategy: "accumulate-subsample", iterations: 6, realSize: 12, freshRealSize: 5 }],
  ["replace-multiple", { strategy: "replace-multiple", iterations: 6, realSize: 12, syntheticSizes: [12, 7, 12, 3, 12] }],
  ["augment + fresh real", { strategy: "augment", iterations: 6, realSize: 12, freshRealSize: 4 }],
];

for (const [name, loop] of CASES) {
  test(`resume after a crash at iteration 4 reproduces the uninterrupted run bitwise: ${name}`, async () => {
    const p = problem();
    const modality = linearModality(p);

    // in memory
    const memory = await runCollapse({ modality, seed: SEED, loop });
    assert.equal(memory.records.length, 6);

    // uninterrupted, persisted
    const storeA = freshStore();
    const runA = openRun(storeA, loop);
    const full = await runCollapse({ modality, seed: SEED, loop, run: runA });
    runA.close();
    assert.equal(full.resumedFrom, 0);
    assertBitwiseEqual(full.records, memory.records, "store vs memory");
    assertBitwiseEqual(runA.records<IterationRecord>(), memory.records, "stored records");

    // interrupted at iteration 4, then resumed
    const storeB = freshStore();
    const runB1 = openRun(storeB, loop);
    await assert.rejects(runCollapse({ modality: failingAt(modality, 4), seed: SEED, loop, run: runB1 }), /simulated crash in fit 4/);
    runB1.close();
    assert.deepEqual(
      runB1.records<IterationRecord>().map((r) => r.iteration),
      [1, 2, 3],
    );
    assert.deepEqual(fs.readdirSync(path.join(runB1.dir, "artifacts")).sort(), ["synthetic-1.bin", "synthetic-2.bin", "synthetic-3.bin"]);

    const runB2 = openRun(storeB, loop);
    assert.equal(runB2.dir, runB1.dir);
    const fitted: number[] = [];
    const resumed = await runCollapse({
      modality: { ...modality, fit: (train, ctx) => (fitted.push(ctx.iteration), modality.fit(train, ctx)) },
      seed: SEED,
      loop,
      run: runB2,
    });
    runB2.close();
    assert.equal(resumed.resumedFrom, 3);
    assert.deepEqual(fitted, [4, 5, 6], "only the unfinished iterations are fit again");
    assertBitwiseEqual(resumed.records, memory.records, "resumed vs uninterrupted");
    assertBitwiseEqual(runB2.records<IterationRecord>(), memory.records, "resumed store");

    // the persisted synthetic sets are identical byte for byte
    for (let m = 1; m <= 5; m++) {
      assert.deepEqual(runB2.readArtifact(`synthetic-${m}.bin`), runA.readArtifact(`synthetic-${m}.bin`), `synthetic-${m}`);
    }
    assert.equal(runA.readArtifact("synthetic-6.bin"), null, "the last model is not sampled");

    // opening the finished run again does no work
    const runB3 = openRun(storeB, loop);
    const noop = await runCollapse({ modality: failingAt(failingAt(modality, 1), 6), seed: SEED, loop, run: runB3 });
    runB3.close();
    assert.equal(noop.resumedFrom, 6);
    assertBitwiseEqual(noop.records, memory.records, "reopened finished run");
  });
}

test("resume is exact at every crash point (accumulate-subsample with fresh real data)", async () => {
  const loop: LoopConfig = { strategy: "accumulate-subsample", iterations: 5, realSize: 12, freshRealSize: 3 };
  const modality = linearModality(problem());
  const reference = await runCollapse({ modality, seed: SEED, loop });
  for (let crash = 1; crash <= 5; crash++) {
    const store = freshStore();
    const r1 = openRun(store, loop);
    await assert.rejects(runCollapse({ modality: failingAt(modality, crash), seed: SEED, loop, run: r1 }));
    r1.close();
    const r2 = openRun(store, loop);
    const resumed = await runCollapse({ modality, seed: SEED, loop, run: r2 });
    r2.close();
    assert.equal(resumed.resumedFrom, crash - 1);
    assertBitwiseEqual(resumed.records, reference.records, `crash at ${crash}`);
  }
});

test("a crash between writing a synthetic set and its record is recovered exactly", async () => {
  const loop: LoopConfig = { strategy: "accumulate", iterations: 6, realSize: 12 };
  const modality = linearModality(problem());
  const reference = await runCollapse({ modality, seed: SEED, loop });
  const store = freshStore();
  const r1 = openRun(store, loop);
  // A view of the run whose append fails for iteration 4 (after synthetic-4.bin was written).
  const crashing = Object.create(r1) as Run;
  crashing.append = (record: unknown) => {
    if ((record as IterationRecord).iteration === 4) throw new Error("simulated crash in append");
    r1.append(record);
  };
  await assert.rejects(runCollapse({ modality, seed: SEED, loop, run: crashing }), /simulated crash in append/);
  r1.close();
  assert.equal(r1.records().length, 3);
  assert.ok(r1.readArtifact("synthetic-4.bin") !== null, "the synthetic set was persisted before the record");
  const r2 = openRun(store, loop);
  const resumed = await runCollapse({ modality, seed: SEED, loop, run: r2 });
  r2.close();
  assert.equal(resumed.resumedFrom, 3);
  assertBitwiseEqual(resumed.records, reference.records, "after append crash");
});

test("a NaN metric stops the run with an error naming the iteration; earlier records are kept", async () => {
  const loop: LoopConfig = { strategy: "accumulate", iterations: 6, realSize: 12 };
  const base = linearModality(problem());
  const disposed: number[] = [];
  const calls: number[] = [];
  const nanAt4: Modality<LinearData, LinearModel> = {
    ...base,
    evaluate: (w, rng) => {
      const m = base.evaluate(w, rng) as Record<string, number>;
      return calls.push(1) === 4 ? { ...m, testError: NaN } : m;
    },
    dispose: () => {
      disposed.push(calls.length);
    },
  };
  const store = freshStore();
  const run = openRun(store, loop);
  const seen: number[] = [];
  await assert.rejects(
    runCollapse({ modality: nanAt4, seed: SEED, loop, run, onIteration: (r) => seen.push(r.iteration) }),
    (e: unknown) => e instanceof Error && /iteration 4/.test(e.message) && /testError/.test(e.message) && /NaN/.test(e.message),
  );
  run.close();
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual(disposed, [1, 2, 3, 4], "the failing model is still disposed");
  const kept = run.records<IterationRecord>();
  assert.deepEqual(
    kept.map((r) => r.iteration),
    [1, 2, 3],
  );
  const reference = await runCollapse({ modality: base, seed: SEED, loop });
  assertBitwiseEqual(kept, reference.records.slice(0, 3), "kept records");
  assert.equal(run.readArtifact("synthetic-4.bin"), null, "no synthetic set from the rejected model");

  // Infinity is rejected the same way
  const infAt1: Modality<LinearData, LinearModel> = {
    ...base,
    evaluate: (w, rng) => ({ ...(base.evaluate(w, rng) as Record<string, number>), extra: Infinity }),
  };
  await assert.rejects(runCollapse({ modality: infAt1, seed: SEED, loop }), /iteration 1: metric extra is Infinity/);
});

test("a missing synthetic artifact for a finished iteration is a DataError naming it", async () => {
  const loop: LoopConfig = { strategy: "accumulate", iterations: 6, realSize: 12 };
  const modality = linearModality(problem());
  const store = freshStore();
  const r1 = openRun(store, loop);
  await assert.rejects(runCollapse({ modality: failingAt(modality, 4), seed: SEED, loop, run: r1 }));
  r1.close();
  fs.rmSync(r1.artifactPath("synthetic-2.bin"));
  const r2 = openRun(store, loop);
  await assert.rejects(
    runCollapse({ modality, seed: SEED, loop, run: r2 }),
    (e: unknown) => e instanceof DataError && e.path === r2.artifactPath("synthetic-2.bin") && /iteration 2/.test(e.message),
  );
  r2.close();
  // replace only needs the newest set to train, but the pool is rebuilt completely, so this fails too
  const loopR: LoopConfig = { strategy: "replace", iterations: 6, realSize: 12 };
  const r3 = openRun(store, loopR);
  await assert.rejects(runCollapse({ modality: failingAt(modality, 5), seed: SEED, loop: loopR, run: r3 }));
  r3.close();
  fs.rmSync(r3.artifactPath("synthetic-1.bin"));
  const r4 = openRun(store, loopR);
  await assert.rejects(runCollapse({ modality, seed: SEED, loop: loopR, run: r4 }), (e: unknown) => e instanceof DataError && e.path === r4.artifactPath("synthetic-1.bin"));
  r4.close();
});

test("a corrupt synthetic artifact is a DataError from the codec", async () => {
  const loop: LoopConfig = { strategy: "accumulate", iterations: 4, realSize: 12 };
  const modality = linearModality(problem());
  const store = freshStore();
  const r1 = openRun(store, loop);
  await assert.rejects(runCollapse({ modality: failingAt(modality, 3), seed: SEED, loop, run: r1 }));
  r1.close();
  const p = r1.artifactPath("synthetic-1.bin");
  fs.writeFileSync(p, fs.readFileSync(p).subarray(0, 40));
  const r2 = openRun(store, loop);
  await assert.rejects(runCollapse({ modality, seed: SEED, loop, run: r2 }), DataError);
  r2.close();
});

test("a store holding records out of order, or more than configured, is a DataError", async () => {
  const loop: LoopConfig = { strategy: "replace", iterations: 3, realSize: 12 };
  const modality = linearModality(problem());
  const store = freshStore();
  const r1 = openRun(store, loop);
  r1.append({ iteration: 2, trainSize: 12, realInTrain: 0, metrics: {}, seconds: 0 });
  await assert.rejects(runCollapse({ modality, seed: SEED, loop, run: r1 }), (e: unknown) => e instanceof DataError && /record 1 is for iteration 2/.test(e.message));
  r1.close();

  const short: LoopConfig = { strategy: "replace", iterations: 2, realSize: 12 };
  const full = { strategy: "replace", iterations: 4, realSize: 12 } as LoopConfig;
  const r2 = store.open("resume-test", { shared: true });
  await runCollapse({ modality, seed: SEED, loop: full, run: r2 });
  await assert.rejects(runCollapse({ modality, seed: SEED, loop: short, run: r2 }), (e: unknown) => e instanceof DataError && /more than the 2 configured/.test(e.message));
  r2.close();
});

test("a run store needs a codec", async () => {
  const { codec: _c, ...noCodec } = linearModality(problem());
  const store = freshStore();
  const run = store.open("resume-test", { codec: false });
  await assert.rejects(runCollapse({ modality: noCodec, seed: SEED, loop: { strategy: "replace", iterations: 2, realSize: 12 }, run }), /has no codec/);
  assert.deepEqual(run.records(), []);
  run.close();
});

test("prefix property: 10 iterations and 4 iterations with the same seed agree on the first 4", async () => {
  const modality = linearModality(problem());
  for (const strategy of STRATEGIES as readonly Strategy[]) {
    for (const freshRealSize of [0, 6]) {
      const loop = { strategy, realSize: 12, freshRealSize };
      const long = await runCollapse({ modality, seed: SEED, loop: { ...loop, iterations: 10 } });
      const short = await runCollapse({ modality, seed: SEED, loop: { ...loop, iterations: 4 } });
      assert.equal(long.records.length, 10);
      assertBitwiseEqual(short.records, long.records.slice(0, 4), `${strategy} fresh=${freshRealSize}`);
      // and a different seed gives a different sequence
      const other = await runCollapse({ modality, seed: SEED + 1, loop: { ...loop, iterations: 4 } });
      assert.notDeepEqual(
        other.records.map((r) => r.metrics.testError),
        short.records.map((r) => r.metrics.testError),
      );
    }
  }
});

test("the linear loop's records: train sizes and the first model's error", async () => {
  const p = problem(0);
  const modality = linearModality(p);
  const acc = await runCollapse({ modality, seed: SEED, loop: { strategy: "accumulate", iterations: 4, realSize: 12, freshRealSize: 6 } });
  assert.deepEqual(
    acc.records.map((r) => [r.trainSize, r.realInTrain]),
    [
      [12, 12],
      [30, 18],
      [48, 24],
      [66, 30],
    ],
  );
  assert.deepEqual(Object.keys(acc.records[0].metrics), ["testError"]);
  // every strategy fits model 1 on the same real data, so model 1's error is the same
  const first = new Set<number>();
  for (const strategy of STRATEGIES) {
    const { records } = await runCollapse({ modality, seed: SEED, loop: { strategy, iterations: 2, realSize: 12 } });
    first.add(records[0].metrics.testError);
  }
  assert.equal(first.size, 1);
});

test("an extendable run continues to more iterations and reads back fewer, identically to direct runs", async () => {
  const modality = linearModality(problem());
  for (const strategy of ["replace", "accumulate", "replace-multiple", "accumulate-subsample"] as Strategy[]) {
    const direct = await runCollapse({ modality, seed: SEED, loop: { strategy, iterations: 5, realSize: 12 } });
    const store = freshStore();
    // Keyed without `iterations`, as the language-model runs are.
    const open = () => store.open("extend-test", { strategy });
    const r1 = open();
    const two = await runCollapse({ modality, seed: SEED, loop: { strategy, iterations: 2, realSize: 12 }, run: r1, extendable: true });
    r1.close();
    assert.ok(r1.readArtifact("synthetic-2.bin"), "the last model's samples are kept for a continuation");
    const r2 = open();
    const five = await runCollapse({ modality, seed: SEED, loop: { strategy, iterations: 5, realSize: 12 }, run: r2, extendable: true });
    r2.close();
    assert.equal(two.records.length, 2);
    assert.equal(five.resumedFrom, 2, strategy);
    assert.deepEqual(five.records.map((r) => r.metrics), direct.records.map((r) => r.metrics), strategy);
    const r3 = open();
    let fitted = false;
    const three = await runCollapse({ modality: { ...modality, fit: (p, c) => ((fitted = true), modality.fit(p, c)) }, seed: SEED, loop: { strategy, iterations: 3, realSize: 12 }, run: r3, extendable: true });
    r3.close();
    assert.equal(fitted, false, "a prefix is read back, nothing is refit");
    assert.deepEqual(three.records.map((r) => r.metrics), direct.records.slice(0, 3).map((r) => r.metrics));
  }
});

test("with a model to read back, the last model draws only a preview; continuing draws its set from that model, identically", async () => {
  const base = linearModality(problem());
  // The linear sampler draws row after row from one generator: its first rows begin any larger draw.
  const modality: Modality<LinearData, LinearModel> = { ...base, previewSize: 5 };
  for (const strategy of ["replace", "accumulate"] as Strategy[]) {
    const direct = await runCollapse({ modality: base, seed: SEED, loop: { strategy, iterations: 4, realSize: 12 } });
    const store = freshStore();
    const models = new Map<number, LinearModel>();
    const keep = (n: number, m: LinearModel) => void models.set(n, m);
    const r1 = store.open("preview-test", { strategy });
    await runCollapse({ modality, seed: SEED, loop: { strategy, iterations: 2, realSize: 12 }, run: r1, extendable: true, onModel: keep, restore: (n) => models.get(n) ?? null });
    r1.close();
    assert.equal(modality.codec!.decode(r1.readArtifact("synthetic-2.bin")!).y.length, 5, "model 2 drew a preview");
    // Without the model, the run cannot continue, and says why.
    const r2 = store.open("preview-test", { strategy });
    await assert.rejects(
      runCollapse({ modality, seed: SEED, loop: { strategy, iterations: 4, realSize: 12 }, run: r2, extendable: true, restore: () => null }),
      (e: unknown) => e instanceof DataError && /synthetic-2\.bin/.test(e.message) && /checkpoint/.test(e.message),
    );
    r2.close();
    const r3 = store.open("preview-test", { strategy });
    const four = await runCollapse({ modality, seed: SEED, loop: { strategy, iterations: 4, realSize: 12 }, run: r3, extendable: true, onModel: keep, restore: (n) => models.get(n) ?? null });
    r3.close();
    assert.equal(four.resumedFrom, 2);
    assert.deepEqual(stripSeconds(four.records), stripSeconds(direct.records), strategy);
    assert.equal(modality.codec!.decode(r3.readArtifact("synthetic-2.bin")!).y.length, 12, "model 2's whole set, drawn on continuing");
  }
});
