import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";
import * as fs from "node:fs";
import { LM, PROFILES } from "../src/index";
import { configFromFlags, mergeConfig } from "../src/commands/sequenceCommand";
import { lmBaseConfig } from "../src/index";
import { TRAIN_DEFAULTS } from "../src/lm/train";
import { tempDir } from "./helpers";

// collapse vae and collapse molecules: help, bad flags, a smoke run, and reading it back.

const BIN = path.join(packageRoot(), "bin", "collapse.js");

function collapse(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const COMMANDS = [
  { name: "vae", metrics: ["testNegElbo", "frechetDistance", "precision", "recall"] },
  { name: "molecules", metrics: ["testLoss", "coverage", "matching"] },
];

for (const { name, metrics } of COMMANDS) {
  test(`collapse ${name} --help names every flag and profile`, () => {
    const help = collapse([name, "--help"]);
    assert.equal(help.code, 0, help.stderr);
    for (const flag of ["--profile", "--strategy", "--iterations", "--data", "--seed", "--json", "--no-cache", "--runs-dir", "--backend"]) assert.ok(help.stdout.includes(flag), `${name} --help: ${flag}`);
    for (const profile of PROFILES.map((p) => `${p}:`)) assert.ok(help.stdout.includes(profile), `${name} --help describes ${profile}`);
    assert.ok(collapse(["--help"]).stdout.includes(`collapse ${name}`), "listed in collapse --help");
  });

  test(`collapse ${name}: bad flags exit 2 naming the flag`, () => {
    for (const [args, message] of [
      [["--strategy", "nope"], /--strategy: unknown strategy "nope"/],
      [["--iterations", "0"], /--iterations: /],
      [["--iterations", "two"], /--iterations: expected an integer/],
      [["--profile", "huge"], /--profile/],
      [["--data", "nowhere:x"], /data/],
    ] as const) {
      const r = collapse([name, ...args, "--no-cache"]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  test(`collapse ${name} --profile smoke --json runs a sequence and reads it back`, () => {
    const runs = tempDir(`cli-${name}`);
    const r = collapse([name, "--profile", "smoke", "--iterations", "2", "--strategy", "accumulate", "--json", "--runs-dir", runs]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.strategy, "accumulate");
    assert.equal(json.iterations.length, 2);
    for (const it of json.iterations) for (const m of metrics) assert.ok(Number.isFinite(it[m]), `iteration ${it.iteration}: ${m}`);
    assert.ok(json.iterations[1].trainSize > json.iterations[0].trainSize, "accumulate grows the training set");
    const again = collapse([name, "--profile", "smoke", "--iterations", "2", "--strategy", "accumulate", "--json", "--runs-dir", runs]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).resumedFrom, 2, "read back from the run store");
    assert.deepEqual(JSON.parse(again.stdout).iterations.map((i: Record<string, number>) => metrics.map((m) => i[m])), json.iterations.map((i: Record<string, number>) => metrics.map((m) => i[m])));
  });
}

test("collapse gaussian: the Figure 8 loop from the same command builder, deterministic for a seed", () => {
  const help = collapse(["gaussian", "--help"]);
  assert.equal(help.code, 0, help.stderr);
  for (const flag of ["--profile", "--config", "--strategy", "--iterations", "--seed", "--dim", "--samples", "--reference-size", "--json"]) assert.ok(help.stdout.includes(flag), `gaussian --help: ${flag}`);
  assert.ok(!help.stdout.includes("--backend"), "no tensors, no --backend");
  const run = (args: string[]) => collapse(["gaussian", "--profile", "smoke", "--json", ...args]);
  const a = JSON.parse(run(["--strategy", "accumulate", "--iterations", "6"]).stdout);
  assert.equal(a.command, "gaussian");
  assert.equal(a.iterations.length, 6);
  assert.deepEqual(a.iterations.map((i: { trainSize: number }) => i.trainSize), [50, 100, 150, 200, 250, 300]);
  const noSeconds = (rows: Record<string, number>[]) => rows.map(({ seconds: _, ...r }) => r);
  assert.deepEqual(noSeconds(JSON.parse(run(["--strategy", "accumulate", "--iterations", "6"]).stdout).iterations), noSeconds(a.iterations));
  const other = JSON.parse(run(["--strategy", "accumulate", "--iterations", "6", "--seed", "1"]).stdout);
  assert.notDeepEqual(other.iterations.map((i: { frechetDistance: number }) => i.frechetDistance), a.iterations.map((i: { frechetDistance: number }) => i.frechetDistance));
  const bad = collapse(["gaussian", "--dim", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--dim: must be ≥ 1/);
});

test("--config FILE.json is merged over the profile (objects field by field), then the flags; bad files are named", () => {
  assert.deepEqual(mergeConfig({ a: 1, train: { epochs: 2, batchSize: 8 }, model: { channels: [8, 16] } }, { train: { epochs: 5 }, model: { channels: [4] } }), { a: 1, train: { epochs: 5, batchSize: 8 }, model: { channels: [4] } });
  const dir = tempDir("cli-config");
  const file = path.join(dir, "gauss.json");
  fs.writeFileSync(file, JSON.stringify({ samples: 20, iterations: 4 }));
  const out = JSON.parse(collapse(["gaussian", "--profile", "smoke", "--json", "--config", file, "--iterations", "3"]).stdout);
  assert.equal(out.config.samples, 20, "from the file");
  assert.equal(out.iterations.length, 3, "the flag wins over the file");
  assert.equal(out.iterations[0].trainSize, 20);
  const cases: [string, RegExp][] = [
    [JSON.stringify({ sample: 20 }), /sample/],
    ["[1, 2]", /must hold a JSON object/],
    ["{ not json", /is not valid JSON/],
  ];
  for (const [text, message] of cases) {
    fs.writeFileSync(file, text);
    const r = collapse(["gaussian", "--config", file]);
    assert.equal(r.code, 2, `${text}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
  const missing = collapse(["vae", "--config", path.join(dir, "nowhere.json"), "--no-cache"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--config: cannot read .*nowhere\.json: ENOENT/);
});

test("collapse vae: the training flags reach the config; a flag that restates the profile keeps the run key", () => {
  const run = (args: string[]) => JSON.parse(collapse(["vae", "--profile", "smoke", "--iterations", "1", "--no-cache", "--json", ...args]).stdout);
  const out = run(["--epochs", "1", "--batch", "16", "--lr", "0.005", "--train-images", "48"]);
  assert.deepEqual([out.config.train.epochs, out.config.train.batchSize, out.config.train.learningRate, out.config.trainImages], [1, 16, 0.005, 48]);
  assert.equal(out.iterations[0].trainSize, 48);
});

test("a flag that restates what the profile means leaves the config, and so the run key, unchanged", () => {
  const base = lmBaseConfig("smoke");
  assert.equal(base.train.epochs, undefined, "the smoke LM relies on the default epoch count");
  assert.deepEqual(configFromFlags(LM, { epochs: String(TRAIN_DEFAULTS.epochs), "fresh-real": "0", temperature: "1" }, "smoke"), base);
  const changed = configFromFlags(LM, { epochs: "3", "fresh-real": "5" }, "smoke");
  assert.deepEqual([changed.train.epochs, changed.freshRealDocuments], [3, 5]);
  assert.equal(base.train.epochs, undefined, "the profile's config is not mutated");
  const quick = configFromFlags(LM, { documents: "50" }, "quick");
  assert.deepEqual([quick.trainDocuments, quick.trainTokens], [50, undefined], "--documents replaces the profile's trainTokens");
  assert.throws(() => configFromFlags(LM, { tokens: "1000", documents: "50" }, "quick"), /--tokens and --documents give the same size two ways/);
});

test("collapse vae --data folder:DIR with no size flag fits the profile's sizes to the folder; a size given is checked, not changed", async () => {
  const { generateFaces } = await import("../src/images/faces");
  const { encodePng, imageGrid } = await import("../src/images/grid");
  const { selectImages } = await import("../src/images/types");
  const dir = tempDir("cli-vae-folder");
  const faces = generateFaces({ size: 16, count: 50, seed: 3, split: "train" });
  for (let i = 0; i < 50; i++) {
    const one = { images: selectImages(faces, [i]).images, n: 1, height: 16, width: 16 };
    fs.writeFileSync(path.join(dir, `face${i}.png`), await encodePng(imageGrid(one, { columns: 1, padding: 0 })));
  }
  const r = collapse(["vae", "--profile", "smoke", "--data", `folder:${dir}`, "--iterations", "1", "--no-cache", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual([out.config.trainImages, out.config.testImages], [45, 5], "90% / 10% of 50 files, below the smoke profile's 64 / 32");
  assert.equal(out.config.samplesPerIteration, 45, "as many samples as real images, as the profile had");
  assert.equal(out.iterations[0].trainSize, 45);
  const given = collapse(["vae", "--profile", "smoke", "--data", `folder:${dir}`, "--train-images", "64", "--no-cache"]);
  assert.equal(given.code, 2);
  assert.match(given.stderr, /--train-images: .* has 45 training images/);
});

test("--seeds K runs K sequences (seeds S..S+K−1) and reports the mean ± SE of each metric per iteration", { timeout: 180_000 }, () => {
  // Gaussian: in-process, one after another; the mean is over the single-seed runs.
  const many = collapse(["gaussian", "--profile", "smoke", "--iterations", "4", "--seed", "5", "--seeds", "3", "--json"]);
  assert.equal(many.code, 0, many.stderr);
  const out = JSON.parse(many.stdout);
  assert.deepEqual(out.seeds, [5, 6, 7]);
  const singles = [5, 6, 7].map((seed) => JSON.parse(collapse(["gaussian", "--profile", "smoke", "--iterations", "4", "--seed", String(seed), "--json"]).stdout));
  for (let n = 0; n < 4; n++) {
    const values: number[] = singles.map((s) => s.iterations[n].frechetDistance);
    const mean = values.reduce((a, b) => a + b, 0) / 3;
    const se = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / 2 / 3);
    assert.ok(Math.abs(out.mean[n].frechetDistance.mean - mean) < 1e-12, `iteration ${n + 1} mean`);
    assert.ok(Math.abs(out.mean[n].frechetDistance.se - se) < 1e-12, `iteration ${n + 1} SE`);
  }
  assert.ok(Math.abs(out.mean[3].frechetDistanceDelta.mean - singles.reduce((a, s) => a + s.iterations[3].frechetDistance - s.iterations[0].frechetDistance, 0) / 3) < 1e-12);

  // VAE: through the sequence runner (worker processes) into the store, then read back.
  const store = tempDir("seeds");
  const args = ["vae", "--profile", "smoke", "--iterations", "2", "--seeds", "2", "--runs-dir", store, "--json"];
  const first = collapse(args);
  assert.equal(first.code, 0, first.stderr);
  const vae = JSON.parse(first.stdout);
  assert.deepEqual(vae.runs.map((r: { seed: number }) => r.seed), [0, 1]);
  assert.notEqual(vae.runs[0].iterations[0].testNegElbo, vae.runs[1].iterations[0].testNegElbo, "the seeds differ");
  const again = JSON.parse(collapse(args).stdout);
  assert.deepEqual(again.runs.map((r: { resumedFrom: number }) => r.resumedFrom), [2, 2], "both read back from the store");
  assert.deepEqual(again.mean, vae.mean);
  assert.match(collapse(["vae", "--seeds", "0"]).stderr, /--seeds: must be ≥ 1/);
});
