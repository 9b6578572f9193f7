import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../src/errors";
import { runCollapse } from "../src/collapse/loop";
import type { Modality } from "../src/collapse/modality";
import {
  type LoopConfig,
  type Part,
  type Pool,
  STRATEGIES,
  type Strategy,
  checkLoopConfig,
  samplesToDraw,
  scheduledSyntheticSize,
  trainingParts,
} from "../src/collapse/strategies";
import { configErrorField } from "./helpers";

// ---------------------------------------------------------------------------------------------
// trainingParts on a hand-built pool whose data are just names

function realPart(generation: number): Part<string> {
  return { data: `R${generation}`, origin: "real", generation };
}
function synthPart(generation: number): Part<string> {
  return { data: `S${generation}`, origin: "synthetic", generation };
}

/** The pool as it stands before fitting model `upTo` (synthetic 1..upTo-1, fresh real 2..upTo if asked). */
function pool(upTo: number, fresh: boolean): Pool<string> {
  const real = [realPart(1)];
  if (fresh) for (let k = 2; k <= upTo; k++) real.push(realPart(k));
  const synthetic: Part<string>[] = [];
  for (let m = 1; m < upTo; m++) synthetic.push(synthPart(m));
  return { real, synthetic };
}

function names(parts: readonly Part<string>[]): string[] {
  return parts.map((p) => p.data);
}

/** What each strategy must train model n on, by part name, in order. */
function expectedParts(strategy: Strategy, n: number, fresh: boolean): string[] {
  if (n === 1) return ["R1"];
  const F = fresh ? [`R${n}`] : [];
  const allFresh = fresh ? Array.from({ length: n - 1 }, (_, i) => `R${i + 2}`) : [];
  const allSynth = Array.from({ length: n - 1 }, (_, i) => `S${i + 1}`);
  switch (strategy) {
    case "replace":
    case "replace-multiple":
    case "replace-matched-compute":
      return [`S${n - 1}`, ...F];
    case "augment":
      return ["R1", `S${n - 1}`, ...F];
    case "accumulate":
    case "accumulate-subsample":
      return ["R1", ...allFresh, ...allSynth];
  }
}

test("trainingParts: exact parts per strategy and iteration, without fresh real data", () => {
  for (const strategy of STRATEGIES) {
    for (let n = 1; n <= 6; n++) {
      const parts = trainingParts(strategy, n, pool(n, false));
      assert.deepEqual(names(parts), expectedParts(strategy, n, false), `${strategy} n=${n}`);
    }
  }
  // spelled out for the two strategies of the paper
  assert.deepEqual(names(trainingParts("replace", 4, pool(4, false))), ["S3"]);
  assert.deepEqual(names(trainingParts("accumulate", 4, pool(4, false))), ["R1", "S1", "S2", "S3"]);
  assert.deepEqual(names(trainingParts("augment", 4, pool(4, false))), ["R1", "S3"]);
});

test("trainingParts: exact parts per strategy and iteration, with fresh real data", () => {
  for (const strategy of STRATEGIES) {
    for (let n = 1; n <= 6; n++) {
      const parts = trainingParts(strategy, n, pool(n, true));
      assert.deepEqual(names(parts), expectedParts(strategy, n, true), `${strategy} n=${n}`);
    }
  }
  assert.deepEqual(names(trainingParts("replace", 3, pool(3, true))), ["S2", "R3"]);
  assert.deepEqual(names(trainingParts("augment", 3, pool(3, true))), ["R1", "S2", "R3"]);
  assert.deepEqual(names(trainingParts("accumulate", 3, pool(3, true))), ["R1", "R2", "R3", "S1", "S2"]);
});

test("trainingParts ignores data from later iterations already in the pool", () => {
  const big = pool(8, true); // fresh real up to R8, synthetic up to S7
  for (const strategy of STRATEGIES) {
    for (let n = 1; n <= 8; n++) {
      assert.deepEqual(names(trainingParts(strategy, n, big)), expectedParts(strategy, n, true), `${strategy} n=${n}`);
    }
  }
});

test("trainingParts returns the pool's Part objects themselves (provenance kept)", () => {
  const p = pool(3, true);
  const parts = trainingParts("accumulate", 3, p);
  assert.equal(parts[0], p.real[0]);
  assert.equal(parts[3], p.synthetic[0]);
  for (const part of parts) assert.equal(part.origin, part.data.startsWith("R") ? "real" : "synthetic");
});

test("trainingParts throws when the newest synthetic set is missing", () => {
  for (const strategy of STRATEGIES) {
    assert.throws(() => trainingParts(strategy, 3, pool(2, false)), /no synthetic data from model 2 for iteration 3/);
  }
});

// ---------------------------------------------------------------------------------------------
// schedules

test("samplesToDraw: replace-multiple grows as realSize + Σ sizes (constant schedule)", () => {
  const cfg = checkLoopConfig({ strategy: "replace-multiple", iterations: 6, realSize: 10 });
  assert.equal(cfg.syntheticSizes, 10);
  assert.deepEqual([1, 2, 3, 4, 5].map((m) => samplesToDraw(cfg, m)), [20, 30, 40, 50, 60]);
  const cfg2 = checkLoopConfig({ strategy: "replace-multiple", iterations: 4, realSize: 10, syntheticSizes: 5 });
  assert.deepEqual([1, 2, 3].map((m) => samplesToDraw(cfg2, m)), [15, 20, 25]);
});

test("samplesToDraw: replace-multiple grows as realSize + Σ sizes (list schedule)", () => {
  const cfg = checkLoopConfig({ strategy: "replace-multiple", iterations: 5, realSize: 10, syntheticSizes: [3, 5, 7, 11] });
  assert.deepEqual([1, 2, 3, 4].map((m) => samplesToDraw(cfg, m)), [13, 18, 25, 36]);
  // fresh real data do not change replace-multiple's draw
  const fresh = checkLoopConfig({ strategy: "replace-multiple", iterations: 5, realSize: 10, syntheticSizes: [3, 5, 7, 11], freshRealSize: 4 });
  assert.deepEqual([1, 2, 3, 4].map((m) => samplesToDraw(fresh, m)), [13, 18, 25, 36]);
});

test("samplesToDraw: other strategies draw the scheduled size", () => {
  for (const strategy of STRATEGIES.filter((s) => s !== "replace-multiple")) {
    const constant = checkLoopConfig({ strategy, iterations: 5, realSize: 10 });
    assert.deepEqual([1, 2, 3, 4].map((m) => samplesToDraw(constant, m)), [10, 10, 10, 10], strategy);
    const list = checkLoopConfig({ strategy, iterations: 5, realSize: 10, syntheticSizes: [3, 5, 7, 11, 99] });
    assert.deepEqual([1, 2, 3, 4].map((m) => samplesToDraw(list, m)), [3, 5, 7, 11], strategy);
    assert.deepEqual([1, 2, 3, 4].map((m) => scheduledSyntheticSize(list, m)), [3, 5, 7, 11], strategy);
  }
});

// ---------------------------------------------------------------------------------------------
// config validation


test("checkLoopConfig fills defaults", () => {
  assert.deepEqual(checkLoopConfig({ strategy: "accumulate", iterations: 3, realSize: 7 }), {
    strategy: "accumulate",
    iterations: 3,
    realSize: 7,
    syntheticSizes: 7,
    freshRealSize: 0,
  });
  // a list exactly iterations - 1 long is enough; a single iteration needs none
  assert.deepEqual(checkLoopConfig({ strategy: "replace", iterations: 3, realSize: 7, syntheticSizes: [1, 2] }).syntheticSizes, [1, 2]);
  assert.deepEqual(checkLoopConfig({ strategy: "replace", iterations: 1, realSize: 7, syntheticSizes: [] }).syntheticSizes, []);
});

test("checkLoopConfig rejects bad fields, naming them", () => {
  const ok: LoopConfig = { strategy: "replace", iterations: 5, realSize: 10 };
  const bad = (patch: Record<string, unknown>) => ({ ...ok, ...patch }) as unknown as LoopConfig;
  assert.equal(configErrorField(() => checkLoopConfig(bad({ strategy: "foo" }))), "strategy");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ strategy: undefined }))), "strategy");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ iterations: 0 }))), "iterations");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ iterations: 2.5 }))), "iterations");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ iterations: "5" }))), "iterations");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ realSize: 0 }))), "realSize");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ syntheticSizes: [10, 10, 10] }))), "syntheticSizes");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ syntheticSizes: [10, 0, 10, 10] }))), "syntheticSizes[1]");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ syntheticSizes: 0 }))), "syntheticSizes");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ syntheticSizes: 1.5 }))), "syntheticSizes");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ freshRealSize: -1 }))), "freshRealSize");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ freshRealSize: 0.5 }))), "freshRealSize");
  assert.equal(configErrorField(() => checkLoopConfig(null as unknown as LoopConfig)), "config");
  // with a prefix (as runCollapse uses)
  assert.equal(configErrorField(() => checkLoopConfig(bad({ strategy: "foo" }), "loop")), "loop.strategy");
  assert.equal(configErrorField(() => checkLoopConfig(bad({ freshRealSize: -3 }), "loop")), "loop.freshRealSize");
  // the message names the field too
  assert.throws(() => checkLoopConfig(bad({ strategy: "foo" })), /invalid config: strategy: expected one of replace, accumulate/);
  assert.throws(() => checkLoopConfig(bad({ syntheticSizes: [1] })), /syntheticSizes: lists 1 sizes but 5 iterations need 4/);
});

// ---------------------------------------------------------------------------------------------
// The whole loop with a fake modality whose samples are provenance labels: "R<draw>:<i>" for real
// sample i of draw <draw>, "S<m>:<i>" for sample i of model m.

interface FakeModel {
  iteration: number;
}

interface FakeLog {
  train: Map<number, string[]>;
  partOrigins: Map<number, string[]>;
  sampled: Map<number, number>;
  realDraws: [number, number][];
  disposed: number[];
  scales: Map<number, number>;
}

function fakeModality(): { modality: Modality<string[], FakeModel>; log: FakeLog } {
  const log: FakeLog = { train: new Map(), partOrigins: new Map(), sampled: new Map(), realDraws: [], disposed: [], scales: new Map() };
  const modality: Modality<string[], FakeModel> = {
    name: "fake",
    size: (data) => data.length,
    select: (data, indices) => Array.from(indices, (i) => data[i]),
    real: (size, _rng, draw) => {
      log.realDraws.push([draw, size]);
      return Array.from({ length: size }, (_, i) => `R${draw}:${i}`);
    },
    fit: (train, ctx) => {
      assert.ok(!log.train.has(ctx.iteration), `iteration ${ctx.iteration} fit twice`);
      log.scales.set(ctx.iteration, ctx.trainingScale);
      log.train.set(
        ctx.iteration,
        train.flatMap((p) => p.data),
      );
      log.partOrigins.set(
        ctx.iteration,
        train.map((p) => `${p.origin}:${p.generation}`),
      );
      return { iteration: ctx.iteration };
    },
    sample: (model, size) => {
      log.sampled.set(model.iteration, size);
      return Array.from({ length: size }, (_, i) => `S${model.iteration}:${i}`);
    },
    evaluate: (model) => ({ iteration: model.iteration }),
    dispose: (model) => {
      log.disposed.push(model.iteration);
    },
    codec: {
      encode: (data) => Buffer.from(JSON.stringify(data)),
      decode: (bytes) => JSON.parse(Buffer.from(bytes).toString("utf8")) as string[],
    },
  };
  return { modality, log };
}

function labels(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}:${i}`);
}

function sorted(a: readonly string[]): string[] {
  return [...a].sort();
}

const T = 4;
const ITER = 5;

async function runFake(strategy: Strategy, extra: Partial<LoopConfig> = {}, seed = 17) {
  const { modality, log } = fakeModality();
  const result = await runCollapse({ modality, seed, loop: { strategy, iterations: ITER, realSize: T, ...extra } });
  assert.equal(result.resumedFrom, 0);
  assert.deepEqual(
    result.records.map((r) => r.iteration),
    [1, 2, 3, 4, 5],
  );
  assert.deepEqual(
    result.records.map((r) => r.metrics),
    [1, 2, 3, 4, 5].map((n) => ({ iteration: n })),
  );
  assert.deepEqual(log.disposed, [1, 2, 3, 4, 5], "every model is disposed once, in order");
  // the last model is never sampled
  assert.deepEqual([...log.sampled.keys()], [1, 2, 3, 4]);
  for (const r of result.records) {
    const train = log.train.get(r.iteration)!;
    assert.equal(r.trainSize, train.length, `trainSize at ${r.iteration}`);
    assert.equal(r.realInTrain, train.filter((l) => l.startsWith("R")).length, `realInTrain at ${r.iteration}`);
    assert.ok(r.seconds >= 0);
  }
  return { result, log };
}

test("loop: replace trains on the newest synthetic set only", async () => {
  const { result, log } = await runFake("replace");
  assert.deepEqual(log.train.get(1), labels("R1", T));
  for (let n = 2; n <= ITER; n++) assert.deepEqual(log.train.get(n), labels(`S${n - 1}`, T), `n=${n}`);
  assert.deepEqual([...log.sampled.values()], [T, T, T, T]);
  assert.deepEqual(log.realDraws, [[1, T]]);
  assert.deepEqual(result.records.map((r) => [r.trainSize, r.realInTrain]), [[4, 4], [4, 0], [4, 0], [4, 0], [4, 0]]);
});

test("loop: accumulate trains on all real data plus every synthetic set", async () => {
  const { result, log } = await runFake("accumulate");
  for (let n = 1; n <= ITER; n++) {
    const expected = [...labels("R1", T)];
    for (let m = 1; m < n; m++) expected.push(...labels(`S${m}`, T));
    assert.deepEqual(log.train.get(n), expected, `n=${n}`);
  }
  assert.deepEqual([...log.sampled.values()], [T, T, T, T]);
  assert.deepEqual(result.records.map((r) => [r.trainSize, r.realInTrain]), [[4, 4], [8, 4], [12, 4], [16, 4], [20, 4]]);
});

test("loop: accumulate with a list schedule", async () => {
  const { result, log } = await runFake("accumulate", { syntheticSizes: [1, 2, 3, 4] });
  assert.deepEqual([...log.sampled.entries()], [[1, 1], [2, 2], [3, 3], [4, 4]]);
  assert.deepEqual(log.train.get(4), [...labels("R1", T), ...labels("S1", 1), ...labels("S2", 2), ...labels("S3", 3)]);
  assert.deepEqual(result.records.map((r) => r.trainSize), [4, 5, 7, 10, 14]);
});

test("loop: replace-multiple draws 2T, 3T, ... and trains on the newest set only", async () => {
  const { result, log } = await runFake("replace-multiple");
  assert.deepEqual([...log.sampled.entries()], [[1, 2 * T], [2, 3 * T], [3, 4 * T], [4, 5 * T]]);
  assert.deepEqual(log.train.get(1), labels("R1", T));
  for (let n = 2; n <= ITER; n++) assert.deepEqual(log.train.get(n), labels(`S${n - 1}`, n * T), `n=${n}`);
  // same training size as accumulate, but no real data after iteration 1
  assert.deepEqual(result.records.map((r) => [r.trainSize, r.realInTrain]), [[4, 4], [8, 0], [12, 0], [16, 0], [20, 0]]);
});

test("loop: replace-matched-compute trains on replace's data with accumulate's training work", async () => {
  const { result, log } = await runFake("replace-matched-compute");
  for (let n = 2; n <= ITER; n++) assert.deepEqual(log.train.get(n), labels(`S${n - 1}`, T), `n=${n}`);
  assert.deepEqual([...log.sampled.values()], [T, T, T, T]);
  // accumulate's training set at n holds n·T samples, replace's T: n times the work
  assert.deepEqual([...log.scales.values()], [1, 2, 3, 4, 5]);
  assert.deepEqual(result.records.map((r) => r.trainingScale), [undefined, 2, 3, 4, 5]);
  // with fresh real data, accumulate holds all of it: (T + (n−1)(T + F)) / (T + F)
  const fresh = await runFakeScales("replace-matched-compute", { freshRealSize: 2 });
  assert.deepEqual(fresh, [1, 10 / 6, 16 / 6, 22 / 6, 28 / 6]);
  for (const other of STRATEGIES.filter((s) => s !== "replace-matched-compute")) assert.deepEqual(await runFakeScales(other), [1, 1, 1, 1, 1], other);
});

async function runFakeScales(strategy: Strategy, extra: Partial<LoopConfig> = {}): Promise<number[]> {
  const { modality, log } = fakeModality();
  await runCollapse({ modality, seed: 3, loop: { strategy, iterations: ITER, realSize: T, ...extra } });
  return [...log.scales.values()];
}

test("loop: augment trains on the original real set plus the newest synthetic set", async () => {
  const { result, log } = await runFake("augment");
  assert.deepEqual(log.train.get(1), labels("R1", T));
  for (let n = 2; n <= ITER; n++) assert.deepEqual(log.train.get(n), [...labels("R1", T), ...labels(`S${n - 1}`, T)], `n=${n}`);
  assert.deepEqual(result.records.map((r) => [r.trainSize, r.realInTrain]), [[4, 4], [8, 4], [8, 4], [8, 4], [8, 4]]);
});

test("loop: accumulate-subsample trains on realSize distinct items of the accumulated pool", async () => {
  const { result, log } = await runFake("accumulate-subsample");
  assert.deepEqual(log.train.get(1), labels("R1", T));
  for (let n = 2; n <= ITER; n++) {
    const train = log.train.get(n)!;
    const poolLabels = new Set([...labels("R1", T)]);
    for (let m = 1; m < n; m++) for (const l of labels(`S${m}`, T)) poolLabels.add(l);
    assert.equal(train.length, T, `size at n=${n}`);
    assert.equal(new Set(train).size, T, `duplicates at n=${n}: ${train}`);
    for (const l of train) assert.ok(poolLabels.has(l), `n=${n}: ${l} is not in the accumulated pool`);
    // provenance kept: parts are in pool order, each part's labels match its origin/generation
    const origins = log.partOrigins.get(n)!;
    for (const o of origins) assert.match(o, /^(real:1|synthetic:[1-4])$/);
  }
  assert.deepEqual([...log.sampled.values()], [T, T, T, T]);
  assert.deepEqual(result.records.map((r) => r.trainSize), [T, T, T, T, T]);
  // deterministic under the seed
  const again = await runFake("accumulate-subsample");
  for (let n = 1; n <= ITER; n++) assert.deepEqual(again.log.train.get(n), log.train.get(n), `n=${n}`);
  assert.deepEqual(again.result.records.map((r) => r.realInTrain), result.records.map((r) => r.realInTrain));
  // and the subsample really depends on the seed (over several iterations, some differ)
  const other = await runFake("accumulate-subsample", {}, 18);
  assert.ok([2, 3, 4, 5].some((n) => sorted(other.log.train.get(n)!).join() !== sorted(log.train.get(n)!).join()));
});

test("loop: accumulate-subsample draws uniformly from the whole pool (not just its head)", async () => {
  // Over many seeds, iteration 5 (pool of 5 sets of T) must pick from every set, at ≈ 1/5 each.
  const counts = new Map<string, number>();
  const seeds = 200;
  for (let seed = 0; seed < seeds; seed++) {
    const { modality, log } = fakeModality();
    await runCollapse({ modality, seed, loop: { strategy: "accumulate-subsample", iterations: 5, realSize: T } });
    for (const l of log.train.get(5)!) counts.set(l.split(":")[0], (counts.get(l.split(":")[0]) ?? 0) + 1);
  }
  const total = seeds * T;
  for (const set of ["R1", "S1", "S2", "S3", "S4"]) {
    const c = counts.get(set) ?? 0;
    assert.ok(Math.abs(c - total / 5) < 5 * Math.sqrt(total * 0.2 * 0.8), `${set} picked ${c} of ${total}`);
  }
});

test("loop with fresh real data: exact composition per strategy", async () => {
  const F = 2;
  const fresh = (n: number) => labels(`R${n}`, F);
  const cases: [Strategy, (n: number) => string[]][] = [
    ["replace", (n) => [...labels(`S${n - 1}`, T), ...fresh(n)]],
    ["replace-multiple", (n) => [...labels(`S${n - 1}`, n * T), ...fresh(n)]],
    ["augment", (n) => [...labels("R1", T), ...labels(`S${n - 1}`, T), ...fresh(n)]],
    [
      "accumulate",
      (n) => {
        const out = [...labels("R1", T)];
        for (let k = 2; k <= n; k++) out.push(...fresh(k));
        for (let m = 1; m < n; m++) out.push(...labels(`S${m}`, T));
        return out;
      },
    ],
  ];
  for (const [strategy, expected] of cases) {
    const { result, log } = await runFake(strategy, { freshRealSize: F });
    assert.deepEqual(log.realDraws, [[1, T], [2, F], [3, F], [4, F], [5, F]], strategy);
    assert.deepEqual(log.train.get(1), labels("R1", T), strategy);
    for (let n = 2; n <= ITER; n++) assert.deepEqual(log.train.get(n), expected(n), `${strategy} n=${n}`);
    const realExpected = [1, 2, 3, 4, 5].map((n) => (n === 1 ? T : expected(n).filter((l) => l.startsWith("R")).length));
    assert.deepEqual(result.records.map((r) => r.realInTrain), realExpected, strategy);
  }
  // realInTrain spelled out
  const rep = await runFake("replace", { freshRealSize: F });
  assert.deepEqual(rep.result.records.map((r) => [r.trainSize, r.realInTrain]), [[4, 4], [6, 2], [6, 2], [6, 2], [6, 2]]);
  const acc = await runFake("accumulate", { freshRealSize: F });
  assert.deepEqual(acc.result.records.map((r) => [r.trainSize, r.realInTrain]), [[4, 4], [10, 6], [16, 8], [22, 10], [28, 12]]);

  // accumulate-subsample: realSize distinct items from the pool including fresh real data
  const sub = await runFake("accumulate-subsample", { freshRealSize: F });
  for (let n = 2; n <= ITER; n++) {
    const train = sub.log.train.get(n)!;
    assert.equal(train.length, T);
    assert.equal(new Set(train).size, T);
    for (const l of train) {
      const [set, i] = l.split(":");
      const kind = set[0];
      const gen = Number(set.slice(1));
      assert.ok(kind === "R" ? (gen === 1 ? Number(i) < T : gen <= n && Number(i) < F) : gen < n && Number(i) < T, `n=${n}: ${l}`);
    }
  }
});

test("loop: a single iteration fits on real data and samples nothing", async () => {
  for (const strategy of STRATEGIES) {
    const { modality, log } = fakeModality();
    const { records } = await runCollapse({ modality, seed: 1, loop: { strategy, iterations: 1, realSize: 3 } });
    assert.equal(records.length, 1);
    assert.deepEqual(log.train.get(1), labels("R1", 3));
    assert.equal(log.sampled.size, 0);
  }
});

test("loop: invalid loop config is rejected before any work, with the loop. prefix", async () => {
  const { modality, log } = fakeModality();
  await assert.rejects(
    runCollapse({ modality, seed: 1, loop: { strategy: "foo" as Strategy, iterations: 3, realSize: 3 } }),
    (e: unknown) => e instanceof ConfigError && e.field === "loop.strategy",
  );
  assert.equal(log.realDraws.length, 0);
});

test("loop: onIteration sees every record in order", async () => {
  const { modality } = fakeModality();
  const seen: number[] = [];
  const { records } = await runCollapse({ modality, seed: 1, loop: { strategy: "accumulate", iterations: 4, realSize: 2 }, onIteration: (r) => seen.push(r.iteration) });
  assert.deepEqual(seen, [1, 2, 3, 4]);
  assert.equal(records.length, 4);
});

test("trainingParts subsamples accumulate-subsample's pool to the first iteration's size, keeping provenance; other strategies are untouched", async () => {
  const { Rng } = await import("../src/random");
  type Rows = number[];
  const part = (rows: Rows, origin: "real" | "synthetic", generation: number) => ({ data: rows, origin, generation });
  const p = { real: [part([0, 1, 2, 3], "real", 1)], synthetic: [part([10, 11, 12, 13], "synthetic", 1), part([20, 21, 22, 23], "synthetic", 2)] };
  const sub = { size: (d: Rows) => d.length, select: (d: Rows, idx: Int32Array) => Array.from(idx, (i) => d[i]), to: 4, rng: Rng.fromSeed(7) };
  const parts = trainingParts("accumulate-subsample", 3, p, sub);
  const rows = parts.flatMap((x) => x.data);
  assert.equal(rows.length, 4);
  assert.equal(new Set(rows).size, 4, "without replacement");
  for (const x of parts) assert.ok(x.data.every((r) => p.real.concat(p.synthetic).find((q) => q.generation === x.generation && q.origin === x.origin)!.data.includes(r)), "each row keeps its part");
  assert.deepEqual(trainingParts("accumulate", 3, p, sub), trainingParts("accumulate", 3, p), "accumulate ignores the subsampler");
  assert.equal(trainingParts("accumulate-subsample", 3, p).flatMap((x) => x.data).length, 12, "without a subsampler: the whole pool");
});
