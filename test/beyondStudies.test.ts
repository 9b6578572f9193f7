import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { IterationRecord } from "../src/collapse/loop";
import { baseConfig, sequenceRunKey } from "../src/collapse/spec";
import { readSequence } from "../src/collapse/runSequence";
import { curationConfigs, proportionConfigs, proportionFactors, proportionSeeds, proportionShares, studyVerifier } from "../src/experiments/beyond";
import { GAUSSIAN, runGaussianSequence } from "../src/gaussian/spec";
import { LM } from "../src/lm/spec";
import { modalityNames, modalitySpec } from "../src/modalities";
import { computeUnit, cumulativeCompute, metricByIterationFigure } from "../src/plots/metricFigures";
import { curationFigure, drawsPerKept, proportionFigure, proportionLines } from "../src/plots/studyFigures";
import { RunStore } from "../src/store/runStore";
import { collapse, tempDir } from "./helpers";

// The studies beyond the paper from the user's side: run keys, the study configs every modality gets,
// the compute axis, the figures, and the CLI and sweep entry points.

const record = (iteration: number, trainSize: number, extra: Partial<IterationRecord> = {}): IterationRecord => ({ iteration, trainSize, realInTrain: 0, metrics: { m: iteration }, seconds: 0, ...extra });

test("run keys: a sequence without modifiers keeps its spec's key; curation and a real share key their own runs", () => {
  const c = baseConfig(LM, "smoke");
  assert.deepEqual(sequenceRunKey(LM, c), LM.runKey(c));
  const curated = sequenceRunKey(LM, { ...c, curation: { verifier: "valid-words", keep: 0.5 } });
  const shared = sequenceRunKey(LM, { ...c, realShare: 0.5 });
  assert.deepEqual(curated, { ...LM.runKey(c), curation: { verifier: "valid-words", keep: 0.5 } });
  assert.deepEqual(shared, { ...LM.runKey(c), realShare: 0.5 });
});

test("every registered modality has the studies' configs: curated twins where it has verifiers, replace at every real share and size", () => {
  for (const name of modalityNames()) {
    const spec = modalitySpec(name)!;
    const curation = curationConfigs(spec, "smoke");
    const verifier = studyVerifier(spec);
    assert.equal(curation.length, verifier ? 4 : 2, name);
    for (const c of curation.filter((c) => c.curation)) assert.deepEqual(c.curation, { verifier, keep: 0.5 }, name);
    const proportion = proportionConfigs(spec, "smoke");
    assert.equal(proportion.length, proportionShares(spec, "smoke").length * proportionFactors(spec, "smoke").length * proportionSeeds(spec, "smoke"), name);
    assert.ok(proportion.every((c) => c.strategy === "replace" && c.realShare !== undefined), name);
    for (const c of proportion) spec.check(c);
  }
  // The Gaussian (closed form) gets eleven shares at three sizes and five seeds at quick; its sizes scale its real set.
  const gaussian = proportionConfigs(GAUSSIAN, "quick");
  assert.equal(gaussian.length, 33 * 5);
  assert.deepEqual([...new Set(gaussian.map((c) => c.seed))], [0, 1, 2, 3, 4]);
  assert.deepEqual([...new Set(gaussian.map((c) => c.samples))], [13, 50, 200]);
  assert.deepEqual(proportionConfigs(GAUSSIAN, "smoke", { shares: [0.2], factors: [2], seeds: 1 }).map((c) => [c.samples, c.realShare]), [[100, 0.2]]);
});

test("the compute axis: the finest unit every record has; runs without compute count one pass per fit at its scale", () => {
  const withFlops = [record(1, 10, { compute: { examples: 10, flops: 5 } }), record(2, 20, { compute: { examples: 30, flops: 15 } })];
  const old = [record(1, 10), record(2, 10, { trainingScale: 2 })];
  assert.equal(computeUnit([{ records: withFlops }]), "flops");
  assert.equal(computeUnit([{ records: withFlops }, { records: old }]), "examples");
  assert.deepEqual(cumulativeCompute(withFlops, "flops"), [5, 15]);
  assert.deepEqual(cumulativeCompute(old, "examples"), [10, 30]);
  const fig = metricByIterationFigure([{ label: "a", strategy: "replace", records: withFlops }], { metric: "m", axisTitle: "m", x: "compute" }, "t");
  const line = fig.data.find((t) => (t as { mode?: string }).mode === "lines+markers") as { x: number[] };
  assert.deepEqual(line.x, [5, 15]);
  assert.equal((fig.layout.xaxis as { title: { text: string } }).title.text, "cumulative training FLOPs");
});

test("the studies' figures: curation's cost in the legend; one proportion line per real set size at the last iteration", () => {
  const curated = [record(1, 10, { curation: { drawn: 40, kept: 10 } }), record(2, 10)];
  assert.equal(drawsPerKept(curated), 4);
  assert.equal(drawsPerKept([record(1, 10)]), 1);
  const fig = curationFigure(
    [
      { strategy: "replace", curation: null, records: [record(1, 10)] },
      { strategy: "replace", curation: "oracle, keep 25%", records: curated },
    ],
    { metric: "m", axisTitle: "m" },
    "t",
  );
  assert.deepEqual(
    fig.data.map((t) => (t as { name: string }).name),
    ["replace", "replace, curated (oracle, keep 25%) — 4.00 drawn per kept"],
  );
  const runs = [0, 0.5, 1].flatMap((realShare) => ["10 samples", "40 samples"].map((label) => ({ label, realShare, records: [record(1, 10), { ...record(2, 10), metrics: { m: realShare } }] })));
  const p = proportionFigure(proportionLines(runs, "m"), { axisTitle: "m", title: "t" });
  assert.equal(p.data.length, 2);
  assert.deepEqual((p.data[0] as { x: number[]; y: number[] }).x, [0, 0.5, 1]);
  assert.deepEqual((p.data[0] as { x: number[]; y: number[] }).y, [0, 0.5, 1]);
});

test("CLI: --curate, --keep and --real-share on a sequence command; unknown verifiers and misplaced shares named", () => {
  const r = collapse(["gaussian", "--profile", "smoke", "--iterations", "3", "--curate", "oracle", "--keep", "0.25", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.config.curation, { verifier: "oracle", keep: 0.25 });
  assert.deepEqual(out.iterations[0].curation, { drawn: 200, kept: 50 });
  assert.deepEqual(out.iterations.map((i: { compute: { examples: number } }) => i.compute.examples), [50, 100, 150]);
  const table = collapse(["gaussian", "--profile", "smoke", "--iterations", "3", "--real-share", "0.4"]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /real share 0\.4: every model after the first trained on 20 real of 50 samples/);
  assert.match(collapse(["gaussian", "--profile", "smoke", "--curate", "nope", "--keep", "0.5"]).stderr, /--curate: .*oracle/);
  assert.match(collapse(["gaussian", "--profile", "smoke", "--curate", "oracle"]).stderr, /invalid config: curation: needs exactly one of keep/);
  assert.match(collapse(["gaussian", "--profile", "smoke", "--strategy", "accumulate", "--real-share", "0.5"]).stderr, /--real-share: .*does not apply to accumulate/);
  assert.match(collapse(["gaussian", "--help"]).stdout, /--curate V[\s\S]*oracle: log density under the true Gaussian[\s\S]*--real-share P/);
});

test("a sweep over real shares with curation in its base: every sequence stored under its own key and read back", () => {
  const dir = tempDir("beyond-sweep");
  const file = path.join(dir, "sweep.yaml");
  fs.writeFileSync(file, ["name: beyond", "command: gaussian", "profile: smoke", "base:", "  iterations: 4", "  curation.verifier: oracle", "  curation.keep: 0.5", "grid:", "  realShare: [0, 0.5, 1]", ""].join("\n"));
  const runs = path.join(dir, "runs");
  const r = collapse(["sweep", file, "--runs-dir", runs]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /3 sequences: 3 finished/);
  for (const realShare of [0, 0.5, 1]) {
    const c = { ...baseConfig(GAUSSIAN, "smoke"), iterations: 4, curation: { verifier: "oracle", keep: 0.5 }, realShare };
    const stored = readSequence(GAUSSIAN, new RunStore(runs), c);
    assert.ok(stored, `realShare ${realShare} stored`);
    assert.equal(stored.records[1].realInTrain, Math.round(realShare * 50));
  }
});

test("a real share of 0 is replace and a share of 1 holds the error at the first model's level (Gaussian, in memory)", async () => {
  const base = { ...baseConfig(GAUSSIAN, "smoke"), iterations: 30, referenceSize: 0 };
  const replace = await runGaussianSequence({ ...base, strategy: "replace" });
  const zero = await runGaussianSequence({ ...base, strategy: "replace", realShare: 0 });
  assert.deepEqual(zero.records.map((r) => r.metrics), replace.records.map((r) => r.metrics));
  const one = await runGaussianSequence({ ...base, strategy: "replace", realShare: 1 });
  assert.ok(one.records.every((r) => r.metrics.frechetDistance === one.records[0].metrics.frechetDistance), "every model fits the same real set");
  assert.ok(replace.records[29].metrics.frechetDistance > 5 * one.records[29].metrics.frechetDistance);
});
