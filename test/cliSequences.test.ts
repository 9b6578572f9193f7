import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";
import { freshStore, tempDir } from "./helpers";

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
    for (const profile of ["smoke:", "quick:", "paper:"]) assert.ok(help.stdout.includes(profile), `${name} --help describes ${profile}`);
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

test("a sequence kind from any module runs in the parallel runner's workers, with no registration elsewhere", async () => {
  const { runSequences } = await import("../src/experiments/sequences");
  const { TOY_SEQUENCES } = await import("./toySequenceKind");
  const configs = [0, 1, 2].map((seed) => ({ iterations: 3, seed }));
  const statuses: string[] = [];
  const parallel = await runSequences(TOY_SEQUENCES, configs, { store: freshStore("toy-seqs"), parallel: 2, onStatus: (_, m) => statuses.push(m) });
  const workerPids = new Set(statuses.map((m) => Number(/process (\d+)/.exec(m)?.[1])));
  const workers = [...workerPids].filter((pid) => pid !== process.pid);
  assert.ok(workers.length >= 2, `sequences ran in worker processes: ${statuses.join("; ")}`);
  for (let i = 0; i < configs.length; i++) {
    const here = await TOY_SEQUENCES.run(configs[i], { store: null });
    assert.deepEqual(parallel[i].records, here.records, `sequence ${i}`);
  }
});
