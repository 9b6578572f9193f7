import { test } from "node:test";
import assert from "node:assert/strict";
import { type IterationRecord, bestIndices, runCollapse } from "../src/collapse/loop";
import type { DataCodec, Modality } from "../src/collapse/modality";
import { plannedIterations } from "../src/collapse/plan";
import type { LoopConfig } from "../src/collapse/strategies";
import { ConfigError } from "../src/errors";
import { Rng } from "../src/random";
import { configErrorField, freshStore } from "./helpers";

// Curation, the real share and the compute record, on a modality small enough to check by hand: data
// are numbers, a model is their mean, sampling adds unit noise, and the verifier prefers numbers near 0.

type Numbers = Float64Array;

const codec: DataCodec<Numbers> = {
  encode: (d) => new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)),
  decode: (b) => new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)),
};

/** Every set the loop asked the verifier to score, and every training set, for the checks below. */
function numbers(log: { scored: Numbers[]; trained: Numbers[][] } = { scored: [], trained: [] }): Modality<Numbers, number> & { log: typeof log } {
  const draw = (mean: number, size: number, rng: Rng) => Float64Array.from({ length: size }, () => mean + rng.normal());
  return {
    name: "numbers",
    log,
    size: (d) => d.length,
    select: (d, idx) => Float64Array.from(idx, (i) => d[i]),
    real: (size, rng) => draw(1, size, rng),
    fit: (parts) => {
      log.trained.push(parts.map((p) => p.data));
      const all = parts.flatMap((p) => [...p.data]);
      return all.reduce((a, b) => a + b, 0) / all.length;
    },
    sample: (mean, size, rng) => draw(mean, size, rng),
    evaluate: (mean) => ({ error: Math.abs(mean - 1) }),
    verifiers: {
      nearZero: (d) => {
        log.scored.push(d);
        return Float64Array.from(d, (x) => -Math.abs(x));
      },
    },
    codec,
  };
}

const strip = (records: IterationRecord[]) => records.map(({ seconds: _s, ...rest }) => rest);

test("curation by a share: draws size/keep samples and keeps the best-scored, in the order drawn", async () => {
  const m = numbers();
  const { records } = await runCollapse({ modality: m, seed: 3, loop: { strategy: "replace", iterations: 3, realSize: 10, curation: { verifier: "nearZero", keep: 0.25 } } });
  assert.deepEqual(records.map((r) => r.curation), [{ drawn: 40, kept: 10 }, { drawn: 40, kept: 10 }, undefined]);
  for (const [k, scored] of m.log.scored.entries()) {
    const kept = m.log.trained[k + 1][0];
    assert.equal(kept.length, 10);
    // The kept ten are the ten nearest 0, in the order they were drawn.
    const best = [...scored].sort((a, b) => Math.abs(a) - Math.abs(b)).slice(0, 10);
    assert.deepEqual([...kept].sort(), best.sort());
    assert.deepEqual([...kept], [...scored].filter((x) => best.includes(x)));
  }
  // Curation toward 0 pulls replace's mean away from the truth (1) faster than no curation does.
  const plain = await runCollapse({ modality: numbers(), seed: 3, loop: { strategy: "replace", iterations: 3, realSize: 10 } });
  assert.ok(records[2].metrics.error > plain.records[2].metrics.error, `curated ${records[2].metrics.error} vs ${plain.records[2].metrics.error}`);
});

test("curation by a threshold: every kept sample passes; draws double until one set has enough; too strict a threshold stops with a ConfigError after the finished iterations are stored", async () => {
  const m = numbers();
  const { records } = await runCollapse({ modality: m, seed: 5, loop: { strategy: "accumulate", iterations: 3, realSize: 8, curation: { verifier: "nearZero", threshold: -1 } } });
  for (const set of m.log.trained.slice(1).map((parts) => parts[parts.length - 1])) assert.ok(set.every((x) => Math.abs(x) <= 1), `${[...set]}`);
  for (const r of records.slice(0, 2)) {
    assert.equal(r.curation!.kept, 8);
    assert.ok([8, 24, 56, 120].includes(r.curation!.drawn), `drawn ${r.curation!.drawn}: sets of 8, 16, 32, 64 in turn`);
  }
  const store = freshStore("curation-threshold");
  const run = store.open("numbers", { strict: true });
  const strict = numbers();
  let calls = 0;
  const failing = { ...strict, verifiers: { nearZero: (d: Numbers) => Float64Array.from(d, () => (calls++ < 0 ? 0 : -10)) } };
  await assert.rejects(
    runCollapse({ modality: failing, seed: 5, run, loop: { strategy: "replace", iterations: 3, realSize: 8, curation: { verifier: "nearZero", threshold: 0, maxDraws: 4 } } }),
    (e: unknown) => e instanceof ConfigError && e.field === "curation.threshold" && /within 32 draws/.test(e.message),
  );
  assert.equal(run.records().length, 0, "model 1 never finished: its set could not be drawn");
  run.close();
});

test("curation: an unknown verifier, a bad share, and both or neither of keep and threshold are ConfigErrors naming the field", async () => {
  const loop = (curation: unknown): LoopConfig => ({ strategy: "replace", iterations: 2, realSize: 4, curation: curation as LoopConfig["curation"] });
  await assert.rejects(runCollapse({ modality: numbers(), seed: 1, loop: loop({ verifier: "oracle", keep: 0.5 }) }), (e: unknown) => e instanceof ConfigError && e.field === "curation.verifier" && /nearZero/.test(e.message));
  assert.equal(configErrorField(() => plannedIterations(loop({ verifier: "nearZero", keep: 0 }))), "curation.keep");
  assert.equal(configErrorField(() => plannedIterations(loop({ verifier: "nearZero", keep: 1.5 }))), "curation.keep");
  assert.equal(configErrorField(() => plannedIterations(loop({ verifier: "nearZero" }))), "curation");
  assert.equal(configErrorField(() => plannedIterations(loop({ verifier: "nearZero", keep: 0.5, threshold: 1 }))), "curation");
  assert.equal(configErrorField(() => plannedIterations(loop({ verifier: "nearZero", keep: 0.5, maxDraws: 3 }))), "curation.maxDraws");
  assert.equal(configErrorField(() => plannedIterations(loop({ verifier: "nearZero", keep: 0.5, extra: 1 }))), "curation.extra");
});

test("bestIndices: highest scores first, earlier samples win ties, NaN last, returned in increasing order", () => {
  assert.deepEqual([...bestIndices(Float64Array.from([1, 3, 3, NaN, 2]), 3)], [1, 2, 4]);
  assert.deepEqual([...bestIndices(Float64Array.from([NaN, NaN, 0]), 2)], [0, 2]);
});

test("real share: model n ≥ 2 trains on the first round(p·T) real samples plus the rest drawn from model n−1; 0 is replace, 1 retrains on the real subset", async () => {
  const run = async (realShare: number | undefined) => {
    const m = numbers();
    const out = await runCollapse({ modality: m, seed: 9, loop: { strategy: "replace", iterations: 3, realSize: 10, ...(realShare === undefined ? {} : { realShare }) } });
    return { records: out.records, trained: m.log.trained };
  };
  const half = await run(0.46);
  const real = half.trained[0][0];
  assert.deepEqual(
    half.records.map((r) => [r.trainSize, r.realInTrain]),
    [
      [10, 10],
      [10, 5],
      [10, 5],
    ],
  );
  assert.deepEqual([...half.trained[1][0]], [...real.slice(0, 5)], "the first five real samples");
  assert.deepEqual([...half.trained[2][0]], [...real.slice(0, 5)], "the same five every time");
  assert.deepEqual(strip((await run(0)).records), strip((await run(undefined)).records), "a share of 0 is replace, draw for draw");
  const all = await run(1);
  assert.deepEqual(all.records.map((r) => r.trainSize), [10, 10, 10]);
  assert.equal(all.trained[1].length, 1, "no synthetic part at a share of 1");
  assert.equal(configErrorField(() => plannedIterations({ strategy: "accumulate", iterations: 2, realSize: 4, realShare: 0.5 })), "realShare");
  assert.equal(configErrorField(() => plannedIterations({ strategy: "replace", iterations: 2, realSize: 4, realShare: 2 })), "realShare");
});

test("real share and curation in a stored run: continued from the store, the records equal those of one uninterrupted run", async () => {
  const loop = (iterations: number): LoopConfig => ({ strategy: "replace", iterations, realSize: 6, realShare: 0.5, curation: { verifier: "nearZero", keep: 0.5 } });
  const whole = await runCollapse({ modality: numbers(), seed: 11, loop: loop(4), extendable: true });
  const store = freshStore("modifiers-resume");
  const first = store.open("numbers", { k: 1 });
  await runCollapse({ modality: numbers(), seed: 11, loop: loop(2), run: first, extendable: true });
  first.close();
  const again = store.open("numbers", { k: 1 });
  const continued = await runCollapse({ modality: numbers(), seed: 11, loop: loop(4), run: again, extendable: true });
  again.close();
  assert.equal(continued.resumedFrom, 2);
  assert.deepEqual(strip(continued.records), strip(whole.records));
});

test("compute: every record carries the sequence's cumulative training work (one pass by default, the modality's own where it has one)", async () => {
  const { records } = await runCollapse({ modality: numbers(), seed: 2, loop: { strategy: "accumulate", iterations: 3, realSize: 5 } });
  assert.deepEqual(records.map((r) => r.compute), [{ examples: 5 }, { examples: 15 }, { examples: 30 }]);
  const counted = { ...numbers(), trainingCompute: (parts: readonly { data: Numbers }[], scale: number) => ({ examples: 2 * scale * parts.length, flops: 7 }) };
  const matched = await runCollapse({ modality: counted, seed: 2, loop: { strategy: "replace-matched-compute", iterations: 3, realSize: 5 } });
  // Matched compute trains replace's one set for as long as accumulate's 2 and 3 sets.
  assert.deepEqual(matched.records.map((r) => r.compute), [{ examples: 2, flops: 7 }, { examples: 6, flops: 14 }, { examples: 12, flops: 21 }]);
});

test("plan: a real share's sizes and a curated share's draws, from the loop's own rules", () => {
  const plan = plannedIterations({ strategy: "replace", iterations: 3, realSize: 10, realShare: 0.3, curation: { verifier: "any", keep: 0.25 } });
  assert.deepEqual(
    plan.map((p) => [p.trainSize, p.real, p.drawn]),
    [
      [10, 10, 28],
      [10, 3, 28],
      [10, 3, 0],
    ],
  );
});
