import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { IterationRecord } from "../src/collapse/loop";
import type { Strategy } from "../src/collapse/strategies";
import { type LmSequenceConfig, lmRunKey } from "../src/index";
import {
  appendixSequences,
  figure10Settings,
  figure11Settings,
  formatParameters,
  lmAppendixConfig,
  markdownTable,
  saveTable2,
  table2Display,
  table2Frame,
  table2Rows,
} from "../src/experiments/lmAppendix";
import { runsFrame } from "../src/store/frames";
import { canonicalJson } from "../src/store/runStore";
import { configErrorField, parseCsv, pythonCsvRows, tempDir } from "./helpers";

const QUICK = lmAppendixConfig("quick");

test("appendixSequences: each needed sequence once, replace followed to the long iteration where a row asks for it", () => {
  const seqs = appendixSequences(QUICK);
  const keys = seqs.map((s) => canonicalJson(lmRunKey(s)));
  assert.equal(new Set(keys).size, keys.length, "no sequence twice");
  const find = (setting: LmSequenceConfig, strategy: Strategy) => seqs.find((s) => canonicalJson(lmRunKey(s)) === canonicalJson(lmRunKey({ ...setting, strategy })));
  const rows = table2Rows(QUICK);
  assert.deepEqual(rows.map((r) => `${r.architecture}|${r.variant}`), ["GPT-2|", "GPT-2|temperature 0.3", `GPT-2|small dataset (1/${QUICK.smallDatasetDivisor})`, `GPT-2|small dataset, ${QUICK.smallDatasetEpochs} epochs`, "Llama-2|", "Llama-2|"]);
  assert.equal(rows[2].setting.trainTokens, QUICK.base.trainTokens! / QUICK.smallDatasetDivisor);
  assert.equal(rows[3].setting.trainTokens, rows[2].setting.trainTokens);
  assert.equal(rows[3].setting.train.epochs, QUICK.smallDatasetEpochs);
  const [short, long] = [QUICK.shortIterations, QUICK.longIterations];
  assert.equal(find(rows[0].setting, "replace")?.iterations, long, "GPT-2 replace to the long iteration (the paper: t=10)");
  assert.equal(find(rows[0].setting, "accumulate")?.iterations, short);
  assert.equal(find(rows[0].setting, "replace-multiple")?.iterations, short);
  assert.equal(find(rows[1].setting, "replace-multiple"), undefined, "temperature 0.3: replace-multiple n/a, as in the paper");
  assert.equal(find(rows[3].setting, "replace")?.iterations, short, "the more-epochs row stops replace at the short iteration");
  for (const r of rows.slice(4)) assert.equal(find(r.setting, "accumulate")?.iterations, short, r.setting.model);
  // Figure 10's low temperature and Figure 11's first-model epochs are sequences too (both strategies).
  for (const { setting } of [...figure10Settings(QUICK), ...figure11Settings(QUICK)]) {
    for (const s of ["replace", "accumulate"] as const) assert.ok(find(setting, s), `${JSON.stringify(setting.firstIterationEpochs)} ${s}`);
  }
  assert.deepEqual(figure11Settings(QUICK).map((f) => f.label), ["first model: 1 epoch", "first model: 2 epochs"]);
  assert.equal(figure11Settings(QUICK)[1].setting, QUICK.base, "the base's own epochs are the base sequence");
  const paper = lmAppendixConfig("paper");
  assert.deepEqual([paper.smallDatasetDivisor, paper.smallDatasetEpochs, paper.lowTemperature], [5, 3, 0.3], "the paper's ablations");
  assert.deepEqual(figure11Settings(paper).map((f) => f.label), ["first model: 0.25 epochs", "first model: 0.5 epochs", "first model: 1 epoch", "first model: 2 epochs"]);
  // the reviewers' controls on the base setting, to the short iteration
  for (const s of QUICK.controls) assert.ok(find(QUICK.base, s), `control ${s}`);
  assert.equal(find(QUICK.base, "replace-matched-compute")?.iterations, short);
  assert.equal(find(QUICK.base, "accumulate-subsample")?.iterations, short);
  // 6 rows: 3+2+3+2+2·2 = 14 table sequences, + 2 for Figure 11, + 2 controls; Figure 10 adds none at quick.
  assert.equal(seqs.length, 18);
  // At paper, Figure 10 runs accumulate as far as replace, at both temperatures.
  const paperSeqs = appendixSequences(paper);
  for (const { setting } of figure10Settings(paper)) {
    for (const s of ["replace", "accumulate"] as const) {
      assert.equal(paperSeqs.find((q) => canonicalJson(lmRunKey(q)) === canonicalJson(lmRunKey({ ...setting, strategy: s })))?.iterations, paper.longIterations, `paper ${s}`);
    }
  }
});

test("appendixSequences rejects a bad appendix config naming the field", () => {
  assert.equal(configErrorField(() => appendixSequences({ ...QUICK, longIterations: QUICK.shortIterations - 1 })), "longIterations");
  assert.equal(configErrorField(() => appendixSequences({ ...QUICK, firstIterationEpochs: [1, 0] })), "firstIterationEpochs[1]");
  assert.equal(configErrorField(() => appendixSequences({ ...QUICK, strategies: [] })), "strategies");
  assert.equal(configErrorField(() => appendixSequences({ ...QUICK, controls: [] })), "controls");
  assert.equal(configErrorField(() => appendixSequences({ ...QUICK, figure10Iterations: QUICK.longIterations + 1 })), "figure10Iterations");
});

/** A finished sequence with made-up cross-entropies (only what the table reads: config, records, facts). */
function fakeResult(config: LmSequenceConfig, ce: number[]): { config: LmSequenceConfig; records: IterationRecord[]; facts: { parameters: number } } {
  const records = ce.map((v, i): IterationRecord => ({ iteration: i + 1, trainSize: 1, realInTrain: 1, metrics: { testCrossEntropy: v }, seconds: 0 }));
  return { config, records, facts: { parameters: 182016 } };
}

test("table2Frame, table2Display, markdown and CSV: the paper's layout, n/a where a row does not run a column", () => {
  const c = { ...QUICK, shortIterations: 4, longIterations: 10, llamaModels: [] };
  const [gpt2, lowT] = table2Rows(c);
  // Built from the runs frame of the results, as the notebook and `collapse reproduce` do.
  const frame = table2Frame(
    c,
    runsFrame([
      fakeResult({ ...gpt2.setting, strategy: "replace", iterations: 10 }, [2, 2.2, 2.4, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0, 3.25]),
      fakeResult({ ...gpt2.setting, strategy: "accumulate", iterations: 4 }, [2, 1.98, 1.95, 1.9]),
      fakeResult({ ...gpt2.setting, strategy: "replace-multiple", iterations: 4 }, [2, 2.1, 2.2, 2.3]),
      fakeResult({ ...lowT.setting, strategy: "replace", iterations: 10 }, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    ]),
  );
  assert.deepEqual(frame.columns, ["model", "t=1", "t=4 acc", "t=4 acc Δ", "t=4 repl", "t=4 repl Δ", "t=10 repl", "t=10 repl Δ", "t=4 repl-multiple", "t=4 repl-multiple Δ"]);
  assert.equal(frame.shape[0], 4);
  const first = (frame.values as unknown as unknown[][])[0];
  assert.deepEqual(first.slice(0, 3), ["GPT-2 (182k)", 2, 1.9]);
  assert.ok(Math.abs((first[3] as number) + 0.1) < 1e-12, "accumulate's Δ at t=4");
  const shown = table2Display(frame);
  assert.deepEqual(shown[0], { model: "GPT-2 (182k)", "t=1": "2.00", "t=4 acc": "1.90 (−0.10)", "t=4 repl": "2.50 (+0.50)", "t=10 repl": "3.25 (+1.25)", "t=4 repl-multiple": "2.30 (+0.30)" });
  assert.equal(shown[1]["t=4 repl-multiple"], "n/a", "the paper runs no replace-multiple at temperature 0.3");
  assert.equal(shown[1]["t=4 acc"], "n/a", "a sequence that was not run");
  assert.equal(shown[1].model, "GPT-2 (182k), temperature 0.3");
  assert.equal(shown[2].model, `GPT-2 (?), small dataset (1/${QUICK.smallDatasetDivisor})`, "no result: parameters unknown");

  const md = markdownTable(shown);
  const lines = md.trim().split("\n");
  assert.equal(lines.length, 2 + 4);
  assert.equal(lines[0], "| model | t=1 | t=4 acc | t=4 repl | t=10 repl | t=4 repl-multiple |");
  assert.match(lines[2], /^\| GPT-2 \(182k\) \| 2\.00 \| 1\.90 \(−0\.10\) \|/);

  const dir = tempDir("table2");
  const files = saveTable2(frame, dir);
  // Read back by two readers independent of the writer: every row has the header's fields, the row
  // names that hold a comma included, and a cell the paper leaves out is empty.
  for (const rows of [parseCsv(fs.readFileSync(files.csv, "utf8")), pythonCsvRows(files.csv)]) {
    assert.deepEqual(rows[0], frame.columns);
    assert.equal(rows.length, 5);
    for (const r of rows) assert.equal(r.length, frame.columns.length, `fields in ${JSON.stringify(r)}`);
    assert.equal(rows[2][0], "GPT-2 (182k), temperature 0.3");
    assert.equal(rows[1][2], "1.9", "full-precision numbers in the CSV");
    assert.ok(rows.some((r) => r.includes("")), "missing cells are empty, not NaN");
    assert.ok(!rows.some((r) => r.includes("NaN")));
  }
  assert.equal(fs.readFileSync(files.markdown, "utf8"), md);
  assert.deepEqual(fs.readdirSync(dir).sort(), ["table2.csv", "table2.md"], "no temporary files left");
  assert.equal(path.dirname(files.csv), dir);
});

test("formatParameters writes counts the way the paper does", () => {
  assert.equal(formatParameters(8_890_880), "9M");
  assert.equal(formatParameters(125_553_408), "126M");
  assert.equal(formatParameters(182_016), "182k");
  assert.equal(formatParameters(512), "512");
});
