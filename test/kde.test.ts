import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { runSequence } from "../src/collapse/runSequence";
import { checkSequence } from "../src/collapse/spec";
import { DataError } from "../src/errors";
import { DATASETS, generate } from "../src/kde/data";
import { type KdeSequenceConfig, checkKdeSequenceConfig, pointsCodec } from "../src/kde/modality";
import { type Kde, fitKde, logDensities, meanLogDensity, ruleOfThumb, sampleKde } from "../src/kde/model";
import { KDE } from "../src/kde/spec";
import { Rng } from "../src/random";
import { BIN, configErrorField, tempDir } from "./helpers";

const BASE: KdeSequenceConfig = { dataset: "moons", noise: 0.1, samples: 100, bandwidth: "scott", strategy: "replace", iterations: 20, seed: 0, testSize: 300, referenceSize: 400 };

const pointsOf = (xy: number[][]) => ({ points: Float64Array.from(xy.flat()), n: xy.length });
const radius = (p: { points: Float64Array }, i: number) => Math.hypot(p.points[2 * i], p.points[2 * i + 1]);

test("each toy set is n finite 2-D points, the same for a seed and different across seeds", () => {
  for (const dataset of DATASETS) {
    const a = generate(dataset, 300, 0.1, Rng.fromSeed(4));
    assert.equal(a.n, 300);
    assert.equal(a.points.length, 600, dataset);
    assert.ok(a.points.every(Number.isFinite), dataset);
    assert.deepEqual(generate(dataset, 300, 0.1, Rng.fromSeed(4)), a, `${dataset}: deterministic`);
    assert.notDeepEqual(generate(dataset, 300, 0.1, Rng.fromSeed(5)).points, a.points, `${dataset}: seeded`);
  }
});

test("the toy sets have their shapes: circles of radii 1 and ½, three blobs whose spread is the noise, the roll's radii", () => {
  const circles = generate("circles", 2000, 1e-4, Rng.fromSeed(1));
  const radii = Array.from({ length: circles.n }, (_, i) => radius(circles, i));
  assert.ok(radii.every((r) => Math.abs(r - 1) < 1e-3 || Math.abs(r - 0.5) < 1e-3), "every point on one of the circles");
  const inner = radii.filter((r) => r < 0.75).length / radii.length;
  assert.ok(Math.abs(inner - 0.5) < 0.05, `half on the inner circle: ${inner}`);
  const roll = generate("swiss-roll", 2000, 1e-4, Rng.fromSeed(1));
  const rollRadii = Array.from({ length: roll.n }, (_, i) => radius(roll, i));
  assert.ok(Math.min(...rollRadii) > 0.47 && Math.max(...rollRadii) < 1.414, `roll radii ${Math.min(...rollRadii)}..${Math.max(...rollRadii)}`);
  // Blobs: every point's offset from its nearest corner of the radius-1.5 triangle is the noise.
  const blobs = generate("blobs", 3000, 0.2, Rng.fromSeed(2));
  const corners = [0, 1, 2].map((k) => [1.5 * Math.cos(Math.PI / 2 + (2 * Math.PI * k) / 3), 1.5 * Math.sin(Math.PI / 2 + (2 * Math.PI * k) / 3)]);
  let sq = 0;
  for (let i = 0; i < blobs.n; i++) sq += Math.min(...corners.map(([x, y]) => (blobs.points[2 * i] - x) ** 2 + (blobs.points[2 * i + 1] - y) ** 2));
  const std = Math.sqrt(sq / (2 * blobs.n));
  assert.ok(Math.abs(std - 0.2) < 0.01, `per-coordinate spread ${std}`);
  // Moons: the upper one is the unit half circle, the lower one the same shifted by (1, −½).
  const moons = generate("moons", 2000, 1e-4, Rng.fromSeed(3));
  for (let i = 0; i < moons.n; i++) {
    const [x, y] = [moons.points[2 * i], moons.points[2 * i + 1]];
    const onUpper = Math.abs(Math.hypot(x, y) - 1) < 1e-3 && y > -1e-3;
    const onLower = Math.abs(Math.hypot(x - 1, y - 0.5) - 1) < 1e-3 && y < 0.5 + 1e-3;
    assert.ok(onUpper || onLower, `point ${i} (${x}, ${y}) is on neither moon`);
  }
});

test("the density at a point is the mean of the kernels, by hand; far from every point it stays finite", () => {
  const model: Kde = { centres: pointsOf([[0, 0], [1, 0]]), bandwidth: 1 };
  // At (0, 0): ½·(N(0; 1) + N(1; 1)) with the 2-D kernel N(d; h) = exp(−d²/2h²)/(2πh²).
  const [atOrigin, between] = logDensities(model, pointsOf([[0, 0], [0.5, 0.5]]));
  assert.ok(Math.abs(atOrigin - Math.log((0.5 * (1 + Math.exp(-0.5))) / (2 * Math.PI))) < 1e-12, `${atOrigin}`);
  assert.ok(Math.abs(between - Math.log(Math.exp(-0.25) / (2 * Math.PI))) < 1e-12, `${between}`);
  // 99 and 100 away at h = 0.1: the nearer kernel alone, −99²/0.02 in the exponent, no underflow to −∞.
  const narrow: Kde = { centres: model.centres, bandwidth: 0.1 };
  const [far] = logDensities(narrow, pointsOf([[100, 0]]));
  assert.ok(Math.abs(far - (-(99 ** 2) / 0.02 + Math.log(0.5) - Math.log(2 * Math.PI * 0.01))) < 1e-6, `${far}`);
});

test("a KDE's density integrates to 1 over the plane", () => {
  const train = generate("moons", 60, 0.1, Rng.fromSeed(7));
  const model = fitKde(train, 0.15, Rng.fromSeed(0));
  // A grid step of 0.02 against kernels of width 0.15; the box reaches 6 kernel widths past every point.
  const step = 0.02;
  const grid: number[][] = [];
  for (let x = -2; x <= 3; x += step) for (let y = -1.5; y <= 2; y += step) grid.push([x, y]);
  const mass = logDensities(model, pointsOf(grid)).reduce((s, v) => s + Math.exp(v), 0) * step * step;
  assert.ok(Math.abs(mass - 1) < 1e-3, `mass ${mass}`);
});

test("the fitted bandwidth rules are their formulas; cross-validation narrows Scott's on moons and predicts better", () => {
  // Both coordinates 0, 1, ..., 6, 100: variance 1032.609375, quartiles 1.75 and 5.25 (interpolated), n = 8.
  const values = [0, 1, 2, 3, 4, 5, 6, 100];
  const heavy = pointsOf(values.map((v) => [v, v]));
  const shrink = 8 ** (-1 / 6);
  assert.ok(Math.abs(ruleOfThumb(heavy, "scott") - Math.sqrt(1032.609375) * shrink) < 1e-9);
  assert.ok(Math.abs(ruleOfThumb(heavy, "silverman") - (3.5 / 1.349) * shrink) < 1e-9);
  // A light-tailed set: the standard deviation is the smaller spread, so Silverman's rule is Scott's.
  const square = pointsOf([[0, 0], [2, 0], [0, 4], [2, 4]]);
  assert.ok(Math.abs(ruleOfThumb(square, "scott") - Math.sqrt(2.5) * 4 ** (-1 / 6)) < 1e-12);
  assert.equal(ruleOfThumb(square, "silverman"), ruleOfThumb(square, "scott"));
  assert.equal(fitKde(square, "scott", Rng.fromSeed(0)).bandwidth, ruleOfThumb(square, "scott"));
  assert.equal(fitKde(square, 0.3, Rng.fromSeed(0)).bandwidth, 0.3);

  const train = generate("moons", 400, 0.1, Rng.fromSeed(1));
  const test = generate("moons", 1000, 0.1, Rng.fromSeed(2));
  const scott = fitKde(train, "scott", Rng.fromSeed(3));
  const cv = fitKde(train, "cv", Rng.fromSeed(3));
  assert.deepEqual(fitKde(train, "cv", Rng.fromSeed(3)), cv, "deterministic for its rng");
  assert.ok(cv.bandwidth < 0.6 * scott.bandwidth, `cv ${cv.bandwidth} vs Scott ${scott.bandwidth}`);
  assert.ok(meanLogDensity(cv, test) > meanLogDensity(scott, test) + 0.1, `held-out log-likelihood: cv ${meanLogDensity(cv, test)}, Scott ${meanLogDensity(scott, test)}`);
});

test("sampling: a training point plus N(0, h²) kernel noise", () => {
  const model: Kde = { centres: pointsOf([[5, -5]]), bandwidth: 0.5 };
  const s = sampleKde(model, 20000, Rng.fromSeed(9));
  let mx = 0;
  let vx = 0;
  for (let i = 0; i < s.n; i++) mx += s.points[2 * i] / s.n;
  for (let i = 0; i < s.n; i++) vx += (s.points[2 * i] - mx) ** 2 / s.n;
  assert.ok(Math.abs(mx - 5) < 0.02 && Math.abs(vx - 0.25) < 0.01, `mean ${mx}, variance ${vx}`);
  assert.deepEqual(sampleKde(model, 10, Rng.fromSeed(9)), sampleKde(model, 10, Rng.fromSeed(9)));
});

test("the dataset codec round-trips, and corrupt bytes are a DataError saying what is wrong", () => {
  const data = generate("swiss-roll", 37, 0.05, Rng.fromSeed(1));
  assert.deepEqual(pointsCodec.decode(pointsCodec.encode(data)), data);
  const empty = { points: new Float64Array(0), n: 0 };
  assert.deepEqual(pointsCodec.decode(pointsCodec.encode(empty)), empty);
  const bytes = pointsCodec.encode(data);
  const fails = (b: Uint8Array, message: RegExp) =>
    assert.throws(
      () => pointsCodec.decode(b),
      (e: unknown) => e instanceof DataError && message.test(e.message),
    );
  fails(bytes.subarray(0, 3), /truncated header/);
  fails(bytes.subarray(0, bytes.length - 1), /truncated or corrupt: 595 bytes, but 37 points take 596/);
  const nan = bytes.slice();
  new DataView(nan.buffer).setFloat64(4 + 8 * 7, NaN, true);
  fails(nan, /point 3 has a non-finite y coordinate/);
});

test("config errors name their field", () => {
  const bad = (over: Record<string, unknown>) => configErrorField(() => checkSequence(KDE, { ...BASE, ...over } as KdeSequenceConfig));
  assert.equal(bad({ dataset: "spiral" }), "dataset");
  assert.equal(bad({ noise: 0 }), "noise");
  assert.equal(bad({ samples: 1 }), "samples");
  assert.equal(bad({ bandwidth: "wide" }), "bandwidth");
  assert.equal(bad({ bandwidth: -0.1 }), "bandwidth");
  assert.equal(bad({ testSize: 0 }), "testSize");
  assert.equal(bad({ extra: 1 }), "extra");
  assert.equal(bad({ curation: { verifier: "oracle", keep: 0.5 } }), "curation.verifier");
  assert.equal(bad({ strategy: "accumulate", realShare: 0.5 }), "realShare");
  assert.doesNotThrow(() => checkKdeSequenceConfig({ ...BASE, bandwidth: "cv", curation: { verifier: "self", threshold: -3 } }));
});

/** The last iteration's test log-likelihood of a sequence, run in memory. */
async function finalTestLogLikelihood(c: KdeSequenceConfig): Promise<{ first: number; last: number }> {
  const { records } = await runSequence(KDE, c);
  assert.equal(records.length, c.iterations);
  return { first: records[0].metrics.testLogLikelihood, last: records.at(-1)!.metrics.testLogLikelihood };
}

test("over 20 refits replace's test log-likelihood falls far below accumulate's, which stays near the first model's", async () => {
  for (const bandwidth of ["scott", 0.1] as const) {
    const gaps: number[] = [];
    for (let seed = 0; seed < 5; seed++) {
      const replace = await finalTestLogLikelihood({ ...BASE, bandwidth, seed, strategy: "replace" });
      const accumulate = await finalTestLogLikelihood({ ...BASE, bandwidth, seed, strategy: "accumulate" });
      assert.equal(replace.first, accumulate.first, "model 1 is the same under both");
      assert.ok(accumulate.last > accumulate.first - 0.5, `bandwidth ${bandwidth}, seed ${seed}: accumulate ${accumulate.first} → ${accumulate.last}`);
      assert.ok(replace.last < accumulate.last - 1, `bandwidth ${bandwidth}, seed ${seed}: replace ${replace.last} vs accumulate ${accumulate.last}`);
      gaps.push(accumulate.last - replace.last);
    }
    const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
    console.log(`bandwidth ${bandwidth}: accumulate − replace after 20 fits of 100 moons points, mean over 5 seeds ${mean.toFixed(2)} nats`);
    assert.ok(mean > 2, `mean gap ${mean}`);
  }
});

test("a reference-curated sequence draws twice what it keeps; a real share of ½ keeps half of every training set real", async () => {
  const curated = await runSequence(KDE, { ...BASE, iterations: 4, curation: { verifier: "reference", keep: 0.5 } });
  assert.deepEqual(
    curated.records.map((r) => r.curation),
    [{ drawn: 200, kept: 100 }, { drawn: 200, kept: 100 }, { drawn: 200, kept: 100 }, undefined],
    "models 1-3 draw for the pool; the last draws nothing",
  );
  assert.ok(curated.records.every((r) => r.trainSize === 100 && Number.isFinite(r.metrics.testLogLikelihood)));
  // Kept by the reference's density, the curated samples score higher there than uncurated ones.
  const plain = await runSequence(KDE, { ...BASE, iterations: 4 });
  assert.ok(curated.records[1].metrics.sampleLogLikelihood > plain.records[1].metrics.sampleLogLikelihood, "curation keeps the samples the reference finds likelier");

  const shared = await runSequence(KDE, { ...BASE, realShare: 0.5 });
  assert.deepEqual(
    shared.records.map((r) => [r.trainSize, r.realInTrain]),
    [[100, 100], ...Array.from({ length: 19 }, () => [100, 50])],
  );
  const replace = await finalTestLogLikelihood(BASE);
  assert.ok(shared.records.at(-1)!.metrics.testLogLikelihood > replace.last + 1, `real share ½ ${shared.records.at(-1)!.metrics.testLogLikelihood} vs replace ${replace.last}`);
});

function collapse(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, COLLAPSE_RUNS_DIR: tempDir("kde-runs-env") } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("collapse kde --profile smoke: a table, JSON with every metric, flags reaching the config, a flag's error", () => {
  const runs = tempDir("kde-cli");
  const table = collapse(["kde", "--profile", "smoke", "--runs-dir", runs]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /test log-likelihood/);
  assert.match(table.stdout, /moons \(noise 0\.1\), 100 points per set, bandwidth scott, 5 iterations · replace/);
  const json = JSON.parse(collapse(["kde", "--profile", "smoke", "--json", "--runs-dir", runs, "--dataset", "circles", "--bandwidth", "0.2", "--strategy", "accumulate"]).stdout);
  assert.equal(json.command, "kde");
  assert.deepEqual([json.config.dataset, json.config.bandwidth], ["circles", 0.2]);
  assert.deepEqual(json.iterations.map((i: { trainSize: number }) => i.trainSize), [100, 200, 300, 400, 500]);
  for (const i of json.iterations) {
    assert.equal(i.bandwidth, 0.2);
    for (const key of ["testLogLikelihood", "sampleLogLikelihood", "totalVariance"]) assert.ok(Number.isFinite(i[key]), `${key}: ${i[key]}`);
  }
  const bad = collapse(["kde", "--bandwidth", "wide", "--no-cache"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--bandwidth: expected a positive number or one of scott, silverman, cv, got "wide"/);
  const help = collapse(["kde", "--help"]);
  for (const flag of ["--dataset", "--bandwidth", "--samples", "--noise", "--test-size", "--fresh-real"]) assert.ok(help.stdout.includes(flag), `kde --help: ${flag}`);
});

test("collapse reproduce --only kde draws its replace vs accumulate figure", () => {
  const out = tempDir("kde-reproduce");
  const r = collapse(["reproduce", "--profile", "smoke", "--only", "kde", "--out", out, "--runs-dir", tempDir("kde-reproduce-runs")]);
  assert.equal(r.code, 0, r.stderr);
  const figure = fs.readFileSync(path.join(out, "kde.json"), "utf8");
  assert.ok(figure.includes("test log-likelihood"));
  assert.ok(figure.includes("replace") && figure.includes("accumulate"));
  assert.ok(fs.existsSync(path.join(out, "figures.html")));
});
