import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { IterationRecord } from "../src/collapse/loop";
import { packageRoot } from "../src/environment";
import { figure9 } from "../src/experiments/linearRegression";
import { runLinearExperiment } from "../src/linear/montecarlo";
import { MAX_PANEL_COLUMNS, logAxisTicks } from "../src/plots/metricFigures";
import { saveFigure } from "../src/plots/plotly";
import { attributeFrequencyFigure } from "../src/vae/figures";
import { tempDir } from "./helpers";

const ROOT = packageRoot();
const PYTHON = path.join(ROOT, ".venv", "bin", "python");
const ATTRIBUTES = ["glasses", "hat", "feminine", "smiling", "longHair", "hair_black", "hair_blond", "hair_brown", "beard", "bald"];

function attributeFigure() {
  const record = (n: number): IterationRecord => ({ iteration: n, trainSize: 1, realInTrain: 1, seconds: 0, metrics: Object.fromEntries(ATTRIBUTES.map((a, i) => [`freq_${a}`, 0.1 + 0.05 * i + 0.01 * n])) });
  const curves = (["replace", "accumulate"] as const).map((strategy) => ({ strategy, records: [1, 2, 3, 4, 5].map(record) }));
  return attributeFrequencyFigure(curves, Object.fromEntries(ATTRIBUTES.map((a, i) => [a, 0.1 + 0.05 * i])));
}

test("the attribute figure wraps its ten panels into rows, x titles on the bottom row only", () => {
  const fig = attributeFigure();
  const layout = fig.layout as Record<string, any>;
  assert.deepEqual([layout.grid.rows, layout.grid.columns], [Math.ceil(ATTRIBUTES.length / MAX_PANEL_COLUMNS), MAX_PANEL_COLUMNS]);
  const titled = ATTRIBUTES.map((_, k) => layout[`xaxis${k === 0 ? "" : k + 1}`].title !== undefined);
  // Bottom of each column: panels 7–10 (the last row holds two, so 7 and 8 end their columns).
  assert.deepEqual(titled, ATTRIBUTES.map((_, k) => k + MAX_PANEL_COLUMNS >= ATTRIBUTES.length));
  assert.ok(layout.height >= 120 + 280 * 3);
});

test("error bands are drawn as lines (no stray markers) and log axes get clean ticks", async () => {
  const result = await runLinearExperiment({ settings: [{ d: 10, T: 100, sigma2: 1 }], strategies: ["replace", "accumulate"], iterations: 8, seeds: 5 }, { store: null });
  const fig = figure9(result);
  const bands = fig.data.filter((t) => t.fill === "toself");
  assert.ok(bands.length > 0);
  for (const b of bands) assert.equal(b.mode, "lines");
  // Short span: 1-2-5 ticks as plain numbers; long span: decades only.
  assert.deepEqual(logAxisTicks(0.12, 0.55), { type: "log", tickmode: "array", tickvals: [0.1, 0.2, 0.5], ticktext: ["0.1", "0.2", "0.5"] });
  assert.deepEqual(logAxisTicks(0.1, 500), { type: "log", dtick: 1, exponentformat: "power" });
});

test("exported PNGs are 300 dpi at a paper's 7-inch text width", { skip: fs.existsSync(PYTHON) ? false : `no ${PYTHON}`, timeout: 120_000 }, async () => {
  const dir = tempDir("export");
  saveFigure(attributeFigure(), dir, "attributes");
  const result = await runLinearExperiment({ settings: [{ d: 10, T: 100, sigma2: 1 }], strategies: ["replace", "accumulate"], iterations: 8, seeds: 5 }, { store: null });
  saveFigure(figure9(result), dir, "figure9");
  const r = spawnSync(PYTHON, ["scripts/export_figures.py", dir, "--formats", "png,pdf"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const info = spawnSync(PYTHON, ["-c", `import sys, json; sys.path.insert(0, "scripts"); from export_figures import png_info; from pathlib import Path; print(json.dumps([png_info(Path(sys.argv[1]) / f"{n}.png") for n in ("attributes", "figure9")]))`, dir], { cwd: ROOT, encoding: "utf8" });
  assert.equal(info.status, 0, info.stderr);
  for (const [width, height, dpi] of JSON.parse(info.stdout) as [number, number, number][]) {
    assert.equal(width, 2100, "7 in × 300 dpi");
    assert.ok(height > 0);
    assert.ok(Math.abs(dpi - 300) < 0.01, `dpi ${dpi}`);
  }
  for (const n of ["attributes", "figure9"]) assert.ok(fs.statSync(path.join(dir, `${n}.pdf`)).size > 1000);
});
