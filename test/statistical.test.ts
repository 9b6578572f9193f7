import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { type Strategy } from "../src/collapse/strategies";
import { ConfigError } from "../src/errors";
import { type LinearExperimentConfig, type LinearCurve, checkLinearConfig, linearResultJson, runLinearExperiment } from "../src/linear/montecarlo";
import type { LinearSetting } from "../src/linear/problem";
import { unitError } from "../src/linear/theory";
import { configErrorField, freshStore } from "./helpers";


const SETTINGS: LinearSetting[] = [
  { d: 5, T: 50, sigma2: 1 },
  { d: 10, T: 100, sigma2: 0.1 },
  { d: 3, T: 20, sigma2: 10 },
];
const STRATS: Strategy[] = ["replace", "accumulate", "replace-multiple", "augment"];
const SEEDS = 1200;
const CHECKED = [1, 2, 5, 10];

let experiment: Promise<Awaited<ReturnType<typeof runLinearExperiment>>> | null = null;
function mainExperiment() {
  experiment ??= runLinearExperiment({ settings: SETTINGS, strategies: STRATS, iterations: 10, seeds: SEEDS, seed: 20240401 });
  return experiment;
}

function curveFor(curves: LinearCurve[], s: LinearSetting, strategy: Strategy): LinearCurve {
  const c = curves.find((x) => x.strategy === strategy && x.setting.d === s.d && x.setting.T === s.T && x.setting.sigma2 === s.sigma2);
  assert.ok(c, `no curve for ${JSON.stringify(s)} ${strategy}`);
  return c;
}

test("Monte-Carlo means agree with the closed forms within 4 standard errors", async () => {
  const { curves, config } = await mainExperiment();
  assert.equal(curves.length, SETTINGS.length * STRATS.length);
  assert.equal(config.seeds, SEEDS);
  for (const s of SETTINGS) {
    for (const strategy of STRATS) {
      const c = curveFor(curves, s, strategy);
      assert.ok(c.theory, `${strategy} has a closed form`);
      assert.equal(c.perSeed.length, SEEDS);
      assert.deepEqual(c.iteration, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(c.cached, false);
      for (const n of CHECKED) {
        const mean = c.meanTestError[n - 1];
        const se = c.stdErr[n - 1];
        const th = c.theory[n - 1];
        assert.ok(se > 0);
        assert.ok(Math.abs(mean - th) <= 4 * se, `d=${s.d} T=${s.T} σ²=${s.sigma2} ${strategy} n=${n}: mean ${mean} theory ${th} se ${se} (z=${((mean - th) / se).toFixed(2)})`);
      }
    }
  }
});

test("the closed-form extension (2× synthetic sets, fresh real data) matches Monte-Carlo within 4 standard errors", async () => {
  const setting = { d: 4, T: 30, sigma2: 1 };
  const { curves } = await runLinearExperiment({
    settings: [setting],
    strategies: ["replace", "accumulate", "replace-multiple", "augment"],
    iterations: 5,
    seeds: 600,
    seed: 77,
    syntheticScale: 2,
    freshRealScale: 1,
  });
  for (const c of curves) {
    assert.ok(c.theory, c.strategy);
    for (const n of [1, 2, 3, 5]) {
      const z = (c.meanTestError[n - 1] - c.theory[n - 1]) / c.stdErr[n - 1];
      assert.ok(Math.abs(z) <= 4, `${c.strategy} n=${n}: mean ${c.meanTestError[n - 1]} theory ${c.theory[n - 1]} (z=${z.toFixed(2)})`);
    }
  }
});

test("replace collapses (error grows linearly); accumulate stays bounded by π²/6 · c", async () => {
  const { curves } = await mainExperiment();
  for (const s of SETTINGS) {
    const c = unitError(s.d, s.T, s.sigma2)!;
    const rep = curveFor(curves, s, "replace");
    assert.ok(rep.meanTestError[9] > 5 * rep.meanTestError[0], `replace ${JSON.stringify(s)}: ${rep.meanTestError[9]} vs ${rep.meanTestError[0]}`);
    const acc = curveFor(curves, s, "accumulate");
    const bound = (Math.PI ** 2 / 6) * c + 4 * acc.stdErr[9];
    assert.ok(acc.meanTestError[9] < bound, `accumulate ${JSON.stringify(s)}: ${acc.meanTestError[9]} ≥ ${bound}`);
    // accumulate beats replace-multiple beats replace, at iteration 10
    const rm = curveFor(curves, s, "replace-multiple");
    assert.ok(acc.meanTestError[9] < rm.meanTestError[9] && rm.meanTestError[9] < rep.meanTestError[9]);
    // every strategy fits model 1 on the same worlds (common random numbers)
    for (const strategy of STRATS) assert.deepEqual(curveFor(curves, s, strategy).perSeed.map((r) => r[0]), rep.perSeed.map((r) => r[0]));
  }
});

test("the experiment is deterministic under its seed, and the seed matters", async () => {
  const small = { settings: [{ d: 3, T: 10, sigma2: 1 }], strategies: ["replace", "accumulate-subsample"] as Strategy[], iterations: 4, seeds: 5, seed: 11 };
  const a = await runLinearExperiment(small);
  const b = await runLinearExperiment(small);
  assert.deepEqual(
    a.curves.map((c) => c.perSeed),
    b.curves.map((c) => c.perSeed),
  );
  const other = await runLinearExperiment({ ...small, seed: 12 });
  assert.notDeepEqual(
    other.curves.map((c) => c.perSeed),
    a.curves.map((c) => c.perSeed),
  );
  // the seed list is a prefix property: 3 seeds are the first 3 of 5
  const fewer = await runLinearExperiment({ ...small, seeds: 3 });
  assert.deepEqual(
    fewer.curves.map((c) => c.perSeed),
    a.curves.map((c) => c.perSeed.slice(0, 3)),
  );
  // accumulate-subsample has no closed form; JSON view carries null theory
  assert.equal(a.curves[1].theory, null);
  const json = linearResultJson(a) as { curves: { iterations: { theory: number | null }[] }[] };
  assert.equal(json.curves[1].iterations[0].theory, null);
  assert.equal(json.curves[0].iterations[3].theory, a.curves[0].theory![3]);
});

test("a run store caches finished cells and resumes an interrupted one with identical results", async () => {
  const store = freshStore("stat");
  const cfg = { settings: [{ d: 2, T: 8, sigma2: 1 }], strategies: ["accumulate"] as Strategy[], iterations: 3, seeds: 6, seed: 5, testSamples: 10 };
  const memory = await runLinearExperiment(cfg);
  const first = await runLinearExperiment(cfg, { store });
  assert.deepEqual(first.curves[0].perSeed, memory.curves[0].perSeed);
  assert.equal(first.curves[0].cached, false);
  assert.equal(first.curves[0].meanTestMSE!.length, 3);
  const second = await runLinearExperiment(cfg, { store });
  assert.equal(second.curves[0].cached, true);
  assert.deepEqual(second.curves[0].perSeed, memory.curves[0].perSeed);
  assert.deepEqual(second.curves[0].meanTestMSE, memory.curves[0].meanTestMSE);
  // truncate the cell's records to 2 seeds and drop done.json: it resumes from seed 2
  const kindDir = path.join(store.root, "linear");
  const [cellDir] = fs.readdirSync(kindDir);
  const metrics = path.join(kindDir, cellDir, "metrics.jsonl");
  const lines = fs.readFileSync(metrics, "utf8").split("\n").filter(Boolean);
  assert.equal(lines.length, 6);
  fs.writeFileSync(metrics, lines.slice(0, 2).join("\n") + "\n");
  fs.rmSync(path.join(kindDir, cellDir, "done.json"));
  const progress: number[] = [];
  const third = await runLinearExperiment(cfg, { store, onProgress: (p) => progress.push(p.seedsDone) });
  assert.equal(third.curves[0].cached, false);
  assert.deepEqual(third.curves[0].perSeed, memory.curves[0].perSeed);
  assert.deepEqual(progress, [6]);
  assert.equal(fs.readFileSync(metrics, "utf8").split("\n").filter(Boolean).length, 6);
});

// ---------------------------------------------------------------------------------------------
// config validation


type Partial1 = Partial<LinearExperimentConfig> & { settings: LinearSetting[] };

test("checkLinearConfig fills defaults", () => {
  const c = checkLinearConfig({ settings: [{ d: 5, T: 50, sigma2: 1 }] });
  assert.deepEqual(c, {
    settings: [{ d: 5, T: 50, sigma2: 1 }],
    strategies: ["replace", "accumulate"],
    iterations: 10,
    seeds: 100,
    seed: 0,
    ridge: 0,
    covariance: "isotropic",
    syntheticScale: 1,
    freshRealScale: 0,
    testSamples: 0,
  });
  // T = d is allowed (full column rank is possible)
  assert.equal(checkLinearConfig({ settings: [{ d: 5, T: 5, sigma2: 1 }] }).settings[0].T, 5);
});

test("checkLinearConfig rejects bad configs, naming the field", () => {
  const ok: Partial1 = { settings: [{ d: 5, T: 50, sigma2: 1 }] };
  const bad = (patch: Record<string, unknown>) => ({ ...ok, ...patch }) as unknown as Partial1;
  assert.equal(configErrorField(() => checkLinearConfig(bad({ settings: [{ d: 5, T: 4, sigma2: 1 }] }))), "settings[0].T");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ settings: [{ d: 2, T: 4, sigma2: 1 }, { d: 6, T: 5, sigma2: 1 }] }))), "settings[1].T");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ "seed s": 3 }))), "seed s");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ seeds: 10, iteration: 5 }))), "iteration");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ settings: [{ d: 5, T: 50, sigma: 1 }] }))), "settings[0].sigma");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ strategies: ["replace", "accumulate", "replace"] }))), "strategies");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ strategies: [] }))), "strategies");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ strategies: ["replace", "acumulate"] }))), "strategies[1]");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ settings: [] }))), "settings");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ settings: undefined }))), "settings");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ settings: [null] }))), "settings[0]");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ ridge: -1 }))), "ridge");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ ridge: NaN }))), "ridge");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ iterations: 0 }))), "iterations");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ seeds: 0 }))), "seeds");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ seed: -1 }))), "seed");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ seed: 2 ** 31 }))), "seed");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ syntheticScale: 0 }))), "syntheticScale");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ syntheticScale: 0.001 }))), "syntheticScale");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ freshRealScale: -0.5 }))), "freshRealScale");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ testSamples: 1.5 }))), "testSamples");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ settings: [{ d: 0, T: 50, sigma2: 1 }] }))), "settings[0].d");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ settings: [{ d: 5, T: 50, sigma2: -1 }] }))), "settings[0].sigma2");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ covariance: { decay: -2 } }))), "covariance.decay");
  assert.equal(configErrorField(() => checkLinearConfig(bad({ covariance: { matrix: [[1]] } }))), "covariance.matrix");
  assert.equal(configErrorField(() => checkLinearConfig(null as unknown as Partial1)), "config");
});

test("runLinearExperiment validates before doing any work", async () => {
  await assert.rejects(
    runLinearExperiment({ settings: [{ d: 5, T: 3, sigma2: 1 }] }),
    (e: unknown) => e instanceof ConfigError && e.field === "settings[0].T",
  );
});
