import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { Matrix, inverse } from "ml-matrix";
import { runCollapse } from "../src/collapse/loop";
import type { LoopConfig } from "../src/collapse/strategies";
import { linearCurationExperiment, linearProportionExperiment, linearProportionStudyFigure, runLinearCuration, runLinearProportion } from "../src/experiments/linearRegression";
import { linearCurationFigure } from "../src/linear/figures";
import { type LinearData, cyclingRows, linearModality, linearVerifiers, residualScores } from "../src/linear/modality";
import { type LinearExperimentConfig, checkLinearConfig, runLinearExperiment } from "../src/linear/montecarlo";
import { type CovarianceSpec, type LinearProblem, type LinearSetting, createLinearProblem, toRows } from "../src/linear/problem";
import { realShareTheory, theoryReplace, unitError } from "../src/linear/theory";
import { Rng } from "../src/random";
import { BIN, configErrorField, freshStore, tempDir } from "./helpers";

function makeProblem(d: number, T: number, seed: number, sigma2 = 1, covariance: CovarianceSpec = "isotropic"): LinearProblem {
  return createLinearProblem({ d, T, sigma2, ridge: 0, covariance, testSamples: 0 }, Rng.derive(seed, "curation-test", d, T));
}

function row(problem: LinearProblem, t: number): Float64Array {
  const { d } = problem.config;
  return problem.X.subarray(t * d, (t + 1) * d);
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i], 0);

/** z of a Monte-Carlo mean against a value. */
const zOf = (mean: number, se: number, value: number) => (mean - value) / se;

// ---------------------------------------------------------------------------------------------
// verifiers

test("oracle and noisy verifiers score −|y − x·w| by hand, on the rows the data names", () => {
  const problem = makeProblem(3, 5, 1);
  const { wStar } = problem;
  const all: LinearData = { rows: null, y: Float64Array.from([0.5, -1, 2, 0, 0.25]) };
  const some: LinearData = { rows: Int32Array.from([4, 0, 4]), y: Float64Array.from([1, -2, 3]) };
  const verifiers = linearVerifiers(problem, { tau2: 0.3, rng: Rng.derive(9, "verifier") });
  const delta = Rng.derive(9, "verifier").normals(3, Math.sqrt(0.3 / 3));
  const wV = wStar.map((w, i) => w + delta[i]);
  for (const [name, w] of [["oracle", wStar], ["noisy", wV]] as const) {
    const ctx = { iteration: 1, model: new Float64Array(3), rng: Rng.derive(0, "unused") };
    const a = verifiers[name](all, ctx) as Float64Array;
    const b = verifiers[name](some, ctx) as Float64Array;
    assert.deepEqual(Array.from(a), [0, 1, 2, 3, 4].map((t) => -Math.abs(all.y[t] - dot(row(problem, t), w))));
    assert.deepEqual(Array.from(b), [4, 0, 4].map((t, i) => -Math.abs(some.y[i] - dot(row(problem, t), w))));
  }
  // Without a τ² there is only the oracle; τ² = 0 makes the noisy verifier the oracle.
  assert.deepEqual(Object.keys(linearVerifiers(problem)), ["oracle"]);
  const exact = linearVerifiers(problem, { tau2: 0, rng: Rng.derive(3, "v") });
  assert.deepEqual(Array.from(residualScores(problem, problem.wStar, all)), Array.from(exact.noisy(all, { iteration: 1, model: wStar, rng: Rng.derive(0) }) as Float64Array));
  // E‖δ‖² = τ²: over many worlds the noisy verifier's weights are off by τ² on average.
  const tau2 = 0.5;
  let total = 0;
  const worlds = 4000;
  for (let s = 0; s < worlds; s++) {
    const noisy = linearVerifiers(problem, { tau2, rng: Rng.derive(s, "verifier") });
    // On the noiseless label y = x·w* the noisy verifier scores −|x·δ|.
    const d2 = Rng.derive(s, "verifier").normals(3, Math.sqrt(tau2 / 3));
    const score = noisy.noisy({ rows: Int32Array.from([0]), y: Float64Array.from([dot(row(problem, 0), wStar)]) }, { iteration: 1, model: wStar, rng: Rng.derive(0) }) as Float64Array;
    assert.ok(Math.abs(score[0] + Math.abs(dot(row(problem, 0), d2))) < 1e-12);
    total += dot(d2, d2);
  }
  assert.ok(Math.abs(total / worlds - tau2) < 0.05, `mean ‖δ‖² ${total / worlds}`);
});

test("a synthetic start row shifts where synthetic labels sit, cycling; real labels start at row 0", async () => {
  const problem = makeProblem(2, 6, 2);
  assert.deepEqual(Array.from(cyclingRows(6, 8, 4)), [4, 5, 0, 1, 2, 3, 4, 5]);
  const m = linearModality(problem, { syntheticStartRow: 4 });
  const s = (await m.sample(problem.wStar, 3, Rng.derive(1))) as LinearData;
  assert.deepEqual(Array.from(s.rows!), [4, 5, 0]);
  assert.equal(((await m.real!(6, Rng.derive(1), 1)) as LinearData).rows, null);
  // The default keeps the old behaviour: a set of T labels with rows null.
  assert.equal(((await linearModality(problem).sample(problem.wStar, 6, Rng.derive(1))) as LinearData).rows, null);
});

// ---------------------------------------------------------------------------------------------
// curation in the loop

test("curated records: drawn = kept / keep with a share; a threshold draws whole sets until enough pass", async () => {
  const problem = makeProblem(3, 20, 3);
  const run = (loop: LoopConfig) => runCollapse({ modality: linearModality(problem), seed: 5, loop });
  const { records } = await run({ strategy: "replace", iterations: 4, realSize: 20, curation: { verifier: "oracle", keep: 0.25 } });
  for (const r of records.slice(0, 3)) assert.deepEqual(r.curation, { drawn: 80, kept: 20 });
  assert.equal(records[3].curation, undefined, "the last model draws nothing to train on");
  const acc = await run({ strategy: "accumulate", iterations: 3, realSize: 20, curation: { verifier: "oracle", keep: 0.4 } });
  for (const r of acc.records.slice(0, 2)) assert.deepEqual(r.curation, { drawn: 50, kept: 20 });
  // σ = 1: about 52% of residuals have |r| ≤ 0.7 under a good model: one set of 20 rarely has 20, 2 sets of 40 do.
  const th = await run({ strategy: "replace", iterations: 3, realSize: 20, curation: { verifier: "oracle", threshold: -0.7 } });
  for (const r of th.records.slice(0, 2)) {
    assert.equal(r.curation!.kept, 20);
    assert.ok([20, 60, 140, 300].includes(r.curation!.drawn), `drawn ${r.curation!.drawn}: a sum of doubling sets`);
  }
});

test("oracle curation lowers replace's (and accumulate's) error; the noisy verifier helps replace less than the oracle", async () => {
  const base = { settings: [{ d: 5, T: 40, sigma2: 1 }], strategies: ["replace", "accumulate"] as const, iterations: 8, seeds: 60, seed: 11 };
  const plain = await runLinearExperiment({ ...base, strategies: [...base.strategies] });
  const oracle = await runLinearExperiment({ ...base, strategies: [...base.strategies], curation: { verifier: "oracle", keep: 0.5 } });
  const noisy = await runLinearExperiment({ ...base, strategies: [...base.strategies], curation: { verifier: "noisy", keep: 0.5 }, verifierNoise: 0.05 });
  const last = (r: typeof plain, k: number) => ({ mean: r.curves[k].meanTestError[7], se: r.curves[k].stdErr[7] });
  for (const k of [0, 1]) {
    const a = last(plain, k);
    const b = last(oracle, k);
    assert.ok(b.mean + 3 * b.se < a.mean - 3 * a.se, `${plain.curves[k].strategy}: oracle ${b.mean} ± ${b.se} vs none ${a.mean} ± ${a.se}`);
    // Model 1 is fit on real data before any curation: the same in every variant.
    assert.equal(oracle.curves[k].meanTestError[0], plain.curves[k].meanTestError[0]);
    assert.equal(oracle.curves[k].theory, null, "no closed form under curation");
  }
  assert.ok(plain.curves[0].theory !== null);
  const n = last(noisy, 0);
  assert.ok(n.mean < last(plain, 0).mean && n.mean > last(oracle, 0).mean, `replace noisy ${n.mean}`);
});

// ---------------------------------------------------------------------------------------------
// real share: exact theory given the design

/**
 * E[‖e_n‖²_Σ | X] by brute force: e_n as an explicit d × (all noise) matrix acting on the stacked noise
 * (ε_1, η_2, ..., η_n), its rows recursed literally, the expectation σ² tr(Σ L Lᵀ).
 */
function bruteForceRealShare(problem: LinearProblem, r: number, iterations: number): number[] {
  const { d, T, sigma2 } = problem.config;
  const X = new Matrix(toRows(problem.X, T, d));
  const S = T - r;
  const synthRows = Array.from(cyclingRows(T, S, r % T));
  const xR = X.subMatrixRow(Array.from({ length: r }, (_, k) => k));
  const xS = S > 0 ? X.subMatrixRow(synthRows) : Matrix.zeros(0, d);
  const train = xR.transpose().mmul(xR).add(xS.transpose().mmul(xS));
  const trainInv = inverse(train);
  const width = T + (iterations - 1) * S;
  let L = Matrix.zeros(d, width);
  L.setSubMatrix(inverse(X.transpose().mmul(X)).mmul(X.transpose()), 0, 0);
  const sigmaX = new Matrix(toRows(problem.sigma, d, d));
  const errorOf = (m: Matrix) => sigma2 * sigmaX.mmul(m).mmul(m.transpose()).trace();
  const out = [errorOf(L)];
  for (let n = 2; n <= iterations; n++) {
    const next = trainInv.mmul(xS.transpose().mmul(xS)).mmul(L);
    const realPart = trainInv.mmul(xR.transpose());
    for (let i = 0; i < d; i++) for (let k = 0; k < r; k++) next.set(i, k, next.get(i, k) + realPart.get(i, k));
    if (S > 0) {
      const synthPart = trainInv.mmul(xS.transpose());
      const offset = T + (n - 2) * S;
      for (let i = 0; i < d; i++) for (let k = 0; k < S; k++) next.set(i, offset + k, next.get(i, offset + k) + synthPart.get(i, k));
    }
    L = next;
    out.push(errorOf(L));
  }
  return out;
}

test("realShareTheory equals the brute-force expectation over every noise vector, given X", () => {
  for (const [d, T, r] of [[3, 8, 0], [3, 8, 3], [3, 8, 8], [4, 12, 5], [2, 5, 4]]) {
    const problem = makeProblem(d, T, 7 + r, 1.5, r % 2 === 1 ? { decay: 1 } : "isotropic");
    const theory = realShareTheory(problem, { realRows: cyclingRows(T, r), syntheticRows: cyclingRows(T, T - r, r % T) }, 6)!;
    const brute = bruteForceRealShare(problem, r, 6);
    theory.forEach((v, i) => assert.ok(Math.abs(v - brute[i]) <= 1e-9 * brute[i], `d=${d} T=${T} r=${r} n=${i + 1}: ${v} vs ${brute[i]}`));
  }
});

test("realShareTheory matches the loop's Monte Carlo over the label noise alone, one fixed design", async () => {
  const d = 3;
  const T = 10;
  const iterations = 5;
  for (const r of [2, 6]) {
    const problem = makeProblem(d, T, 21 + r, 2);
    const theory = realShareTheory(problem, { realRows: cyclingRows(T, r), syntheticRows: cyclingRows(T, T - r, r) }, iterations)!;
    const errors: number[][] = [];
    for (let s = 0; s < 3000; s++) {
      const { records } = await runCollapse({ modality: linearModality(problem, { syntheticStartRow: r }), seed: 1000 + s, loop: { strategy: "replace", iterations, realSize: T, realShare: r / T } });
      errors.push(records.map((x) => x.metrics.testError));
    }
    for (let n = 1; n <= iterations; n++) {
      const col = errors.map((e) => e[n - 1]);
      const mean = col.reduce((a, b) => a + b, 0) / col.length;
      const se = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / (col.length - 1) / col.length);
      assert.ok(Math.abs(zOf(mean, se, theory[n - 1])) < 4, `r=${r} n=${n}: ${mean} ± ${se} vs ${theory[n - 1]}`);
    }
  }
});

test("real share: Monte Carlo over worlds agrees with the averaged exact theory within 4 SE", async () => {
  const settings: LinearSetting[] = [
    { d: 5, T: 8, sigma2: 1 },
    { d: 5, T: 40, sigma2: 0.5 },
  ];
  for (const realShare of [0.25, 0.6]) {
    const { curves } = await runLinearExperiment({ settings, strategies: ["replace"], iterations: 6, seeds: 400, seed: 3, realShare });
    for (const c of curves) {
      assert.ok(c.theory, "a real share has theory");
      for (const n of [1, 3, 6]) {
        const z = zOf(c.meanTestError[n - 1], c.stdErr[n - 1], c.theory[n - 1]);
        assert.ok(Math.abs(z) < 4, `T=${c.setting.T} p=${realShare} n=${n}: z ${z.toFixed(2)}`);
      }
    }
  }
});

test("real share endpoints: p = 0 is replace exactly (records and theory); p = 1 is one fit on the real set", async () => {
  const setting = { d: 4, T: 20, sigma2: 1 };
  const base = { settings: [setting], strategies: ["replace" as const], iterations: 6, seeds: 300, seed: 8 };
  const replace = await runLinearExperiment(base);
  const p0 = await runLinearExperiment({ ...base, realShare: 0 });
  assert.deepEqual(p0.curves[0].perSeed, replace.curves[0].perSeed, "p = 0 draws and fits exactly what replace does");
  // Given X, replace's error is σ² n tr((XᵀX)⁻¹) (Σ = I); averaged over X, E tr((XᵀX)⁻¹) = d/(T−d−1).
  const problem = makeProblem(4, 20, 30);
  const X = new Matrix(toRows(problem.X, 20, 4));
  const oneFit = inverse(X.transpose().mmul(X)).trace();
  realShareTheory(problem, { realRows: new Int32Array(0), syntheticRows: cyclingRows(20, 20) }, 5)!.forEach((v, i) => assert.ok(Math.abs(v - (i + 1) * oneFit) < 1e-9 * v));
  for (const n of [1, 3, 6]) {
    const c = p0.curves[0];
    assert.ok(Math.abs(zOf(c.theory![n - 1], c.stdErr[n - 1], theoryReplace(n, 4, 20, 1)!)) < 4, `p=0 n=${n}: averaged theory ${c.theory![n - 1]} vs ${theoryReplace(n, 4, 20, 1)}`);
  }
  const p1 = await runLinearExperiment({ ...base, realShare: 1 });
  const c = p1.curves[0];
  for (const errors of c.perSeed) assert.ok(errors.every((e) => e === errors[0]), "every model refits the same real data");
  for (const t of c.theory!) assert.ok(Math.abs(t - c.theory![0]) < 1e-9 * t);
  const expected = unitError(4, 20, 1)!;
  assert.ok(Math.abs(zOf(c.meanTestError[5], c.stdErr[5], expected)) < 4, `p=1: ${c.meanTestError[5]} ± ${c.stdErr[5]} vs σ²d/(T−d−1) = ${expected}`);
});

// ---------------------------------------------------------------------------------------------
// configs

type Partial1 = Partial<LinearExperimentConfig> & { settings: LinearSetting[] };

test("bad curation / real-share configs give ConfigErrors naming the field", () => {
  const ok: Partial1 = { settings: [{ d: 3, T: 20, sigma2: 1 }] };
  const bad = (patch: Record<string, unknown>) => () => checkLinearConfig({ ...ok, ...patch } as unknown as Partial1);
  assert.equal(configErrorField(bad({ curation: { verifier: "judge", keep: 0.5 } })), "curation.verifier");
  assert.equal(configErrorField(bad({ curation: { verifier: "oracle" } })), "curation");
  assert.equal(configErrorField(bad({ curation: { verifier: "oracle", keep: 0.5, threshold: -1 } })), "curation");
  assert.equal(configErrorField(bad({ curation: { verifier: "oracle", keep: 0 } })), "curation.keep");
  assert.equal(configErrorField(bad({ curation: { verifier: "oracle", keep: 0.5, extra: 1 } })), "curation.extra");
  assert.equal(configErrorField(bad({ curation: "oracle" })), "curation");
  assert.equal(configErrorField(bad({ curation: { verifier: "noisy", keep: 0.5 } })), "verifierNoise");
  assert.equal(configErrorField(bad({ curation: { verifier: "noisy", keep: 0.5 }, verifierNoise: -0.1 })), "verifierNoise");
  assert.equal(configErrorField(bad({ curation: { verifier: "oracle", keep: 0.5 }, verifierNoise: 0.1 })), "verifierNoise");
  assert.equal(configErrorField(bad({ verifierNoise: 0.1 })), "verifierNoise");
  assert.equal(configErrorField(bad({ realShare: 1.5 })), "realShare");
  assert.equal(configErrorField(bad({ realShare: -0.1 })), "realShare");
  assert.equal(configErrorField(bad({ realShare: 0.5 })), "realShare", "the default strategies include accumulate");
  assert.equal(configErrorField(bad({ realShare: 0.5, strategies: ["replace"], syntheticScale: 2 })), "realShare");
  assert.equal(configErrorField(bad({ realShare: "half", strategies: ["replace"] })), "realShare");
  const good = checkLinearConfig({ ...ok, strategies: ["replace"], realShare: 0.5, curation: { verifier: "noisy", threshold: -1 }, verifierNoise: 0.2 });
  assert.equal(good.realShare, 0.5);
  assert.equal(good.verifierNoise, 0.2);
});

test("unmodified configs keep their old shape and run-store keys: the new fields are absent, not undefined", async () => {
  const plain = checkLinearConfig({ settings: [{ d: 3, T: 20, sigma2: 1 }], iterations: 2, seeds: 2 });
  for (const k of ["curation", "realShare", "verifierNoise"]) assert.ok(!(k in plain), `${k} absent`);
  const store = freshStore("linear-keys");
  await runLinearExperiment(plain, { store });
  const { settings: _s, strategies: _st, ...shared } = plain;
  const oldShape = { iterations: 2, seeds: 2, seed: 0, ridge: 0, covariance: "isotropic", syntheticScale: 1, freshRealScale: 0, testSamples: 0 };
  assert.deepEqual(shared, oldShape);
  for (const strategy of plain.strategies) assert.ok(store.find("linear", { ...oldShape, setting: plain.settings[0], strategy }), `${strategy}: the run is under the old key`);
  // A modifier keys its own run.
  await runLinearExperiment({ ...plain, strategies: ["replace"], realShare: 0.5 }, { store });
  assert.ok(store.find("linear", { ...oldShape, realShare: 0.5, setting: plain.settings[0], strategy: "replace" }));
  // Read back from the store, a real-share cell keeps its theory.
  const again = await runLinearExperiment({ ...plain, strategies: ["replace"], realShare: 0.5 }, { store });
  assert.equal(again.curves[0].cached, true);
  assert.ok(again.curves[0].theory);
});

// ---------------------------------------------------------------------------------------------
// experiments, figures, CLI

test("smoke curation and proportion experiments run and draw their figures", async () => {
  const variants = await runLinearCuration(linearCurationExperiment("smoke"));
  assert.equal(variants.length, 3);
  const fig = linearCurationFigure(variants);
  const dashed = fig.data.filter((t) => (t.line as { dash?: string } | undefined)?.dash === "dash");
  assert.equal(dashed.length, 2, "theory only for the uncurated replace and accumulate");
  assert.equal((fig.layout.yaxis as { type: string }).type, "log");
  const configs = linearProportionExperiment("smoke");
  assert.deepEqual(configs.map((c) => c.realShare), [0, 0.5, 1]);
  const { figure, points } = linearProportionStudyFigure(await runLinearProportion(configs));
  assert.equal(points.length, 3 * 2);
  assert.ok(points.every((p) => p.theory !== null && p.iteration === 5));
  assert.equal(figure.data.filter((t) => (t.line as { dash?: string } | undefined)?.dash === "dash").length, 2, "one theory line per T");
  for (const profile of ["quick", "medium", "paper"] as const) {
    assert.deepEqual(linearProportionExperiment(profile).map((c) => c.realShare), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    assert.equal(linearCurationExperiment(profile).length, 3);
  }
});

function collapse(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, COLLAPSE_RUNS_DIR: tempDir("linear-cli") } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("collapse linear: --curate/--keep/--threshold, --verifier-noise and --real-share", () => {
  const help = collapse(["linear", "--help"]);
  for (const flag of ["--curate", "--keep", "--threshold", "--verifier-noise", "--real-share"]) assert.ok(help.stdout.includes(flag), flag);
  const small = ["linear", "--json", "--no-cache", "--dim", "3", "--samples", "20", "--iterations", "4", "--seeds", "20"];
  const common = [...small, "--strategy", "replace"];
  const last = (stdout: string) => JSON.parse(stdout).curves[0].iterations[3];
  const plain = collapse(common);
  const curated = collapse([...common, "--curate", "noisy", "--keep", "0.5", "--verifier-noise", "0.01"]);
  assert.equal(curated.code, 0, curated.stderr);
  assert.deepEqual(JSON.parse(curated.stdout).config.curation, { verifier: "noisy", keep: 0.5 });
  assert.equal(last(curated.stdout).theory, null);
  assert.ok(last(curated.stdout).meanTestError < last(plain.stdout).meanTestError);
  const threshold = collapse([...common, "--curate", "oracle", "--threshold=-1"]);
  assert.equal(threshold.code, 0, threshold.stderr);
  assert.deepEqual(JSON.parse(threshold.stdout).config.curation, { verifier: "oracle", threshold: -1 });
  const share = collapse([...common, "--real-share", "0.5"]);
  assert.equal(share.code, 0, share.stderr);
  assert.equal(JSON.parse(share.stdout).config.realShare, 0.5);
  assert.ok(typeof last(share.stdout).theory === "number");
  for (const [args, message] of [
    [["--keep", "0.5"], /--keep applies to curation/],
    [["--curate", "oracle"], /exactly one of --keep/],
    [["--curate", "judge", "--keep", "0.5"], /curation\.verifier/],
    [["--curate", "noisy", "--keep", "0.5"], /verifierNoise/],
    [["--real-share", "0.5", "--strategy", "replace,accumulate"], /realShare/],
  ] as const) {
    const r = collapse([...small, ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
