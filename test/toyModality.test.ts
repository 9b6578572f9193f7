import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { main } from "../src/cli";
import { runSequencesLive } from "../src/collapse/live";
import { runSequence } from "../src/collapse/runSequence";
import { registerModality } from "../src/modalities";
import type { NotebookDisplay } from "../src/plots/notebook";
import { RunStore } from "../src/store/runStore";
import { runSweepLocal } from "../src/sweep/local";
import { readSweep } from "../src/sweep/read";
import { expandSweep, parseSweep } from "../src/sweep/spec";
import { ensureSweepDir, manifestOf, sweepDirOf } from "../src/sweep/sweepDir";
import { tempDir } from "./helpers";
import { DIE } from "./toyModality";

// A modality added the way the README says: its spec in a file of its own, and one registration line.
registerModality(DIE);

/** `main(argv)` with what it prints to stdout. */
async function cli(argv: string[]): Promise<{ code: number; stdout: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    return { code: await main(argv), stdout: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

test("a registered toy modality is a CLI command: help, a run, its read-back, a flag's error", async () => {
  assert.match((await cli(["--help"])).stdout, /collapse die \[flags\] +a toy die refit on its own rolls/);
  assert.match((await cli(["die", "--help"])).stdout, /--faces K +sides of the die/);
  const runs = tempDir("toy-cli");
  const first = await cli(["die", "--profile", "smoke", "--strategy", "accumulate", "--json", "--runs-dir", runs]);
  assert.equal(first.code, 0);
  const json = JSON.parse(first.stdout);
  assert.equal(json.iterations.length, 4);
  assert.ok(json.iterations.every((i: { klFromTruth: number }) => Number.isFinite(i.klFromTruth) && i.klFromTruth >= 0));
  const again = JSON.parse((await cli(["die", "--profile", "smoke", "--strategy", "accumulate", "--json", "--runs-dir", runs])).stdout);
  assert.equal(again.resumedFrom, 4, "read back from the run store");
  assert.deepEqual(again.iterations.map((i: { klFromTruth: number }) => i.klFromTruth), json.iterations.map((i: { klFromTruth: number }) => i.klFromTruth));
  const errors: string[] = [];
  const error = console.error;
  console.error = (...a: unknown[]) => void errors.push(a.join(" "));
  try {
    assert.equal((await cli(["die", "--faces", "1", "--runs-dir", runs])).code, 2);
  } finally {
    console.error = error;
  }
  assert.match(errors.join("\n"), /--faces: must be ≥ 2/);
});

test("a toy modality sweeps in worker processes, and its results are read back as the store holds them", async () => {
  const store = new RunStore(tempDir("toy-sweep"));
  const spec = parseSweep("command: die\nprofile: smoke\ngrid:\n  strategy: [replace, accumulate]\nseeds: 2\n", "die.yaml");
  const entries = expandSweep(spec);
  assert.equal(entries.length, 4);
  const dir = sweepDirOf(store, spec, entries);
  ensureSweepDir(dir, manifestOf(spec, entries));
  const statuses: string[] = [];
  const { ran, failed } = await runSweepLocal(DIE, entries, store, dir, { parallel: 2, onStatus: (_, m) => statuses.push(m) });
  assert.deepEqual([ran, failed], [4, []]);
  const pids = new Set(statuses.map((m) => Number(/process (\d+)/.exec(m)?.[1])).filter((pid) => pid !== process.pid));
  assert.ok(pids.size >= 2, `ran in worker processes: ${statuses.join("; ")}`);
  const read = readSweep(dir);
  assert.ok(read.sequences.every((s) => s.finished));
  for (const s of read.sequences) {
    const here = await runSequence(DIE, { ...DIE.profiles.smoke, ...entries[s.index].config }, { store: null });
    assert.deepEqual(
      s.records.map((r) => r.metrics),
      here.records.map((r) => r.metrics),
      `sequence ${s.index}: a worker's records are those of the same sequence run here`,
    );
  }
});

test("collapse reproduce --only <toy modality> draws its replace vs accumulate figure", async () => {
  const out = tempDir("toy-reproduce");
  const { code } = await cli(["reproduce", "--profile", "smoke", "--only", "die", "--out", out, "--runs-dir", tempDir("toy-reproduce-runs")]);
  assert.equal(code, 0);
  const fig = JSON.parse(fs.readFileSync(path.join(out, "die.json"), "utf8"));
  assert.ok(JSON.stringify(fig).includes("KL from the true die"));
  assert.ok(fs.existsSync(path.join(out, "figures.html")));
});

test("the notebooks' live runner trains a toy modality's sequences and fills its progress bar", async () => {
  const updates: number[] = [];
  let liveFigures = 0;
  const nb: NotebookDisplay = {
    show: () => {},
    live: () => ({ update: () => void liveFigures++, done: () => {}, stop: () => {}, clear: () => {} }),
    progress: () => ({ update: (done: number) => void updates.push(done), finish: () => {}, stop: () => {} }),
    table: () => {},
    figureDir: null,
  };
  const configs = (["replace", "accumulate"] as const).map((strategy) => ({ ...DIE.profiles.smoke, strategy }));
  const runs = await runSequencesLive(nb, DIE, configs, { store: new RunStore(tempDir("toy-live")), parallel: 2, liveFigure: "die" });
  assert.deepEqual(
    runs.map((r) => r.records.length),
    [4, 4],
  );
  assert.equal(Math.max(...updates), 8, "every model fit counted");
  assert.ok(liveFigures >= 1, "the live figure was drawn");
});
