import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";
import { tempDir } from "./helpers";
import { theoryAccumulate, theoryReplace } from "../src/linear/theory";

const BIN = path.join(packageRoot(), "bin", "collapse.js");

function collapse(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("collapse --help lists the commands; no command is a usage error", () => {
  const help = collapse(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /collapse linear/);
  assert.match(help.stdout, /collapse reproduce/);
  assert.equal(collapse([]).code, 2);
});

test("each command has --help naming its flags", () => {
  const linear = collapse(["linear", "--help"]);
  assert.equal(linear.code, 0);
  for (const flag of ["--strategy", "--dim", "--samples", "--sigma2", "--iterations", "--seeds", "--seed", "--ridge", "--json"]) {
    assert.ok(linear.stdout.includes(flag), `linear --help mentions ${flag}`);
  }
  const reproduce = collapse(["reproduce", "--help"]);
  assert.equal(reproduce.code, 0);
  for (const flag of ["--profile", "--only", "--json"]) assert.ok(reproduce.stdout.includes(flag));
});

test("collapse linear --json prints mean, standard error and theory per iteration", () => {
  const r = collapse(["linear", "--json", "--no-cache", "--dim", "5", "--samples", "40", "--sigma2", "2", "--iterations", "4", "--seeds", "30", "--strategy", "replace,accumulate,accumulate-subsample"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.curves.length, 3);
  const [replace, accumulate, subsample] = out.curves;
  assert.equal(replace.strategy, "replace");
  assert.deepEqual(replace.setting, { d: 5, T: 40, sigma2: 2 });
  assert.equal(replace.iterations.length, 4);
  for (const [i, it] of replace.iterations.entries()) {
    assert.equal(it.iteration, i + 1);
    assert.ok(it.meanTestError > 0 && it.stdErr > 0);
    assert.ok(Math.abs(it.theory - theoryReplace(i + 1, 5, 40, 2)!) < 1e-12);
  }
  assert.ok(Math.abs(accumulate.iterations[3].theory - theoryAccumulate(4, 5, 40, 2)!) < 1e-12);
  assert.equal(subsample.iterations[0].theory, null);
  // Iteration 1 trains on the same real data under every strategy.
  assert.equal(replace.iterations[0].meanTestError, accumulate.iterations[0].meanTestError);
});

test("collapse linear is deterministic for a seed and differs across seeds", () => {
  const args = ["linear", "--json", "--no-cache", "--iterations", "3", "--seeds", "5"];
  const a = JSON.parse(collapse([...args, "--seed", "7"]).stdout);
  const b = JSON.parse(collapse([...args, "--seed", "7"]).stdout);
  const c = JSON.parse(collapse([...args, "--seed", "8"]).stdout);
  assert.deepEqual(a.curves, b.curves);
  assert.notDeepEqual(a.curves, c.curves);
});

test("collapse linear caches in the run store: a re-run reads the finished cells back", () => {
  const runs = tempDir("cli");
  const args = ["linear", "--runs-dir", runs, "--iterations", "3", "--seeds", "8"];
  const first = collapse([...args, "--json"]);
  assert.equal(first.code, 0, first.stderr);
  const dirs = fs.readdirSync(path.join(runs, "linear"));
  assert.equal(dirs.length, 2); // replace and accumulate
  for (const d of dirs) {
    for (const f of ["config.json", "env.json", "metrics.jsonl", "done.json"]) assert.ok(fs.existsSync(path.join(runs, "linear", d, f)), `${d}/${f}`);
  }
  const second = collapse(args);
  assert.match(second.stdout, /from run store/);
  assert.deepEqual(JSON.parse(collapse([...args, "--json"]).stdout).curves, JSON.parse(first.stdout).curves);
});

test("bad input exits 2 with a message naming the problem", () => {
  const cases: [string[], RegExp][] = [
    [["linear", "--strategy", "recycle"], /unknown strategy "recycle"/],
    [["linear", "--dim", "ten"], /--dim: expected an integer/],
    [["linear", "--dim", "20", "--samples", "10"], /settings\[0\]\.T/],
    [["linear", "--iterations", "0"], /iterations: must be ≥ 1/],
    [["linear", "--sigma2=-1"], /sigma2: must be ≥ 0/],
    [["linear", "--ridge=-0.5"], /ridge: must be ≥ 0/],
    [["linear", "--covariance", "banana"], /--covariance/],
    [["linear", "--bogus"], /Unknown option '--bogus'/],
    [["reproduce", "--profile", "huge"], /--profile: expected one of smoke, quick, medium, paper/],
    [["reproduce", "--only", "nothing"], /unknown experiment "nothing"/],
    [["frobnicate"], /unknown command "frobnicate"/],
  ];
  for (const [args, message] of cases) {
    const r = collapse(args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit code`);
    assert.match(r.stderr, message, `${args.join(" ")}: ${r.stderr}`);
  }
});

test("a corrupt run directory is reported by path, not silently recomputed", () => {
  const runs = tempDir("cli");
  const args = ["linear", "--runs-dir", runs, "--iterations", "2", "--seeds", "3", "--strategy", "replace"];
  assert.equal(collapse(args).code, 0);
  const [dir] = fs.readdirSync(path.join(runs, "linear"));
  const metrics = path.join(runs, "linear", dir, "metrics.jsonl");
  const before = fs.readFileSync(metrics, "utf8");
  fs.writeFileSync(path.join(runs, "linear", dir, "config.json"), "{not json");
  const r = collapse(args);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /config\.json/);
  assert.equal(fs.readFileSync(metrics, "utf8"), before, "results already written are untouched");
});

test("collapse reproduce --profile smoke writes every figure and JSON results", () => {
  const out = tempDir("repro");
  const r = collapse(["reproduce", "--profile", "smoke", "--out", out, "--json", "--runs-dir", tempDir("repro-runs")]);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  assert.equal(json.profile, "smoke");
  assert.ok(json.results.linear.curves.length > 0);
  assert.deepEqual(json.results.lm.map((r: { model: string; strategy: string }) => `${r.model} ${r.strategy}`), ["gpt2-smoke replace", "gpt2-smoke accumulate", "llama2-smoke replace", "llama2-smoke accumulate"]);
  for (const r of json.results.lm) assert.ok(r.iterations.every((i: { testCrossEntropy: number }) => Number.isFinite(i.testCrossEntropy)));
  assert.equal(json.results["lm-appendix"].table2.length, 5, "Table 2 rows at smoke");
  assert.match(fs.readFileSync(path.join(out, "table2.csv"), "utf8"), /^model,t=1,t=2 acc,t=2 acc Δ,/);
  assert.match(fs.readFileSync(path.join(out, "table2.md"), "utf8"), /^\| model \| t=1 \| t=2 acc \|/);
  for (const name of ["figure2", "figure9", "figure2-strategies", "figure2-normalized", "figure3", "figure4-gpt2-smoke", "figure4-llama2-smoke", "figure10", "figure11", "figure5", "figure6", "section3_3-attributes", "figure8-gaussian", "figure8-vae", "figure2-strategies-compute", "figure3-compute", "figure5-compute", "figure6-compute", "controls-vae-compute", "proportion-lm", "proportion-vae", "proportion-molecules", "proportion-gaussian", "proportion-kde", "proportion-linear", "curation-linear", "curation-lm", "curation-vae", "curation-molecules", "curation-gaussian", "curation-kde", "thrive-linear", "thrive-gaussian"]) {
    const fig = JSON.parse(fs.readFileSync(path.join(out, `${name}.json`), "utf8"));
    assert.ok(Array.isArray(fig.data) && fig.data.length > 0, name);
  }
  // The studies beyond the paper: every modality's proportion sweep ends at a real share of 1.
  for (const [name, runs] of Object.entries(json.results.proportion as Record<string, { realShare: number }[]>)) assert.deepEqual([...new Set(runs.map((r) => r.realShare))], [0, 0.5, 1], name);
  assert.deepEqual(json.results.curation.linear.map((v: { label: string }) => v.label.split(" ")[0]), ["no", "oracle", "noisy"]);
  for (const [name, runs] of Object.entries(json.results.curation as Record<string, { curation?: unknown; drawsPerKept?: number }[]>).filter(([name]) => name !== "linear")) {
    assert.equal(runs.filter((r) => r.curation).length, 2, `${name}: replace and accumulate curated`);
    for (const r of runs.filter((r) => r.curation)) assert.equal(r.drawsPerKept, 2, name);
  }
  const html = fs.readFileSync(path.join(out, "figures.html"), "utf8");
  assert.equal(html.split('id="collapse-kit-plotlyjs"').length - 1, 1, "plotly.js inlined exactly once");
  assert.ok(!/<script[^>]+src=/.test(html), "no external scripts: the page works offline");
});

test("collapse linear --config FILE.json: the file's fields, flags winning, unknown fields named", () => {
  const dir = tempDir("cli-linear-config");
  const file = path.join(dir, "lin.json");
  fs.writeFileSync(file, JSON.stringify({ settings: [{ d: 2, T: 8, sigma2: 1 }], iterations: 3, seeds: 4 }));
  const r = collapse(["linear", "--config", file, "--seeds", "2", "--no-cache", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.config.settings, [{ d: 2, T: 8, sigma2: 1 }]);
  assert.equal(out.config.iterations, 3);
  assert.equal(out.config.seeds, 2, "the flag wins");
  fs.writeFileSync(file, JSON.stringify({ iteration: 3 }));
  const bad = collapse(["linear", "--config", file, "--no-cache"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /iteration: not a field of a linear experiment/);
});

test("collapse reproduce --seeds K trains K sequences per strategy and draws their mean with a ±1 SE band", { timeout: 300_000 }, () => {
  const store = tempDir("reproduce-seeds");
  const out = tempDir("reproduce-out");
  {
    const r = collapse(["reproduce", "--profile", "smoke", "--only", "vae", "--seeds", "2", "--runs-dir", store, "--out", out, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).results.vae.length, 4, "2 strategies × 2 seeds");
    const fig = JSON.parse(fs.readFileSync(path.join(out, "figure6.json"), "utf8"));
    const bands = fig.data.filter((t: { fill?: string }) => t.fill === "toself");
    assert.equal(bands.length, 2, "one band per strategy panel");
    assert.match(collapse(["reproduce", "--seeds", "0"]).stderr, /--seeds: must be ≥ 1/);
  }
});
