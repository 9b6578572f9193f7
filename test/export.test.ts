import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { probeTensorflow } from "../src/backend";
import { packageRoot } from "../src/environment";
import { DataError } from "../src/errors";
import { RUN_COLUMNS, SERIES_COLUMNS, type TidyRow, exportRuns, saveFrameCsv, tidyRows, toCsv, toJsonLines } from "../src/store/export";
import { runsFrame, seriesFrame } from "../src/store/frames";
import { RunStore } from "../src/store/runStore";
import { freshStore, parseCsv, pythonCsvRows, tempDir } from "./helpers";

const BIN = path.join(packageRoot(), "bin", "collapse.js");

function collapse(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}


const TRICKY = 'a, "quoted"\nsecond line';

/**
 * Two kinds, three runs: toy-a/replace (finished, nested config, a tricky string), toy-a/accumulate
 * (unfinished, one more metric and a config field the other lacks), toy-b (records without
 * iteration, an array field, as linear runs store them).
 */
function buildStore(store: RunStore) {
  const replace = store.open("toy-a", { strategy: "replace", seed: 0, note: TRICKY, train: { lr: 0.001, epochs: 2 } });
  for (const iteration of [1, 2]) replace.append({ iteration, trainSize: 10 * iteration, realInTrain: 10, metrics: { testLoss: 1 + iteration / 10 }, seconds: 0.5 });
  replace.finish({ ok: true });
  const accumulate = store.open("toy-a", { strategy: "accumulate", seed: 0, note: "plain", train: { lr: 0.001, epochs: 2 }, extra: true });
  accumulate.append({ iteration: 1, trainSize: 10, realInTrain: 10, metrics: { testLoss: 1.1, precision: 0.5 }, seconds: 0.25, trainingScale: 2, curve: [{ step: 5, metrics: { trainLoss: 2.5, tokens: 40 } }, { step: 10, metrics: { trainLoss: 2 } }] });
  accumulate.close();
  const linear = store.open("toy-b", { d: 3, strategies: ["replace"] });
  linear.append({ seed: 0, testError: [0.1, 0.2] });
  linear.append({ seed: 1, testError: [0.3, 0.4] });
  linear.finish({});
  return { replace: replace.key, accumulate: accumulate.key, linear: linear.key };
}

test("tidyRows: one row per (run, record), run columns, sorted config columns, then iteration, metrics, the rest", () => {
  const store = freshStore("export");
  const keys = buildStore(store);
  const table = tidyRows(store);
  assert.equal(table.rows.length, 5);
  assert.deepEqual(table.skipped, []);
  assert.deepEqual(table.columns, [
    ...RUN_COLUMNS,
    "config.d",
    "config.extra",
    "config.note",
    "config.seed",
    "config.strategies",
    "config.strategy",
    "config.train.epochs",
    "config.train.lr",
    "iteration",
    "metrics.precision",
    "metrics.testLoss",
    "realInTrain",
    "seconds",
    "seed",
    "trainSize",
    "trainingScale",
  ]);
  // Runs by kind, then by creation: replace before accumulate.
  assert.deepEqual(
    table.rows.map((r) => `${r.kind}/${r.run}/${r.iteration ?? r.seed}`),
    [`toy-a/${keys.replace}/1`, `toy-a/${keys.replace}/2`, `toy-a/${keys.accumulate}/1`, `toy-b/${keys.linear}/0`, `toy-b/${keys.linear}/1`],
  );
  const [first, , acc, lin] = table.rows;
  assert.equal(first.finished, true);
  assert.equal(acc.finished, false);
  assert.equal(first["config.train.lr"], 0.001);
  assert.equal(first["config.note"], TRICKY);
  assert.equal(first["metrics.testLoss"], 1.1);
  assert.equal(first["metrics.precision"], undefined, "a metric the run lacks is missing, not zero");
  assert.equal(acc["metrics.precision"], 0.5);
  assert.equal(lin["testError"], undefined, "a record's arrays are not cells of the runs table");
  assert.equal(acc["curve"], undefined);
  assert.equal(lin["config.strategies"], '["replace"]', "a config's arrays stay whole as JSON strings");
  // ... but rows of the long series table: one per element and scalar field.
  assert.deepEqual(table.series.columns, [...SERIES_COLUMNS]);
  assert.deepEqual(
    table.series.rows.map((r) => [r.run, r.record, r.iteration, r.series, r.element, r.step, r.value]),
    [
      [keys.accumulate, 1, 1, "curve.metrics.trainLoss", 0, 5, 2.5],
      [keys.accumulate, 1, 1, "curve.metrics.tokens", 0, 5, 40],
      [keys.accumulate, 1, 1, "curve.metrics.trainLoss", 1, 10, 2],
      [keys.linear, 1, null, "testError", 0, null, 0.1],
      [keys.linear, 1, null, "testError", 1, null, 0.2],
      [keys.linear, 2, null, "testError", 0, null, 0.3],
      [keys.linear, 2, null, "testError", 1, null, 0.4],
    ],
  );
  assert.match(String(first.createdAt), /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(
    table.runs.map((r) => [r.kind, r.records, r.finished]),
    [
      ["toy-a", 2, true],
      ["toy-a", 1, false],
      ["toy-b", 2, true],
    ],
  );
});

test("tidyRows filters by kind and by run key (what a sweep exports)", () => {
  const store = freshStore("export-filter");
  const keys = buildStore(store);
  assert.deepEqual([...new Set(tidyRows(store, { kinds: ["toy-b"] }).rows.map((r) => r.run))], [keys.linear]);
  assert.deepEqual([...new Set(tidyRows(store, { keys: [keys.accumulate, keys.linear] }).rows.map((r) => r.run))], [keys.accumulate, keys.linear]);
  assert.equal(tidyRows(store, { kinds: ["toy-b"], keys: [keys.replace] }).rows.length, 0, "both filters must pass");
  // Only the exported runs' columns: toy-b has no metrics.
  assert.ok(!tidyRows(store, { kinds: ["toy-b"] }).columns.includes("metrics.testLoss"));
});

test("the CSV parses back (commas, quotes, newlines in cells) and equals the JSON Lines rows", () => {
  const store = freshStore("export-csv");
  buildStore(store);
  const table = tidyRows(store);
  const csv = parseCsv(toCsv(table));
  assert.deepEqual(csv[0], table.columns);
  assert.equal(csv.length, 1 + table.rows.length);
  for (const line of csv) assert.equal(line.length, table.columns.length, "every row has every column");
  const jsonl = toJsonLines(table)
    .split("\n")
    .filter((l) => l)
    .map((l) => JSON.parse(l) as TidyRow);
  assert.equal(jsonl.length, table.rows.length);
  for (const [i, row] of jsonl.entries()) {
    assert.deepEqual(Object.keys(row), table.columns, "JSON Lines rows hold every column, in order");
    assert.deepEqual(
      csv[i + 1],
      table.columns.map((c) => (row[c] === null ? "" : String(row[c]))),
      `row ${i}: CSV and JSON Lines agree`,
    );
  }
  assert.equal(jsonl[0]["config.note"], TRICKY);
  assert.equal(csv[1][table.columns.indexOf("config.note")], TRICKY);
  assert.equal(jsonl[0]["metrics.precision"], null);
  assert.equal(csv[1][table.columns.indexOf("metrics.precision")], "");
});

test("a corrupt run is skipped, naming the file; the others export; strict throws its DataError", () => {
  const store = freshStore("export-corrupt");
  const keys = buildStore(store);
  const badConfig = path.join(store.root, "toy-a", keys.accumulate, "config.json");
  fs.writeFileSync(badConfig, "{ not json");
  const badMetrics = path.join(store.root, "toy-b", keys.linear, "metrics.jsonl");
  fs.writeFileSync(badMetrics, '{"seed":0}\nnot json\n{"seed":2}\n');
  // A torn last line is a crash mid-append, not corruption: ignored, as Run.records does.
  fs.appendFileSync(path.join(store.root, "toy-a", keys.replace, "metrics.jsonl"), '{"iteration":3,"met');
  // Directories that are not runs: one being created (no config.json yet), and the sweeps folder.
  fs.mkdirSync(path.join(store.root, "toy-a", "0000000000000000", "artifacts"), { recursive: true });
  fs.mkdirSync(path.join(store.root, "sweeps", "grid"), { recursive: true });
  fs.writeFileSync(path.join(store.root, "sweeps", "grid", "sweep.json"), "{}");

  const table = tidyRows(store);
  assert.deepEqual(
    table.skipped.map((s) => s.path),
    [badConfig, badMetrics],
  );
  assert.match(table.skipped[1].reason, /line 2 is not valid JSON/);
  assert.deepEqual([...new Set(table.rows.map((r) => r.run))], [keys.replace]);
  assert.equal(table.rows.length, 2);

  assert.throws(
    () => tidyRows(store, { strict: true }),
    (e) => e instanceof DataError && e.path === badConfig,
  );
});

test("collapse export writes runs.csv, series.csv and their JSON Lines and says what it wrote", () => {
  const store = freshStore("export-cli");
  const keys = buildStore(store);
  fs.writeFileSync(path.join(store.root, "toy-b", keys.linear, "config.json"), "[]");
  const out = tempDir("export-out");
  const r = collapse(["export", "--runs-dir", store.root, "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^2 runs \(1 finished\) .*: 3 rows, \d+ columns, 3 series rows; 1 corrupt runs skipped/);
  for (const f of ["runs.csv", "runs.jsonl", "series.csv", "series.jsonl"]) assert.ok(r.stdout.includes(path.join(out, f)), f);
  assert.match(r.stderr, new RegExp(`skipped .*toy-b.*${keys.linear}.*config\\.json: holds no config object`));
  const csv = parseCsv(fs.readFileSync(path.join(out, "runs.csv"), "utf8"));
  assert.equal(csv.length, 4);
  assert.equal(fs.readFileSync(path.join(out, "runs.jsonl"), "utf8").trim().split("\n").length, 3);
  for (const rows of [parseCsv(fs.readFileSync(path.join(out, "series.csv"), "utf8")), pythonCsvRows(path.join(out, "series.csv"))]) {
    assert.deepEqual(rows[0], [...SERIES_COLUMNS]);
    assert.equal(rows.length, 1 + 3, "the accumulate run's curve: two elements, three values");
    for (const row of rows) assert.equal(row.length, SERIES_COLUMNS.length);
  }
  assert.equal(fs.readFileSync(path.join(out, "series.jsonl"), "utf8").trim().split("\n").length, 3);
  assert.deepEqual(
    fs.readdirSync(out).sort(),
    ["runs.csv", "runs.jsonl", "series.csv", "series.jsonl"],
    "no temporary files are left",
  );

  const only = collapse(["export", "--runs-dir", store.root, "--out", out, "--format", "jsonl", "--kind", "toy-a", "--run", keys.accumulate]);
  assert.equal(only.code, 0, only.stderr);
  assert.equal(fs.readFileSync(path.join(out, "runs.jsonl"), "utf8").trim().split("\n").length, 1);
});

test("collapse export: a bad --format, an unknown --kind or --run are usage errors", () => {
  const store = freshStore("export-usage");
  buildStore(store);
  const out = tempDir("export-usage-out");
  const format = collapse(["export", "--runs-dir", store.root, "--out", out, "--format", "csv,parquet"]);
  assert.equal(format.code, 2);
  assert.match(format.stderr, /--format: unknown format "parquet" \(known: csv, jsonl, tensorboard\)/);
  const kind = collapse(["export", "--runs-dir", store.root, "--out", out, "--kind", "toy-c"]);
  assert.equal(kind.code, 2);
  assert.match(kind.stderr, /--kind: no runs of kind "toy-c" .*\(kinds there: toy-a, toy-b\)/);
  const run = collapse(["export", "--runs-dir", store.root, "--out", out, "--run", "feedfacefeedface"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /--run: no run feedfacefeedface/);
  assert.equal(collapse(["export", "--runs-dir", path.join(out, "nowhere"), "--out", out]).code, 2);
  assert.deepEqual(fs.readdirSync(out), [], "nothing is written on a usage error");
  const help = collapse(["export", "--help"]);
  assert.equal(help.code, 0);
  for (const flag of ["--runs-dir", "--out", "--format", "--kind", "--run", "--strict"]) assert.ok(help.stdout.includes(flag), flag);
  assert.match(collapse(["--help"]).stdout, /collapse export/);
});

const tensorflow = probeTensorflow();

test(
  "collapse export --format tensorboard writes one events file per run, holding the scalar tags",
  { skip: !tensorflow.available && `the native tensorflow backend is not available here (${tensorflow.reason})` },
  async () => {
    const store = freshStore("export-tb");
    const keys = buildStore(store);
    const out = tempDir("export-tb-out");
    // Once through the library (in this process), once through the CLI over it: the second replaces the first.
    const result = await exportRuns(store, { out, formats: ["tensorboard"], kinds: ["toy-a"] });
    assert.equal(result.tensorboard!.logdirs.length, 2);
    const r = collapse(["export", "--runs-dir", store.root, "--out", out, "--format", "tensorboard"]);
    assert.equal(r.code, 0, r.stderr);
    const tb = path.join(out, "tensorboard");
    // toy-a's runs differ in strategy, note and extra: the label names them; toy-b has one run, just its key.
    const dirs = fs.readdirSync(tb, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    assert.equal(dirs.length, 3, `one events file per run: ${dirs.map((d) => d.name).join(", ")}`);
    const replaceDir = fs.readdirSync(path.join(tb, "toy-a")).find((d) => d.endsWith(keys.replace))!;
    assert.match(replaceDir, /strategy=replace/);
    assert.deepEqual(fs.readdirSync(path.join(tb, "toy-b")), [keys.linear]);
    const files = fs.readdirSync(path.join(tb, "toy-a", replaceDir));
    assert.equal(files.length, 1, "the earlier export's events file was replaced, not added to");
    assert.match(files[0], /^events\.out\.tfevents\./);
    const events = fs.readFileSync(path.join(tb, "toy-a", replaceDir, files[0]));
    assert.ok(events.length > 100, `events file has ${events.length} bytes`);
    for (const tag of ["metrics/testLoss", "trainSize", "seconds"]) assert.ok(events.includes(tag), `events file holds the tag ${tag}`);
    assert.ok(!events.includes("config/"), "config fields are not scalars");
    assert.ok(!fs.readdirSync(out).some((f) => f.includes(".tmp-")), "no temporary directory is left");
  },
);

test("frameToCsv / saveFrameCsv: a data frame through the one CSV writer, quoted where needed, NaN as an empty cell", () => {
  const frame = { columns: ["name", "value", "ok"], values: [["plain", 1.5, true], ['a, "quoted" name', Number.NaN, false], ["line\nbreak", null, true]] };
  const file = saveFrameCsv(frame, path.join(tempDir("frame-csv"), "sub", "t.csv"));
  for (const rows of [parseCsv(fs.readFileSync(file, "utf8")), pythonCsvRows(file)]) {
    assert.deepEqual(rows, [
      ["name", "value", "ok"],
      ["plain", "1.5", "true"],
      ['a, "quoted" name', "", "false"],
      ["line\nbreak", "", "true"],
    ]);
  }
});

test("runsFrame / seriesFrame: the export's tables as danfojs DataFrames, for grouping in a notebook", () => {
  const store = freshStore("export-frame");
  const keys = buildStore(store);
  const table = tidyRows(store);
  const frame = runsFrame(store.root);
  assert.deepEqual(frame.columns, table.columns);
  assert.deepEqual(frame.shape, [table.rows.length, table.columns.length]);
  const testLoss = frame.column("metrics.testLoss").values as (number | null)[];
  assert.deepEqual(testLoss.slice(0, 3), [1.1, 1.2, 1.1]);
  assert.ok(testLoss.slice(3).every((v) => v === null || Number.isNaN(v)), "runs without the metric have it missing");
  const only = runsFrame(store, { keys: [keys.replace] });
  assert.deepEqual(only.shape[0], 2);
  const series = seriesFrame(store, { kinds: ["toy-a"] });
  assert.deepEqual(series.columns, [...SERIES_COLUMNS]);
  assert.deepEqual(series.column("value").values, [2.5, 40, 2]);
  // danfojs reserves some names (a column called "index" breaks its row selection): both frames select.
  assert.equal(series.head(2).shape[0], 2);
  assert.equal(frame.head(2).shape[0], 2);
});
